"""The claim: which due calls start their next attempt on a dialer, in one statement.

Calls are taken by class (one-time codes, single, batch, campaign: CallClass), and within a
class round-robin between projects, and within a project between its lanes (each campaign
apart, its single calls together, its batches together: lane_of), the least recently served
first (`call_lanes`). The statement never reads all the due calls: it walks the lanes that
hold queued calls (one index probe each, ix_calls_lane) and takes at most `limit` due calls
from each. It is built once per dialect. `call_lanes` keeps a lane's turn while the lane has
a waiting call (queued or dialing: a retry finds it), and the transaction that makes its
last one final forgets it (`forget_emptied`), so the table holds only lanes that wait.

A call whose number is on a do-not-call list (the operator's, or its project's unless it is
a one-time code) is not started: it is found by the same statement, and expired in its
transaction, so a number listed while its calls wait stops them before their next attempt.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BindParameter,
    Connection,
    String,
    and_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from voxcall.domain.calls import CallClass, Phase, project_lane
from voxcall.store import schema as t


def _listed() -> Any:
    """Whether the call's number is on a list that stops it (api.md §9)."""
    c = t.calls.c
    operator = exists().where(t.operator_dnc_numbers.c.e164 == c.e164)
    project = exists().where(
        t.dnc_numbers.c.project_id == c.project_id, t.dnc_numbers.c.e164 == c.e164
    )
    return or_(operator, and_(c.call_class != CallClass.ONE_TIME_CODE.value, project))


def _lanes() -> Any:
    """The lanes that hold queued calls, by a recursive walk of ix_calls_lane (the first
    row is NULL when there is none)."""
    lanes = select(_lane_after(None).label("lane")).cte("lanes", recursive=True)
    return lanes.union_all(select(_lane_after(lanes.c.lane)).where(lanes.c.lane.is_not(None)))


def _lane_after(lane: Any) -> Any:
    """The first lane holding queued calls (after `lane`)."""
    calls = t.calls.alias("lane_calls")
    query = select(calls.c.lane).where(calls.c.phase == Phase.QUEUED.value)
    if lane is not None:
        query = query.where(calls.c.lane > lane)
    return query.order_by(calls.c.lane).limit(1).scalar_subquery()


# The claim's parameters: the dialer, how many calls at most, and the time of the claim.
_DIALER: BindParameter[str] = bindparam("b_dialer")
_LIMIT: BindParameter[int] = bindparam("b_limit")
_NOW: BindParameter[float] = bindparam("b_now")
_NOW_SECOND: BindParameter[int] = bindparam("b_now_second")


def _candidates(dialect: str) -> Any:
    """At most `limit` due calls of each lane, oldest first."""
    lanes = _lanes()
    due = t.calls.alias("due")

    def due_in(lane: Any) -> Any:
        return (
            select(due.c.id)
            .where(
                due.c.phase == Phase.QUEUED.value,
                due.c.lane == lane,
                due.c.next_attempt_at <= _NOW,
                due.c.expires_at > _NOW_SECOND,
                or_(due.c.dialer_id == _DIALER, due.c.dialer_id.is_(None)),
            )
            .order_by(due.c.next_attempt_at)
            .limit(_LIMIT)
        )

    c = t.calls.c
    columns = (c.id, c.lane, c.call_class, c.project_id, c.next_attempt_at)
    if dialect == "postgresql":
        per_lane = due_in(lanes.c.lane).lateral("per_lane")
        return (
            select(*columns)
            .select_from(lanes.join(per_lane, literal(True)).join(t.calls, c.id == per_lane.c.id))
            .subquery("candidates")
        )
    # SQLite has no LATERAL; it runs a correlated IN per lane and looks each id up.
    return (
        select(*columns)
        .select_from(lanes.join(t.calls, c.id.in_(due_in(lanes.c.lane).scalar_subquery())))
        .subquery("candidates")
    )


def _chosen(dialect: str) -> Any:
    """The ids of the `limit` calls to start: class first, then round-robin."""
    cand = _candidates(dialect)
    lane_served = t.call_lanes.alias("lane_served")
    project_served = t.call_lanes.alias("project_served")
    by_lane = (
        select(
            cand,
            func.row_number()
            .over(partition_by=cand.c.lane, order_by=cand.c.next_attempt_at)
            .label("lane_turn"),
            func.coalesce(lane_served.c.served_turn, 0).label("lane_served"),
        )
        .select_from(cand.outerjoin(lane_served, lane_served.c.lane == cand.c.lane))
        .subquery("by_lane")
    )
    project_key = cast(by_lane.c.call_class, String) + ":" + by_lane.c.project_id
    by_project = (
        select(
            by_lane.c.id,
            by_lane.c.call_class,
            by_lane.c.next_attempt_at,
            func.row_number()
            .over(
                partition_by=(by_lane.c.call_class, by_lane.c.project_id),
                order_by=(by_lane.c.lane_turn, by_lane.c.lane_served, by_lane.c.lane),
            )
            .label("project_turn"),
            func.coalesce(project_served.c.served_turn, 0).label("project_served"),
        )
        .select_from(by_lane.outerjoin(project_served, project_served.c.lane == project_key))
        .subquery("by_project")
    )
    return (
        select(by_project.c.id)
        .order_by(
            by_project.c.call_class,
            by_project.c.project_turn,
            by_project.c.project_served,
            by_project.c.next_attempt_at,
        )
        .limit(_LIMIT)
    )


@functools.cache
def _claim_statement(dialect: str) -> Any:
    """The claim, built once per dialect (building it cost more than running it: 5 to 15 ms
    of CPU a claim). Each chosen call is locked and marked dialing, or left queued if it is
    listed (`listed` in RETURNING, tested once per call)."""
    # The rows are locked once (a CTE with a locking clause is evaluated once; an IN may be
    # re-run by PostgreSQL's planner, and with SKIP LOCKED each run would find others).
    locked = (
        select(t.calls.c.id, _listed().label("listed"))
        .where(t.calls.c.id.in_(_chosen(dialect)))
        .with_for_update(skip_locked=True)
        .cte("locked")
        # Evaluated once: SQLite would otherwise copy it into each use of `listed` below.
        .prefix_with("MATERIALIZED")
    )
    # PostgreSQL: another worker may have claimed a chosen call since this statement began.
    # SQLite has one writer, so nothing can; and a test of the phase there would have it
    # read every queued call through ix_calls_due rather than look the chosen ids up.
    still_queued = [t.calls.c.phase == Phase.QUEUED.value] if dialect == "postgresql" else []
    listed = locked.c.listed
    return (
        update(t.calls)
        .add_cte(locked)
        .where(t.calls.c.id == locked.c.id, *still_queued)
        .values(
            # A listed call stays queued here, to be expired by the caller.
            phase=case((listed, Phase.QUEUED.value), else_=Phase.DIALING.value),
            attempts=t.calls.c.attempts + case((listed, 0), else_=1),
            execution_date=case((listed, t.calls.c.execution_date), else_=_NOW_SECOND),
            updated_at=_NOW,
        )
        .returning(*t.calls.c)
    )


def claim_calls(
    conn: Connection, dialer_id: str, limit: int, now: float
) -> tuple[list[Any], list[str]]:
    """Mark up to `limit` due calls as dialing: their rows, and the ids of the calls found
    listed instead (still queued, locked: the caller expires them in this transaction).
    The caller has checked the dialer's limits and records the attempts."""
    dialect = conn.dialect.name
    rows = conn.execute(
        _claim_statement(dialect),
        {"b_dialer": dialer_id, "b_limit": limit, "b_now": now, "b_now_second": int(now)},
    ).all()
    started = [r for r in rows if r.phase == Phase.DIALING.value]
    _served(conn, dialect, started)
    return started, [r.id for r in rows if r.phase == Phase.QUEUED.value]


def _served(conn: Connection, dialect: str, rows: Sequence[Any]) -> None:
    """Number the lanes and projects this claim served after every earlier claim, each by
    the place of its last call in the claim's order: the next claims serve the others first,
    as one round-robin would."""
    if not rows:
        return
    project_keys = {r.id: _project_key(r) for r in rows}
    keys = {r.lane for r in rows} | set(project_keys.values())
    served = dict(conn.execute(_TURNS, {"b_keys": list(keys)}).all())
    base = conn.execute(_LAST_TURN).scalar_one()
    turns: dict[str, int] = {}
    for place, row in enumerate(_in_claim_order(rows, project_keys, served), start=base + 1):
        turns[row.lane] = turns[project_keys[row.id]] = place
    # In key order: two claims upserting the same keys lock them in one order.
    conn.execute(_upsert_turn(dialect), [{"b_lane": k, "b_turn": turns[k]} for k in sorted(turns)])


def forget_emptied(conn: Connection, rows: Sequence[Any]) -> None:
    """In the transaction that made the calls `rows` final: forget the turns of their lanes
    and projects' shares left without a waiting call, so that `call_lanes` holds only what
    waits (a lane that fills again is served as a new one)."""
    keys = {r.lane for r in rows} | {_project_key(r) for r in rows}
    conn.execute(_FORGET_EMPTIED, {"b_keys": sorted(keys)})


_KEYS: BindParameter[list[str]] = bindparam("b_keys", expanding=True)
_TURNS = select(t.call_lanes.c.lane, t.call_lanes.c.served_turn).where(
    t.call_lanes.c.lane.in_(_KEYS)
)
_LAST_TURN = select(func.coalesce(func.max(t.call_lanes.c.served_turn), 0))
_WAITING = t.calls.c.phase.in_([Phase.QUEUED.value, Phase.DIALING.value])
_KEY = t.call_lanes.c.lane
# A project's share "<class>:<project>" holds the lanes "<class>:<project>:<campaign or ''>"
# (lane_of), campaign ids being lowercase hex: one range of ix_calls_lane, below ":g" in any
# collation; a lane is no such prefix of another. The keys come sorted, so that two
# transactions lock the rows they delete in one order.
_FORGET_EMPTIED = delete(t.call_lanes).where(
    _KEY.in_(_KEYS),
    ~exists().where(_WAITING, t.calls.c.lane == _KEY),
    ~exists().where(_WAITING, t.calls.c.lane >= _KEY + ":", t.calls.c.lane < _KEY + ":g"),
)


@functools.cache
def _upsert_turn(dialect: str) -> Any:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    upsert = insert(t.call_lanes).values(lane=bindparam("b_lane"), served_turn=bindparam("b_turn"))
    return upsert.on_conflict_do_update(
        index_elements=[t.call_lanes.c.lane], set_={"served_turn": upsert.excluded.served_turn}
    )


def _in_claim_order(
    rows: Sequence[Any], project_keys: dict[str, str], served: dict[str, int]
) -> list[Any]:
    """The claimed rows in the order `_chosen` ranked them (RETURNING does not keep it)."""
    lane_turn: dict[str, int] = {}
    by_lane = {}
    for row in sorted(rows, key=lambda r: r.next_attempt_at):
        lane_turn[row.lane] = lane_turn.get(row.lane, 0) + 1
        by_lane[row.id] = lane_turn[row.lane]
    project_turn: dict[str, int] = {}
    by_project = {}
    for row in sorted(rows, key=lambda r: (by_lane[r.id], served.get(r.lane, 0), r.lane)):
        key = project_keys[row.id]
        project_turn[key] = project_turn.get(key, 0) + 1
        by_project[row.id] = project_turn[key]
    return sorted(
        rows,
        key=lambda r: (
            r.call_class,
            by_project[r.id],
            served.get(project_keys[r.id], 0),
            r.next_attempt_at,
        ),
    )


def _project_key(row: Any) -> str:
    return project_lane(CallClass(row.call_class), row.project_id)
