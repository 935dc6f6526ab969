"""A campaign's final calls counted as they become final (schema.campaign_counts), in the
transaction that makes them so: reading a campaign's counts is one short index read however
many calls it has."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from voxcall.domain.calls import CallStatus
from voxcall.store import schema as t

Final = tuple[str, CallStatus, int]  # (campaign id, final status, price debited)


def count_finals(conn: Connection, finals: Iterable[Final]) -> None:
    """Add calls just made final to their campaigns' counts, in the caller's transaction."""
    tally: dict[tuple[str, str], tuple[int, int]] = {}
    for campaign_id, status, price_milli in finals:
        calls, spent = tally.get((campaign_id, status.name), (0, 0))
        tally[campaign_id, status.name] = (calls + 1, spent + price_milli)
    if not tally:
        return
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    # In key order: two transactions adding to the same rows lock them in one order.
    upsert = insert(t.campaign_counts).values(
        [
            {"campaign_id": campaign_id, "status": status, "calls": calls, "price_milli": spent}
            for (campaign_id, status), (calls, spent) in sorted(tally.items())
        ]
    )
    counts = t.campaign_counts.c
    conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[counts.campaign_id, counts.status],
            set_={
                "calls": counts.calls + upsert.excluded.calls,
                "price_milli": counts.price_milli + upsert.excluded.price_milli,
            },
        )
    )


def final_counts(conn: Connection, campaign_id: str) -> tuple[dict[CallStatus, int], int]:
    """The campaign's final calls by status, and what they were debited in all."""
    counts = t.campaign_counts.c
    rows = conn.execute(
        select(counts.status, counts.calls, counts.price_milli).where(
            counts.campaign_id == campaign_id
        )
    ).all()
    return {CallStatus[r.status]: r.calls for r in rows}, sum(r.price_milli for r in rows)
