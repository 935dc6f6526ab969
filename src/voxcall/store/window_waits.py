"""What the scheduler reads and writes to keep attempts inside their calling windows
(api.md §10): the windows and holidays in force, and handing a claimed call back to wait.

Which window a call has and whether it is open are rules of `voxcall.calls.call_windows`;
this module only stores them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, delete, func, select, update

from voxcall.domain.calls import AttemptState, Phase
from voxcall.store import schema as t
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
                        # as the claim writes it: the started second, truncated
                        execution_date=int(last_started or 0),
                    )
                )
                handed += 1
        return handed
