"""What the scheduler reads and writes to keep attempts inside their calling windows
(api.md §10): the windows and holidays in force, handing a claimed call back to wait, and
the calls a window holds, brought forward when a window or holiday changes.

Which window a call has and whether it is open are rules of `voxcall.calls.call_windows`;
this module only stores them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, bindparam, delete, func, select, tuple_, update

from voxcall.domain.calls import AttemptState, Call, Phase
from voxcall.store import schema as t
from voxcall.store.call_rows import call_from_row
from voxcall.store.database import Database


@dataclass(frozen=True, slots=True)
class WindowsInForce:
    """Every window that may gate a call now, as stored (JSON), and the holidays."""

    holidays: frozenset[date]
    projects: dict[str, str]  # project id -> its default window
    campaigns: dict[str, str | None]  # every campaign not finished -> its own window


@dataclass(frozen=True, slots=True)
class HandBack:
    """A claimed attempt that must not start: its call waits until `not_before`."""

    attempt_id: str
    call_id: str
    not_before: float


@dataclass(frozen=True, slots=True)
class HeldCall:
    """A queued call that waits for its window's opening, and when it was otherwise due."""

    call: Call
    held_from: float


# Queued calls a window holds: what ix_calls_window_held holds (its predicate, word for word).
_HELD = and_(t.calls.c.phase == Phase.QUEUED.value, t.calls.c.window_held_from.is_not(None))
_BRING_FORWARD = (
    update(t.calls)
    .where(
        t.calls.c.id == bindparam("b_id"),
        _HELD,
        # only ever earlier: a narrowed window is left to the claim's check
        t.calls.c.next_attempt_at > bindparam("b_due"),
    )
    .values(next_attempt_at=bindparam("b_due"))
)


class WindowWaits(Database):
    def windows_in_force(self) -> WindowsInForce:
        with self._read() as conn:
            days = conn.scalars(select(t.holidays.c.day)).all()
            projects = conn.execute(
                select(t.projects.c.id, t.projects.c.window).where(t.projects.c.window.is_not(None))
            ).all()
            campaigns = conn.execute(
                select(t.campaigns.c.id, t.campaigns.c.window).where(
                    t.campaigns.c.finished_at.is_(None)
                )
            ).all()
        return WindowsInForce(
            holidays=frozenset(date.fromisoformat(day) for day in days),
            projects={r.id: r.window for r in projects},
            campaigns={r.id: r.window for r in campaigns},
        )

    def hand_back(self, calls: Sequence[HandBack]) -> int:
        """Undo the claim of attempts that have not started: each attempt is removed and
        its call is queued again, due at `not_before`, as if never claimed (its attempts
        and last execution date as they were). Nothing is billed or reserved anew: the
        call keeps its reservation. How many calls were handed back."""
        handed = 0
        with self._write() as conn:
            for back in calls:
                removed = conn.execute(
                    delete(t.attempts).where(
                        t.attempts.c.id == back.attempt_id,
                        t.attempts.c.state == AttemptState.DIALING.value,
                    )
                )
                if removed.rowcount != 1:
                    continue  # already settled (declared UNKNOWN by a reaper)
                last_started = conn.execute(
                    select(func.max(t.attempts.c.started_at)).where(
                        t.attempts.c.call_id == back.call_id
                    )
                ).scalar_one()
                conn.execute(
                    update(t.calls)
                    .where(
                        and_(t.calls.c.id == back.call_id, t.calls.c.phase == Phase.DIALING.value)
                    )
                    .values(
                        phase=Phase.QUEUED.value,
                        attempts=t.calls.c.attempts - 1,
                        next_attempt_at=back.not_before,
                        # a call held already keeps when it was otherwise due
                        window_held_from=func.coalesce(
                            t.calls.c.window_held_from, t.calls.c.next_attempt_at
                        ),
                        # as the claim writes it: the started second, truncated
                        execution_date=int(last_started or 0),
                    )
                )
                handed += 1
        return handed

    def held_calls(
        self,
        *,
        project_id: str | None = None,
        between: tuple[float, float] | None = None,
        after: tuple[str, str] | None = None,
        limit: int,
    ) -> list[HeldCall]:
        """Up to `limit` queued calls a window holds, in (project, id) order after `after`:
        of `project_id` only if given; with `between` (from, to), only those held over some
        of that time. A seek in ix_calls_window_held."""
        c = t.calls.c
        query = select(t.calls).where(_HELD).order_by(c.project_id, c.id).limit(limit)
        if project_id is not None:
            query = query.where(c.project_id == project_id)
        if between is not None:
            query = query.where(c.window_held_from < between[1], c.next_attempt_at > between[0])
        if after is not None and project_id is not None:
            query = query.where(c.id > after[1])  # SQLite seeks (project_id, id) only so
        elif after is not None:
            query = query.where(tuple_(c.project_id, c.id) > tuple_(*after))
        with self._read() as conn:
            rows = conn.execute(query).mappings().all()
        return [HeldCall(call_from_row(row), row["window_held_from"]) for row in rows]

    def bring_forward(self, due: Sequence[tuple[str, float]]) -> None:
        """Make each (call id, time) due at that time if it is held by a window until later;
        a call claimed or brought forward meanwhile is left alone."""
        if not due:
            return
        with self._write() as conn:
            conn.execute(_BRING_FORWARD, [{"b_id": call_id, "b_due": at} for call_id, at in due])
