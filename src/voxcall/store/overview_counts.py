"""The overview's counters: a project's final calls by 10-minute bucket of their request and
by status (how many, how many attempted, billed seconds of the answered, spend), added to in
the transaction that makes calls final, so the overview reads at most 144 buckets of them
whatever the day's volume, and counts only the calls not final yet in `calls`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Insert, Select, case, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from voxcall.domain.calls import CallStatus, Phase
from voxcall.domain.reports import BUCKET, Activity
from voxcall.store import schema as t

c = t.calls.c
o = t.overview_counts.c
SUMS = ("calls", "attempted", "billed_sec", "spend_milli")


@dataclass(frozen=True, slots=True)
class FinalCall:
    """What a call made final adds to its bucket's counters."""

    project_id: str
    request_date: int
    attempted: bool
    status: CallStatus
    bill_sec: int
    price_milli: int


def add_finals(conn: Connection, finals: Iterable[FinalCall]) -> None:
    """Add calls made final to their buckets. Keys are written in one order, so that two
    transactions never wait on each other's counters crosswise (the project's row, locked
    first by the caller, orders them too)."""
    sums: Counter[tuple[str, int, str, str]] = Counter()
    for f in finals:
        key = (f.project_id, f.request_date // BUCKET * BUCKET, f.status.name)
        sums[(*key, "calls")] += 1
        sums[(*key, "attempted")] += f.attempted
        sums[(*key, "billed_sec")] += f.bill_sec if f.status is CallStatus.NORMAL else 0
        sums[(*key, "spend_milli")] += f.price_milli
    keys = sorted({key[:3] for key in sums})
    if keys:
        conn.execute(
            _add(conn.dialect.name),
            [
                dict(zip(("project_id", "bucket", "status"), key, strict=True))
                | {name: sums[(*key, name)] for name in SUMS}
                for key in keys
            ],
        )


def _add(dialect: str) -> Insert:
    """INSERT of a bucket's counts, or their addition to the bucket's row if it exists."""
    upsert: postgresql.Insert | sqlite.Insert = (
        postgresql.insert(t.overview_counts)
        if dialect == "postgresql"
        else sqlite.insert(t.overview_counts)
    )
    return upsert.on_conflict_do_update(
        index_elements=["project_id", "bucket", "status"],
        set_={name: o[name] + upsert.excluded[name] for name in SUMS},
    )


def recount(conn: Connection) -> None:
    """Rebuild every counter from the final calls (after a bulk load of calls)."""
    conn.execute(t.overview_counts.delete())
    bucket = c.request_date // BUCKET * BUCKET
    conn.execute(
        insert(t.overview_counts).from_select(
            ["project_id", "bucket", "status", *SUMS],
            _tally([c.project_id, bucket], c.phase == Phase.FINAL.value),
        )
    )


def activity(conn: Connection, project_id: str, start: int, buckets: int) -> list[Activity]:
    """The project's calls requested in `buckets` of BUCKET seconds from `start` (a multiple
    of BUCKET), by bucket and status: the counters of the final ones, and the others counted
    from ix_calls_project_phase."""
    end = start + buckets * BUCKET
    counted = conn.execute(
        select((o.bucket - start) // BUCKET, o.status, *(o[name] for name in SUMS)).where(
            o.project_id == project_id, o.bucket >= start, o.bucket < end
        )
    ).all()
    live = conn.execute(
        _tally(
            [(c.request_date - start) // BUCKET],  # integers: integer division on both
            c.project_id == project_id,
            c.phase.in_([Phase.QUEUED.value, Phase.DIALING.value]),
            c.request_date >= start,
            c.request_date < end,
        )
    ).all()
    return [
        Activity(int(i), CallStatus[status], int(n), int(tried), int(billed), int(spend))
        for i, status, n, tried, billed, spend in [*counted, *live]
    ]


def _tally(keys: list[Any], *where: ColumnElement[bool]) -> Select[Any]:
    """The calls matching `where` summed by `keys` and status: the keys, the status, then
    the SUMS in their order."""
    answered = c.status == CallStatus.NORMAL.name
    return (
        select(
            *keys,
            c.status,
            func.count(),
            func.sum(case((c.attempts > 0, 1), else_=0)),
            func.sum(case((answered, c.bill_sec), else_=0)),
            func.sum(c.price_milli),
        )
        .where(*where)
        .group_by(*keys, c.status)
    )
