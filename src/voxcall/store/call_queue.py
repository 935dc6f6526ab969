"""The call queue: call requests and their attempts, from acceptance to their final status.

Writers that change a call check its current phase in the WHERE clause, so a stale or
duplicated update changes nothing instead of corrupting state."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, func, insert, select, update

from voxcall.billing.ledger import Account, FinalCharge, close_calls
from voxcall.billing.reservation import project_holds
from voxcall.domain.calls import (
    CANCELLED_BY_CLIENT,
    LISTED_WHILE_WAITING,
    TIME_TO_LIVE_PASSED,
    AttemptRecord,
    AttemptState,
    Backlog,
    Call,
    CallClass,
    CallStatus,
    ClaimedAttempt,
    Ending,
    NewCall,
    Phase,
    outcome_unknown,
)
from voxcall.domain.dialers import DialerConfig, claimable, cps_budget
from voxcall.domain.voices import Voice
from voxcall.store import overview_counts
from voxcall.store import schema as t
from voxcall.store.call_rows import call_from_row, call_row
from voxcall.store.campaign_counts import count_finals
from voxcall.store.claim import claim_calls, forget_emptied
from voxcall.store.database import Database, current_settings_version, new_id
from voxcall.store.dnc import DncCheck, Listed, listed, refuse_listed, unlisted
from voxcall.store.idempotency import complete_idempotent_key
from voxcall.store.notify import announce
from voxcall.store.projects import InsufficientFunds, ledger_entry
from voxcall.store.settings_cache import StaleSettings
from voxcall.store.voices import insert_voice


class CallQueue(Database):
    """Call requests and their attempts: accepted, claimed by a worker, finished, expired,
    recovered."""

    def insert_calls(
        self,
        new_calls: Sequence[NewCall],
        *,
        idempotency: tuple[str, str, Callable[[list[Call]], str]] | None = None,
        settings_version: int | None = None,
        new_voice: Voice | None = None,
        dnc: DncCheck | None = None,
    ) -> list[Call]:
        """Store call requests, all or none, each due at once, and reserve what they may cost.

        `new_voice`: a voice made for these calls (speech), stored in the same transaction, so
        that a refused request leaves no voice behind. `dnc` (whose numbers are the calls'):
        Listed, with nothing written or reserved, if one of them is on a do-not-call list when
        the calls are written.

        The reservation is checked and taken by one conditional UPDATE, so concurrent requests
        can never reserve more than the balance. `settings_version`: the version of the cached
        settings the request was checked against; StaleSettings if they have changed since.
        """
        now = time.time()
        rows = [
            call_row(c, index if c.campaign_id else None, now) for index, c in enumerate(new_calls)
        ]
        holds = project_holds((c.project_id, c.reserved_milli) for c in new_calls)

        def work(conn: Connection) -> list[Call]:
            if settings_version is not None and current_settings_version(conn) != settings_version:
                raise StaleSettings
            if new_voice is not None:
                insert_voice(conn, new_voice)
            _insert(conn, rows, dnc)
            for project_id, amount in holds.items():
                reserved = conn.execute(_RESERVE, {"b_id": project_id, "b_amount": amount})
                if reserved.rowcount != 1:
                    raise InsufficientFunds(amount)
            announce(conn)
            calls = [call_from_row(r) for r in rows]
            if idempotency is not None:
                # The response is stored with the calls: a crash keeps both or neither.
                project_id, key, respond = idempotency
                complete_idempotent_key(conn, project_id, key, 200, respond(calls))
            return calls

        with self._guard():
            if self._group is not None:
                return self._group.run(work)
            with self._write() as conn:
                return work(conn)

    def get_call(self, project_id: str, call_id: str) -> Call | None:
        with self._read() as conn:
            row = conn.execute(
                select(t.calls).where(t.calls.c.id == call_id, t.calls.c.project_id == project_id)
            ).first()
        return call_from_row(row._mapping) if row else None

    def campaign_calls(self, project_id: str, campaign_id: str) -> list[Call]:
        with self._read() as conn:
            rows = conn.execute(
                select(t.calls)
                .where(t.calls.c.project_id == project_id, t.calls.c.campaign_id == campaign_id)
                .order_by(t.calls.c.campaign_index)
            ).all()
        return [call_from_row(r._mapping) for r in rows]

    def cancel_call(self, project_id: str, call_id: str) -> Call | None:
        """Expire a call whose next attempt has not started; a live or final call is unchanged."""
        with self._write() as conn:
            expire_queued(
                conn,
                and_(t.calls.c.id == call_id, t.calls.c.project_id == project_id),
                CANCELLED_BY_CLIENT,
            )
            row = conn.execute(
                select(t.calls).where(t.calls.c.id == call_id, t.calls.c.project_id == project_id)
            ).first()
        return call_from_row(row._mapping) if row else None

    def claim_due(
        self, dialer: DialerConfig, limit: int, now: float, *, worker_id: str | None = None
    ) -> list[ClaimedAttempt]:
        """Start up to `limit` due attempts on `dialer`, within its free channels and its
        calls-per-second budget (`cps_budget`).

        Both are read and spent inside the transaction that records the attempts, with the
        dialer's row locked, so the limits hold for every worker sharing the database.
        """
        with self._write() as conn:
            row = conn.execute(
                select(t.dialers.c.channels, t.dialers.c.cps, t.dialers.c.enabled)
                .where(t.dialers.c.id == dialer.id)
                .with_for_update()
            ).one()
            if not row.enabled:
                return []
            busy = conn.execute(
                select(func.count()).where(
                    t.attempts.c.dialer_id == dialer.id,
                    t.attempts.c.state == AttemptState.DIALING.value,
                )
            ).scalar_one()
            window, per_window = cps_budget(row.cps)
            # No upper bound: a worker whose `now` lags still counts what others started.
            recent = conn.execute(
                select(func.count()).where(
                    t.attempts.c.dialer_id == dialer.id, t.attempts.c.started_at > now - window
                )
            ).scalar_one()
            limit = claimable(
                limit, channels=row.channels, busy=busy, per_window=per_window, recent=recent
            )
            return self._claim(conn, dialer.id, limit, now, worker_id) if limit > 0 else []

    def _claim(
        self, conn: Connection, dialer_id: str, limit: int, now: float, worker_id: str | None
    ) -> list[ClaimedAttempt]:
        """Start up to `limit` due calls (claim.py) and record their attempts; expire the
        calls found on a do-not-call list instead."""
        rows, listed = claim_calls(conn, dialer_id, limit, now)
        if listed:
            expire_queued(conn, t.calls.c.id.in_(listed), LISTED_WHILE_WAITING)
        claimed = [
            ClaimedAttempt(
                attempt_id=new_id(),
                number=r._mapping["attempts"],
                call=call_from_row(r._mapping),
                dialer_id=dialer_id,
                started_at=now,
            )
            for r in rows
        ]
        if claimed:
            conn.execute(
                insert(t.attempts),
                [
                    {
                        "id": a.attempt_id,
                        "call_id": a.call.id,
                        "number": a.number,
                        "dialer_id": dialer_id,
                        "worker_id": worker_id,
                        "state": AttemptState.DIALING.value,
                        "result": None,
                        "started_at": now,
                        "answered_at": None,
                        "ended_at": None,
                        "bill_sec": 0,
                        "cause": "",
                    }
                    for a in claimed
                ],
            )
        return claimed

    def finish_attempt(self, call_id: str, record: AttemptRecord) -> bool:
        """Record how an attempt ended and what its call becomes, in one transaction.

        False when the attempt was no longer live (already recorded or declared UNKNOWN).
        """
        return self.finish_attempts([(call_id, record)])[0]

    def finish_attempts(self, outcomes: Sequence[tuple[str, AttemptRecord]]) -> list[bool]:
        """`finish_attempt` for many attempts in one transaction (one commit, one fsync)."""
        with self._write() as conn:
            return _finish(conn, outcomes)

    def expire_due(self, now: float) -> int:
        """Calls waiting for an attempt past their time to live become EXPIRED."""
        with self._write() as conn:
            return expire_queued(conn, t.calls.c.expires_at <= int(now), TIME_TO_LIVE_PASSED)

    def recover_interrupted(self) -> int:
        """At start-up of the only worker (SQLite): every live attempt is a dead process's.

        Their calls are final: the callee may have been reached, so they are never re-dialled.
        """
        with self._write() as conn:
            return abandon(
                conn,
                t.attempts.c.state == AttemptState.DIALING.value,
                outcome_unknown("voxcall stopped"),
            )

    def attempts_of(self, call_id: str) -> list[Mapping[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(
                select(t.attempts)
                .where(t.attempts.c.call_id == call_id)
                .order_by(t.attempts.c.number)
            ).all()
        return [dict(r._mapping) for r in rows]

    def count_calls(self, *, project_id: str | None = None) -> dict[str, int]:
        query = select(t.calls.c.status, func.count()).group_by(t.calls.c.status)
        if project_id is not None:
            query = query.where(and_(t.calls.c.project_id == project_id))
        with self._read() as conn:
            return {status: n for status, n in conn.execute(query).all()}

    def backlog(self) -> Backlog:
        """Calls queued and dialing, and webhook events waiting: counted from indexes."""
        calls = select(func.count()).select_from(t.calls)
        with self._read() as conn:
            queued = conn.execute(calls.where(t.calls.c.phase == Phase.QUEUED.value)).scalar_one()
            dialing = conn.execute(calls.where(t.calls.c.phase == Phase.DIALING.value)).scalar_one()
            pending = conn.execute(
                select(func.count()).where(
                    t.webhook_events.c.delivered_at.is_(None),
                    t.webhook_events.c.failed_at.is_(None),
                )
            ).scalar_one()
        return Backlog(queued, dialing, pending)


# Statements of the hot paths, built once: building a statement costs more than running it.
# Those run with a list of parameter sets (executemany) take a whole batch in one call.
# The reservation: taken only if the balance minus what is already reserved covers it.
_RESERVE = (
    update(t.projects)
    .where(
        t.projects.c.id == bindparam("b_id"),
        t.projects.c.balance_milli - t.projects.c.reserved_milli >= bindparam("b_amount"),
    )
    .values(reserved_milli=t.projects.c.reserved_milli + bindparam("b_amount"))
)
_INSERT_CALLS = insert(t.calls)


def _insert_unlisted(project_list: bool) -> Any:
    """_INSERT_CALLS of the rows whose number is not listed (`project_list`: on the
    project's list either)."""
    row = {c.name: bindparam(c.name, type_=c.type) for c in t.calls.c}
    unlisted_row = select(*row.values()).where(
        unlisted(row["e164"], row["project_id"], project_list=project_list)
    )
    # How many rows it wrote is read: kept for an INSERT only when asked for.
    insert_unlisted = insert(t.calls).from_select(list(row), unlisted_row)
    return insert_unlisted.execution_options(preserve_rowcount=True)


_INSERT_UNLISTED = {project_list: _insert_unlisted(project_list) for project_list in (False, True)}
_END_ATTEMPT = (
    update(t.attempts)
    .where(t.attempts.c.id == bindparam("b_id"))
    .values(
        state=AttemptState.DONE.value,
        result=bindparam("b_result"),
        answered_at=bindparam("b_answered_at"),
        ended_at=bindparam("b_ended_at"),
        bill_sec=bindparam("b_bill_sec"),
        cause=bindparam("b_cause"),
    )
)
_REQUEUE_CALL = (
    update(t.calls)
    .where(t.calls.c.id == bindparam("b_id"), t.calls.c.phase == Phase.DIALING.value)
    .values(
        status=bindparam("b_status"),
        phase=Phase.QUEUED.value,
        cause=bindparam("b_cause"),
        next_attempt_at=bindparam("b_next_attempt_at"),
        window_held_from=bindparam("b_window_held_from"),
        updated_at=bindparam("b_updated_at"),
    )
)
# A project's money as `close_calls` leaves it; its row is locked first by _LOCK_ACCOUNTS.
_LOCK_ACCOUNTS = (
    select(t.projects.c.id, t.projects.c.balance_milli, t.projects.c.reserved_milli)
    .where(t.projects.c.id.in_(bindparam("b_ids", expanding=True)))
    .order_by(t.projects.c.id)  # one order for every transaction: no deadlock between them
    .with_for_update()
)
_SET_ACCOUNT = (
    update(t.projects)
    .where(t.projects.c.id == bindparam("b_id"))
    .values(balance_milli=bindparam("b_balance"), reserved_milli=bindparam("b_reserved"))
)
# What an answered attempt found (api.md §11); the call keeps its last answered attempt's.
_ANSWERED_CALL = (
    update(t.calls)
    .where(t.calls.c.id == bindparam("b_id"))
    .values(digits=bindparam("b_digits"), answered_by=bindparam("b_answered_by"))
)
_FINAL_CALL = (
    update(t.calls)
    .where(t.calls.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        phase=Phase.FINAL.value,
        cause=bindparam("b_cause"),
        bill_sec=bindparam("b_bill_sec"),
        price_milli=bindparam("b_price_milli"),
        reserved_milli=0,
        updated_at=bindparam("b_updated_at"),
    )
)


@dataclasses.dataclass(frozen=True, slots=True)
class _Ending:
    """What a call becomes when it is closed, as its settlement decided."""

    status: CallStatus
    cause: str
    bill_sec: int = 0
    price_milli: int = 0


def _insert(conn: Connection, rows: list[dict[str, Any]], dnc: DncCheck | None) -> None:
    """Insert the calls' rows; with `dnc`, Listed if a number is listed (the caller rolls
    back). One call (most requests) is left out by its own insert if it is listed, and the
    lists are read only then, to name it: no statement more for a call not listed. A batch's
    numbers are looked up first, in one statement (executemany's rowcount is not the sum of
    its rows' on PostgreSQL)."""
    if dnc is not None and len(rows) == 1:
        if conn.execute(_INSERT_UNLISTED[dnc.project_id is not None], rows[0]).rowcount == 0:
            raise Listed(listed(conn, dnc))
        return
    if dnc is not None:
        refuse_listed(conn, dnc)
    conn.execute(_INSERT_CALLS, rows)


def _finish(conn: Connection, outcomes: Sequence[tuple[str, AttemptRecord]]) -> list[bool]:
    """Record attempts' ends and their calls' next state, set-wise. An attempt that is no
    longer live (recorded already, or declared UNKNOWN) is left alone: False."""
    live = set(
        conn.scalars(
            select(t.attempts.c.id)
            .where(
                t.attempts.c.id.in_([record.attempt_id for _, record in outcomes]),
                t.attempts.c.state == AttemptState.DIALING.value,
            )
            .with_for_update()
        )
    )
    done = [(call_id, r) for call_id, r in outcomes if r.attempt_id in live]
    if not done:
        return [False] * len(outcomes)
    conn.execute(
        _END_ATTEMPT,
        [
            {
                "b_id": r.attempt_id,
                "b_result": r.result,
                "b_answered_at": r.answered_at,
                "b_ended_at": r.ended_at,
                "b_bill_sec": r.bill_sec,
                "b_cause": r.cause,
            }
            for _, r in done
        ],
    )
    now = time.time()
    requeued = [
        {
            "b_id": call_id,
            "b_status": r.call_status.name,
            "b_cause": r.cause,
            "b_next_attempt_at": r.next_attempt_at,
            "b_window_held_from": r.window_held_from,
            "b_updated_at": now,
        }
        for call_id, r in done
        if not r.call_status.is_final
    ]
    if requeued:
        conn.execute(_REQUEUE_CALL, requeued)
    found = [
        {
            "b_id": call_id,
            "b_digits": r.digits,
            "b_answered_by": r.answered_by.value if r.answered_by is not None else None,
        }
        for call_id, r in done
        if r.answered_at is not None
    ]
    if found:
        conn.execute(_ANSWERED_CALL, found)
    endings = {
        call_id: _Ending(r.call_status, r.cause, bill_sec=r.billed_sec, price_milli=r.price_milli)
        for call_id, r in done
        if r.call_status.is_final
    }
    if endings:
        _close(
            conn,
            and_(t.calls.c.id.in_(list(endings)), t.calls.c.phase == Phase.DIALING.value),
            endings,
        )
    return [r.attempt_id in live for _, r in outcomes]


def expire_queued(conn: Connection, where: ColumnElement[bool], ending: Ending) -> int:
    """The calls matching `where` that wait for their next attempt end as `ending`."""
    return _close(
        conn,
        and_(where, t.calls.c.phase == Phase.QUEUED.value),
        _Ending(ending.status, ending.cause),
    )


def abandon(conn: Connection, attempts: ColumnElement[bool], ending: Ending) -> int:
    """Live attempts whose process is gone end as `ending`, and so do their calls."""
    call_ids = [r.call_id for r in conn.execute(select(t.attempts.c.call_id).where(attempts))]
    if not call_ids:
        return 0
    conn.execute(
        update(t.attempts)
        .where(attempts)
        .values(
            state=AttemptState.UNKNOWN.value,
            result="UNKNOWN",
            ended_at=time.time(),
            cause=ending.cause,
        )
    )
    return _close(
        conn,
        and_(t.calls.c.id.in_(call_ids), t.calls.c.phase == Phase.DIALING.value),
        _Ending(ending.status, ending.cause),
    )


def _close(
    conn: Connection, where: ColumnElement[bool], ending: _Ending | Mapping[str, _Ending]
) -> int:
    """Make the calls matching `where` final (each as `ending`, or as its entry in it), with
    the money `close_calls` moves and their campaigns' counts, and queue their webhook
    events. The one path by which every call ends."""
    rows = conn.execute(
        select(t.calls, t.projects.c.webhook_url)
        .join(t.projects, t.projects.c.id == t.calls.c.project_id)
        .where(where)
        .with_for_update(of=t.calls)
    ).all()
    if not rows:
        return 0
    now = time.time()
    ends = {row.id: ending if isinstance(ending, _Ending) else ending[row.id] for row in rows}
    accounts = conn.execute(_LOCK_ACCOUNTS, {"b_ids": sorted({r.project_id for r in rows})})
    closing = close_calls(
        [FinalCharge(r.id, r.project_id, r.reserved_milli, ends[r.id].price_milli) for r in rows],
        {a.id: Account(a.balance_milli, a.reserved_milli) for a in accounts},
    )
    conn.execute(
        _FINAL_CALL,
        [
            {
                "b_id": row.id,
                "b_status": ends[row.id].status.name,
                "b_cause": ends[row.id].cause,
                "b_bill_sec": ends[row.id].bill_sec,
                "b_price_milli": closing.prices[row.id],
                "b_updated_at": now,
            }
            for row in rows
        ],
    )
    count_finals(
        conn,
        (
            (row.campaign_id, ends[row.id].status, closing.prices[row.id])
            for row in rows
            if row.call_class == CallClass.CAMPAIGN and row.campaign_id is not None
        ),
    )
    overview_counts.add_finals(
        conn,
        [
            overview_counts.FinalCall(
                row.project_id,
                row.request_date,
                row.attempts > 0,
                ends[row.id].status,
                ends[row.id].bill_sec,
                closing.prices[row.id],
            )
            for row in rows
        ],
    )
    forget_emptied(conn, rows)
    if closing.accounts:
        conn.execute(
            _SET_ACCOUNT,
            [
                {"b_id": project_id, "b_balance": a.balance_milli, "b_reserved": a.reserved_milli}
                for project_id, a in closing.accounts.items()
            ],
        )
    if closing.debits:
        conn.execute(
            insert(t.ledger),
            [
                dataclasses.asdict(
                    ledger_entry(
                        "debit", d.amount_milli, d.balance_after_milli, "call", call_id=d.call_id
                    )
                )
                | {"project_id": d.project_id}
                for d in closing.debits
            ],
        )
    events = [_event(row.project_id, row.id, now) for row in rows if row.webhook_url]
    if events:
        conn.execute(insert(t.webhook_events), events)
    return len(rows)


def _event(project_id: str, call_id: str, now: float) -> dict[str, Any]:
    """The outbox row of a final call whose project has a webhook (api.md §6); its body is
    rendered from the call at each delivery (`voxcall.webhooks.event`)."""
    return {
        "id": new_id(),
        "project_id": project_id,
        "call_id": call_id,
        "created_at": now,
        "next_attempt_at": now,
        "attempts": 0,
        "delivered_at": None,
        "failed_at": None,
        "last_error": "",
    }
