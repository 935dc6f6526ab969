"""Which calling window gates a call, and from when its next attempt may start (api.md §10).

A campaign's call has its campaign's window, else its project's default; a single, batch or
TTS call has its project's default; with none it may start at any time. One-time codes are
never held: they are sent because someone asked for them just now (a code that arrives
after the night is useless), so neither windows nor holidays apply to them.

A call that a window holds past when it was otherwise due (at its acceptance, its back-off's
end, or a claim handed back) is marked so in the store; when a window is widened or cleared
or a holiday removed, those calls are due again by the rules now in force (`bring_forward`),
while a retry's back-off is never shortened.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Protocol

from voxcall.calls.windows import CALLEE, Window, is_open, next_opening
from voxcall.domain.calls import Call, CallClass
from voxcall.domain.campaigns import Campaign
from voxcall.domain.projects import Project
from voxcall.store.window_waits import HeldCall, WindowsInForce

# Seconds the scheduler and the releaser keep the windows and holidays they read: a change
# made meanwhile applies that much later.
WINDOWS_REFRESH = 5.0
# How many held calls are recomputed at a time when a window or holiday changes.
HELD_BATCH = 1000
# The farthest local dates are from UTC's: UTC+14 (Kiribati) and UTC-12.
_ZONES_AHEAD, _ZONES_BEHIND = timedelta(hours=14), timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class WindowRules:
    """The windows in force and the holidays that close them."""

    holidays: frozenset[date] = frozenset()
    projects: Mapping[str, Window] = field(default_factory=dict)  # default windows
    # every campaign not finished, with its own window or None
    campaigns: Mapping[str, Window | None] = field(default_factory=dict)

    @classmethod
    def from_stored(cls, stored: WindowsInForce) -> WindowRules:
        return cls(
            stored.holidays,
            {project: _parsed(text) for project, text in stored.projects.items()},
            {
                campaign: _parsed(text) if text is not None else None
                for campaign, text in stored.campaigns.items()
            },
        )

    def knows(self, call: Call) -> bool:
        """Whether these rules were read after `call`'s campaign (if it has one) began: a
        campaign created since has a window they do not hold."""
        return call.call_class is not CallClass.CAMPAIGN or call.campaign_id in self.campaigns


class Holidays:
    """The holidays as one process's requests see them: read again once WINDOWS_REFRESH old."""

    def __init__(self, read: Callable[[], Collection[date]]) -> None:
        self._read = read
        self._days: frozenset[date] = frozenset()
        self._until = 0.0

    def now(self) -> frozenset[date]:
        if time.monotonic() >= self._until:
            self._days = frozenset(self._read())
            self._until = time.monotonic() + WINDOWS_REFRESH
        return self._days


def project_window(project: Project) -> Window | None:
    """A project's default calling window; None: its calls may start at any time."""
    return _parsed(project.window) if project.window else None


def window_of(call: Call, rules: WindowRules) -> Window | None:
    """The window that gates `call`'s attempts; None: none does."""
    if call.call_class is CallClass.ONE_TIME_CODE:
        return None
    own = rules.campaigns.get(call.campaign_id) if call.campaign_id is not None else None
    return own or rules.projects.get(call.project_id)


def attempt_from(call: Call, rules: WindowRules, at: float) -> float:
    """The first moment from `at` on at which an attempt of `call` may start (`opening_from`):
    `at` itself when its window is open then, or it has none."""
    window = window_of(call, rules)
    if window is None:
        return at
    return opening_from(window, call.e164, at, rules.holidays, call.expires_at)


def opening_from(
    window: Window, e164: str, at: float, holidays: Collection[date], expires_at: float
) -> float:
    """The first moment from `at` on at which `window` is open for a call to `e164`. A window
    that does not open within a year (its callee's zones are never open together, a number
    of no known zone, holidays every day) holds the call until `expires_at`, its time to
    live, and so it expires."""
    try:
        opening = next_opening(window, at, callee=e164, holidays=holidays)
    except ValueError:  # a window in the callee's zone, and the number's zone is unknown
        opening = None
    return opening if opening is not None else max(at, expires_at)


class HeldCalls(Protocol):
    def windows_in_force(self) -> WindowsInForce: ...

    def held_calls(
        self,
        *,
        project_id: str | None = None,
        between: tuple[float, float] | None = None,
        after: tuple[str, str] | None = None,
        limit: int,
    ) -> list[HeldCall]: ...

    def bring_forward(self, due: Sequence[tuple[str, float]]) -> None: ...


def brought_forward(
    held: Sequence[HeldCall], rules: WindowRules, now: float
) -> list[tuple[str, float]]:
    """The held calls that `rules` let go before the time they wait for, each with its new
    due time: its window's first opening from when it was otherwise due (or `now`, if that
    is past), and no sooner than WINDOWS_REFRESH from `now`, once every worker has read
    `rules` (one with the old would hand the call back to the old opening). A call of a
    campaign begun after `rules` were read is left alone."""
    due = []
    for h in held:
        if not rules.knows(h.call):
            continue
        at = max(attempt_from(h.call, rules, max(now, h.held_from)), now + WINDOWS_REFRESH)
        if at < h.call.next_attempt_at:
            due.append((h.call.id, at))
    return due


def rewindow(
    store: HeldCalls,
    now: float,
    *,
    project_id: str | None = None,
    holiday: date | None = None,
) -> None:
    """Bring forward the held calls that the windows and holidays now in force let go
    earlier: `project_id`'s after its default window changed, or those held over `holiday`
    after it was removed, a batch at a time."""
    rules = WindowRules.from_stored(store.windows_in_force())
    between = None
    if holiday is not None:
        midnight = datetime.combine(holiday, clock_time(), UTC)
        between = (
            (midnight - _ZONES_AHEAD).timestamp(),
            (midnight + timedelta(days=1) + _ZONES_BEHIND).timestamp(),
        )
    after = None
    while True:
        held = store.held_calls(
            project_id=project_id, between=between, after=after, limit=HELD_BATCH
        )
        store.bring_forward(brought_forward(held, rules, now))
        if len(held) < HELD_BATCH:
            return
        after = (held[-1].call.project_id, held[-1].call.id)


def releasing(campaign: Campaign, rules: WindowRules, now: float) -> bool:
    """Whether a campaign's numbers may be released into the call queue at `now`: its window
    (its own, else its project's) is open, holidays counted. A window in the callee's zone
    is open for some numbers and not others: its calls are held at their attempts instead."""
    own = campaign.policy.window
    window = _parsed(own) if own is not None else rules.projects.get(campaign.project_id)
    if window is None or window.timezone == CALLEE:
        return True
    return is_open(window, now, holidays=rules.holidays)


def _parsed(stored: str) -> Window:
    return Window.from_json(json.loads(stored))
