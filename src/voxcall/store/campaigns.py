"""Campaigns (api.md §8): the campaign row, its list of numbers stored in bulk, and the
release of the list's next numbers into the call queue, one transaction each."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import count
from typing import IO, Any

import numpy as np
import numpy.typing as npt
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import Connection, and_, insert, select, update

from voxcall.billing.reservation import affordable
from voxcall.domain.calls import CAMPAIGN_CANCELLED, Call, CallClass, CallStatus, NewCall
from voxcall.domain.campaigns import (
    Campaign,
    CampaignPolicy,
    CampaignState,
    ListSkips,
    NewCampaign,
    RejectedLine,
    Skips,
    release_plan,
    released_call_expiry,
)
from voxcall.domain.interaction import MachineDetection
from voxcall.store import schema as t
from voxcall.store.call_queue import expire_queued
from voxcall.store.call_rows import call_from_row, call_row, gather_column, gather_from_column
from voxcall.store.campaign_counts import final_counts
from voxcall.store.database import Database, new_id
from voxcall.store.notify import announce

# An import holds the write lock for its bulk insert: a million rows take seconds, not the
# few a request may wait.
IMPORT_TIMEOUT = 300.0
REPORT_PAGE = 5000  # list rows read per transaction of a streamed report

ListRow = tuple[int, str, str]  # (line in the file, national form, E.164)


@dataclass(frozen=True, slots=True)
class ListBatch:
    """A batch of a campaign's list rows in list order, a column each: a million rows are
    written without a Python object each."""

    lines: npt.NDArray[np.int64]  # in the file
    national: npt.NDArray[np.str_]
    e164: npt.NDArray[np.str_]

    @classmethod
    def of(cls, rows: Sequence[ListRow]) -> ListBatch:
        lines, national, e164 = zip(*rows, strict=True) if rows else ((), (), ())
        return cls(
            np.array(lines, dtype=np.int64),
            np.array(national, dtype=np.str_),
            np.array(e164, dtype=np.str_),
        )

    def __len__(self) -> int:
        return len(self.lines)


ListRows = Iterable[ListBatch]  # a list's rows in order, a batch at a time


class EmptyList(Exception):
    """A campaign's list held no row; nothing was stored."""


@dataclass(frozen=True, slots=True)
class ReportRow:
    national_number: str
    call: Call | None  # None: not released yet


@dataclass(frozen=True, slots=True)
class Released:
    count: int
    no_balance: bool
    finished: bool


class Campaigns(Database):
    """Campaigns, their lists, and the release of their numbers into the call queue."""

    def create_campaign(
        self, new: NewCampaign, rows: ListRows, skips: Callable[[], ListSkips]
    ) -> Campaign:
        """Store the campaign and every row of its list in one transaction: once this
        returns, the whole list is on disk; a failure (or a crash) leaves none of it.

        `rows` are read a batch at a time as they are written (COPY on PostgreSQL, which
        other writers do not wait for); SQLite, which has one writer, first spools them to a
        temporary file, so that its lock is not held while they are computed. `skips` is
        asked once every row is read. EmptyList, and nothing stored, when there is no row.
        """
        with contextlib.ExitStack() as stack:
            if self._one_writer is not None:
                rows = stack.enter_context(_spooled(rows))
            with self._write(timeout=IMPORT_TIMEOUT) as conn:
                seq = conn.execute(
                    insert(t.campaigns)
                    .values(
                        id=new.id,
                        project_id=new.project_id,
                        name=new.name,
                        **_policy_columns(new.policy),
                        state=CampaignState.ACTIVE.value,
                        total=0,
                        released=0,
                        next_release_at=0.0,
                        no_balance=False,
                        skipped="{}",
                        rejected="[]",
                        created_at=new.created_at,
                    )
                    .returning(t.campaigns.c.seq)
                ).scalar_one()
                total = bulk_insert_list(conn, seq, rows)
                if total == 0:
                    raise EmptyList
                skipped, rejected = skips()
                conn.execute(
                    update(t.campaigns)
                    .where(t.campaigns.c.seq == seq)
                    .values(
                        total=total,
                        skipped=json.dumps(dataclasses.asdict(skipped)),
                        rejected=json.dumps([dataclasses.asdict(r) for r in rejected]),
                    )
                )
                announce(conn)  # the workers' releasers start it
                return _with_counts(conn, _campaign_row(conn, t.campaigns.c.seq == seq))

    def get_campaign(self, project_id: str, campaign_id: str) -> Campaign | None:
        with self._read() as conn:
            row = _campaign_row(conn, _owned(project_id, campaign_id))
            return _with_counts(conn, row) if row is not None else None

    def list_campaigns(
        self, project_id: str, *, limit: int, before: str | None = None
    ) -> list[Campaign] | None:
        """The project's campaigns, newest first, older than `before` (None: that campaign
        does not exist)."""
        query = select(t.campaigns).where(t.campaigns.c.project_id == project_id)
        with self._read() as conn:
            if before is not None:
                seq = conn.execute(
                    select(t.campaigns.c.seq).where(_owned(project_id, before))
                ).scalar()
                if seq is None:
                    return None
                query = query.where(t.campaigns.c.seq < seq)
            rows = conn.execute(query.order_by(t.campaigns.c.seq.desc()).limit(limit)).all()
            return [_with_counts(conn, r._mapping) for r in rows]

    def open_campaigns(self, now: float) -> list[Campaign]:
        """Campaigns whose numbers may be released now (no counts: the releaser needs none)."""
        with self._read() as conn:
            rows = conn.execute(
                select(t.campaigns)
                .where(
                    t.campaigns.c.finished_at.is_(None),
                    t.campaigns.c.state == CampaignState.ACTIVE.value,
                    t.campaigns.c.start_at <= int(now),
                )
                .order_by(t.campaigns.c.seq)
            ).all()
        return [_campaign(r._mapping) for r in rows]

    def set_campaign_state(
        self, project_id: str, campaign_id: str, state: CampaignState
    ) -> Campaign | None:
        """Pause, resume or cancel. Cancelling expires every call of the campaign waiting for
        its next attempt (an attempt on the line ends as it would); a finished or cancelled
        campaign does not change."""
        allowed_from = {
            CampaignState.PAUSED: (CampaignState.ACTIVE,),
            CampaignState.ACTIVE: (CampaignState.PAUSED,),
            CampaignState.CANCELLED: (CampaignState.ACTIVE, CampaignState.PAUSED),
        }[state]
        now = int(time.time())
        with self._write() as conn:
            row = _campaign_row(conn, _owned(project_id, campaign_id), lock=True)
            if row is None:
                return None
            if row["finished_at"] is None and CampaignState(row["state"]) in allowed_from:
                values: dict[str, Any] = {"state": state.value}
                if state is CampaignState.CANCELLED:
                    values["finished_at"] = now
                    expire_queued(conn, t.calls.c.campaign_id == campaign_id, CAMPAIGN_CANCELLED)
                conn.execute(
                    update(t.campaigns).where(t.campaigns.c.seq == row["seq"]).values(**values)
                )
                row = _campaign_row(conn, t.campaigns.c.seq == row["seq"])
                assert row is not None
            return _with_counts(conn, row)

    def release_campaign(self, campaign_id: str, now: float, *, channel_cap: int) -> Released:
        """Move the campaign's next numbers into the call queue, each reserving the most it
        can cost, within `channel_cap` calls in the queue at once and its callsPerMinute.

        One transaction marks them released (the `released` count) and queues their calls,
        so a crash releases each number once or not at all. With nothing left to release
        and no call of it unfinished, the campaign is finished.
        """
        with self._write() as conn:
            row = _campaign_row(conn, t.campaigns.c.id == campaign_id, lock=True)
            if (
                row is None
                or row["finished_at"] is not None
                or row["state"] != CampaignState.ACTIVE.value
                or now < row["start_at"]
            ):
                return Released(0, no_balance=False, finished=False)
            finals, _ = final_counts(conn, campaign_id)
            in_flight = row["released"] - sum(finals.values())
            ended = now >= row["end_at"]
            waiting = 0 if ended else row["total"] - row["released"]
            if waiting == 0:
                if in_flight == 0:
                    conn.execute(
                        update(t.campaigns)
                        .where(t.campaigns.c.seq == row["seq"])
                        .values(finished_at=int(now), no_balance=False)
                    )
                return Released(0, no_balance=False, finished=in_flight == 0)
            plan = release_plan(
                waiting=waiting,
                in_flight=in_flight,
                channel_cap=channel_cap,
                calls_per_minute=row["calls_per_minute"],
                next_release_at=row["next_release_at"],
                now=now,
            )
            count = _hold_affordable(conn, row, plan.count)
            no_balance = plan.count > 0 and count == 0
            flag = no_balance if plan.count else bool(row["no_balance"])
            if count == 0 and flag == bool(row["no_balance"]):
                # nothing changes: no write (the releaser asks every second)
                return Released(0, no_balance=no_balance, finished=False)
            if count:
                _queue_calls(conn, row, count, now)
            conn.execute(
                update(t.campaigns)
                .where(t.campaigns.c.seq == row["seq"])
                .values(
                    released=row["released"] + count,
                    next_release_at=plan.next_release_at(count),
                    no_balance=flag,
                    started_at=row["started_at"] or (int(now) if count else None),
                )
            )
            return Released(count, no_balance=no_balance, finished=False)

    def campaign_call_page(
        self,
        project_id: str,
        campaign_id: str,
        *,
        limit: int,
        after: str | None = None,
        status: CallStatus | None = None,
    ) -> list[Call] | None:
        """The campaign's released calls in list order after the call `after` (None: no
        such campaign, or `after` is not one of its calls)."""
        where = [t.calls.c.campaign_id == campaign_id, t.calls.c.project_id == project_id]
        if status is not None:
            where.append(t.calls.c.status == status.name)
        with self._read() as conn:
            if _campaign_row(conn, _owned(project_id, campaign_id)) is None:
                return None
            if after is not None:
                index = conn.execute(
                    select(t.calls.c.campaign_index).where(
                        t.calls.c.id == after, t.calls.c.campaign_id == campaign_id
                    )
                ).scalar()
                if index is None:
                    return None
                where.append(t.calls.c.campaign_index > index)
            rows = conn.execute(
                select(t.calls).where(*where).order_by(t.calls.c.campaign_index).limit(limit)
            ).all()
        return [call_from_row(r._mapping) for r in rows]

    def campaign_report(self, campaign: Campaign) -> Iterator[ReportRow]:
        """Every number of the campaign's list in list order with its call, read a page per
        transaction so that a report of a million rows streams."""
        position = -1
        while True:
            with self._read() as conn:
                seq = conn.execute(
                    select(t.campaigns.c.seq).where(t.campaigns.c.id == campaign.id)
                ).scalar_one()
                rows = conn.execute(
                    select(
                        t.campaign_numbers.c.position, t.campaign_numbers.c.national_number, t.calls
                    )
                    .select_from(
                        t.campaign_numbers.outerjoin(
                            t.calls,
                            and_(
                                t.calls.c.campaign_id == campaign.id,
                                t.calls.c.campaign_index == t.campaign_numbers.c.position,
                            ),
                        )
                    )
                    .where(
                        t.campaign_numbers.c.campaign_seq == seq,
                        t.campaign_numbers.c.position > position,
                    )
                    .order_by(t.campaign_numbers.c.position)
                    .limit(REPORT_PAGE)
                ).all()
            for r in rows:
                m = r._mapping
                call = call_from_row(m) if m["id"] is not None else None
                yield ReportRow(m["national_number"], call)
            if len(rows) < REPORT_PAGE:
                return
            position = rows[-1]._mapping["position"]


@contextlib.contextmanager
def _spooled(rows: ListRows) -> Iterator[ListRows]:
    """`rows` all read into a temporary file first (each batch's columns as numpy writes
    them), then read back from it."""
    with tempfile.TemporaryFile() as staged:
        for batch in rows:
            for column in (batch.lines, batch.national, batch.e164):
                np.save(staged, column, allow_pickle=False)
        staged.seek(0)
        yield _unspooled(staged)


def _unspooled(staged: IO[bytes]) -> Iterator[ListBatch]:
    while True:
        try:
            lines = np.load(staged, allow_pickle=False)
        except EOFError:  # no batch left
            return
        national, e164 = (np.load(staged, allow_pickle=False) for _ in range(2))
        yield ListBatch(lines, national, e164)


def bulk_insert_list(conn: Connection, campaign_seq: int, rows: ListRows) -> int:
    """Store a campaign's list rows in list order on the driver's own connection
    (SQLAlchemy's parameter handling would cost more than the insert): on PostgreSQL one
    COPY fed a batch at a time, so that the server writes while the next batch is read; on
    SQLite executemany a batch. How many rows were stored."""
    driver = conn.connection.dbapi_connection
    assert driver is not None
    total = 0
    # the drivers' own calls (psycopg's copy, sqlite3's executemany of an iterator), which
    # SQLAlchemy's DB-API protocol does not type
    cursor: Any = driver.cursor()
    try:
        if conn.dialect.name == "postgresql":
            row = f"{campaign_seq}\t{{}}\t{{}}\t{{}}\t{{}}\n"
            # a thread of psycopg's sends each batch while the next is read
            with cursor.copy(_COPY_LIST, writer=QueuedLibpqWriter(cursor)) as copy:
                for batch in rows:
                    copy.write("".join(map(row.format, count(total), *_columns(batch))))
                    total += len(batch)
        else:
            # the list's key in the statement: one parameter fewer a row
            insert_list = f"{_INSERT_LIST} ({campaign_seq}, ?, ?, ?, ?)"
            for batch in rows:
                cursor.executemany(insert_list, zip(count(total), *_columns(batch)))
                total += len(batch)
    finally:
        cursor.close()
    return total


def _columns(batch: ListBatch) -> tuple[list[int], list[str], list[str]]:
    return batch.lines.tolist(), batch.national.tolist(), batch.e164.tolist()


_LIST_COLUMNS = "campaign_seq, position, line, national_number, e164"
_COPY_LIST = f"COPY campaign_numbers ({_LIST_COLUMNS}) FROM STDIN"
_INSERT_LIST = f"INSERT INTO campaign_numbers ({_LIST_COLUMNS}) VALUES"


def _owned(project_id: str, campaign_id: str) -> Any:
    return and_(t.campaigns.c.id == campaign_id, t.campaigns.c.project_id == project_id)


def _campaign_row(conn: Connection, where: Any, *, lock: bool = False) -> Mapping[Any, Any] | None:
    query = select(t.campaigns).where(where)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    return row._mapping if row is not None else None


def _hold_affordable(conn: Connection, campaign: Mapping[Any, Any], wanted: int) -> int:
    """How many of `wanted` calls the project's available balance covers; their
    reservation is taken here, in the transaction that queues them."""
    each: int = campaign["reservation_milli"]
    if wanted == 0 or each == 0:  # nothing to hold: the balance need not be read
        return wanted
    project = conn.execute(
        select(t.projects.c.balance_milli, t.projects.c.reserved_milli)
        .where(t.projects.c.id == campaign["project_id"])
        .with_for_update()
    ).one()
    count = affordable(wanted, project.balance_milli - project.reserved_milli, each)
    if count:
        conn.execute(
            update(t.projects)
            .where(t.projects.c.id == campaign["project_id"])
            .values(reserved_milli=t.projects.c.reserved_milli + count * each)
        )
    return count


def _queue_calls(conn: Connection, campaign: Mapping[Any, Any], count: int, now: float) -> None:
    numbers = conn.execute(
        select(t.campaign_numbers)
        .where(
            t.campaign_numbers.c.campaign_seq == campaign["seq"],
            t.campaign_numbers.c.position >= campaign["released"],
        )
        .order_by(t.campaign_numbers.c.position)
        .limit(count)
    ).all()
    request_date = int(now)
    expires_at = released_call_expiry(request_date, campaign["end_at"])
    conn.execute(
        insert(t.calls),
        [
            call_row(
                NewCall(
                    id=new_id(),
                    project_id=campaign["project_id"],
                    campaign_id=campaign["id"],
                    voice_id=campaign["voice_id"],
                    national_number=n.national_number,
                    e164=n.e164,
                    dialer_id=campaign["dialer_id"],
                    retry_count=campaign["retry_count"],
                    retry_interval=campaign["retry_interval"],
                    request_date=request_date,
                    expires_at=expires_at,
                    reserved_milli=campaign["reservation_milli"],
                    call_class=CallClass.CAMPAIGN,
                    gather=gather_from_column(campaign["gather"]),
                    machine_detection=MachineDetection(campaign["machine_detection"]),
                ),
                n.position,
                now,
            )
            for n in numbers
        ],
    )
    announce(conn)


def _policy_columns(policy: CampaignPolicy) -> dict[str, Any]:
    return {
        "voice_id": policy.voice_id,
        "dialer_id": policy.dialer_id,
        "retry_count": policy.retry_count,
        "retry_interval": policy.retry_interval,
        "start_at": policy.start_at,
        "end_at": policy.end_at,
        "window": policy.window,
        "max_channels": policy.max_channels,
        "calls_per_minute": policy.calls_per_minute,
        "reservation_milli": policy.reservation_milli,
        "gather": gather_column(policy.gather),
        "machine_detection": policy.machine_detection.value,
    }


def _with_counts(conn: Connection, row: Mapping[Any, Any] | None) -> Campaign:
    """The campaign with its counts by status and its price so far, as kept."""
    assert row is not None
    return _campaign(row).counted(*final_counts(conn, row["id"]))


def _campaign(m: Mapping[Any, Any]) -> Campaign:
    skipped = json.loads(m["skipped"])
    return Campaign(
        id=m["id"],
        project_id=m["project_id"],
        name=m["name"],
        policy=CampaignPolicy(
            voice_id=m["voice_id"],
            dialer_id=m["dialer_id"],
            retry_count=m["retry_count"],
            retry_interval=m["retry_interval"],
            start_at=m["start_at"],
            end_at=m["end_at"],
            window=m["window"],
            max_channels=m["max_channels"],
            calls_per_minute=m["calls_per_minute"],
            reservation_milli=m["reservation_milli"],
            gather=gather_from_column(m["gather"]),
            machine_detection=MachineDetection(m["machine_detection"]),
        ),
        state=CampaignState(m["state"]),
        total=m["total"],
        released=m["released"],
        no_balance=bool(m["no_balance"]),
        skips=Skips(**skipped),
        rejected=tuple(RejectedLine(**r) for r in json.loads(m["rejected"])),
        created_at=m["created_at"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
    )
