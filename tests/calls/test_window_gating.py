"""The scheduler keeps every attempt inside its calling window (api.md §10), on a clock the
test controls: a first attempt and a retry wait for the project's window, a holiday added
while calls wait closes it, a call whose window opens only after its time to live expires,
and a one-time code is never held."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.calls.dialers import silent_voice
from voxcall.calls.call_windows import Holidays
from voxcall.calls.campaigns import CampaignFields
from voxcall.calls.dialers import new_dialer
from voxcall.calls.service import CallOptions
from voxcall.calls.windows import Window
from voxcall.domain.calls import Call, CallStatus, Phase
from voxcall.domain.projects import Project
from voxcall.runtime import Services
from voxcall.store.database import StoreUnavailable
from voxcall.store.window_waits import HandBack

DAY = 86_400
LONG_LIFE = CallOptions(server_id="d", time_to_live=3 * DAY, retry_interval=3600)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def opening() -> float:
    """A whole UTC hour two to three hours from now: when the test's window opens."""
    return math.ceil(time.time() / 3600) * 3600 + 2 * 3600.0


@pytest.fixture
def project(services: Services, opening: float) -> Project:
    """A project whose default window is an hour a day, from `opening` on (UTC)."""
    services.store.add_dialer(new_dialer("d", "sandbox", "D", {}, channels=5, cps=1000))
    project = services.store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    start = datetime.fromtimestamp(opening, UTC)
    window = Window.parse(f"sat-fri {start:%H:%M}-{start + timedelta(hours=1):%H:%M} UTC")
    services.store.update_project(project.id, window=json.dumps(window.to_json()))
    return services.projects.get(project.id)


@contextlib.asynccontextmanager
async def running(services: Services) -> AsyncIterator[Clock]:
    """The scheduler running on a clock the test sets (a minute from now to begin with),
    reading the windows in force at every round."""
    clock = Clock(time.time() + 60)
    services.scheduler.clock = clock
    services.scheduler.windows_refresh = 0.0
    task = asyncio.create_task(services.scheduler.run())
    try:
        yield clock
    finally:
        await services.scheduler.stop()
        await task


@pytest.fixture
async def clock(services: Services) -> AsyncIterator[Clock]:
    async with running(services) as clock:
        yield clock


async def until(check: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0.02)


def current(services: Services, call: Call) -> Call:
    now = services.store.get_call(call.project_id, call.id)
    assert now is not None
    return now


def waits_until(services: Services, call: Call, moment: float) -> Callable[[], bool]:
    def check() -> bool:
        now = current(services, call)
        return now.phase is Phase.QUEUED and now.next_attempt_at == moment

    return check


def ends_as(services: Services, call: Call, status: CallStatus) -> Callable[[], bool]:
    return lambda: current(services, call).status is status


def starts(services: Services, call: Call) -> list[float]:
    return [a["started_at"] for a in services.store.attempts_of(call.id)]


async def test_a_first_attempt_waits_for_the_window_and_a_code_does_not(
    services: Services, project: Project, opening: float, clock: Clock
) -> None:
    voice = silent_voice(services, project, 0.2)
    (single,) = services.calls.place(project, ["09121234567"], voice, LONG_LIFE)
    batch = services.calls.place(project, ["09121234568"] * 2, voice, LONG_LIFE, batch=True)
    (code,) = services.calls.place(project, ["09121234569"], voice, LONG_LIFE, one_time_code=True)
    await until(ends_as(services, code, CallStatus.NORMAL))
    assert starts(services, code) == [pytest.approx(clock.now)]
    for waiting in (single, *batch):
        await until(waits_until(services, waiting, opening))
        assert (current(services, waiting).attempts, starts(services, waiting)) == (0, [])
    clock.now = opening
    for waiting in (single, *batch):
        await until(ends_as(services, waiting, CallStatus.NORMAL))
        assert starts(services, waiting) == [opening]


def test_a_call_accepted_outside_its_window_is_due_at_its_opening(
    services: Services, project: Project, opening: float
) -> None:
    """So that no claim sees it before (the scheduler is not running here); a holiday known
    at its acceptance counts, and a one-time code is due at once."""
    voice = silent_voice(services, project, 0.2)
    (call,) = services.calls.place(project, ["09121234567"], voice, LONG_LIFE)
    assert current(services, call).next_attempt_at == opening
    services.store.add_holiday(datetime.fromtimestamp(opening, UTC).date(), 0)
    services.calls.holidays = Holidays(lambda: [d for d, _ in services.store.holidays()])
    (later,) = services.calls.place(project, ["09121234567"], voice, LONG_LIFE)
    assert current(services, later).next_attempt_at == opening + DAY
    (code,) = services.calls.place(project, ["09121234567"], voice, LONG_LIFE, one_time_code=True)
    assert current(services, code).next_attempt_at < opening - 3600
    services.store.update_project(project.id, clear_window=True)
    project = services.projects.get(project.id)
    (free,) = services.calls.place(project, ["09121234567"], voice, LONG_LIFE)
    assert current(services, free).next_attempt_at < opening - 3600


async def test_a_retry_waits_for_the_next_opening(
    services: Services, project: Project, opening: float, clock: Clock
) -> None:
    """Busy at the opening; due an hour later, when the window has closed: the next day,
    held by its window from its back-off's end."""
    voice = silent_voice(services, project, 0.2)
    clock.now = opening
    (call,) = services.calls.place(project, ["09121230005"], voice, LONG_LIFE)
    await until(lambda: current(services, call).attempts == 1)
    await until(waits_until(services, call, opening + DAY))
    held = services.store.held_calls(limit=10)
    assert [(h.call.id, h.held_from) for h in held] == [(call.id, opening + 3600)]
    clock.now = opening + DAY
    await until(ends_as(services, call, CallStatus.NORMAL))
    assert starts(services, call) == [opening, opening + DAY]


async def test_a_holiday_added_while_calls_wait_closes_that_day(
    services: Services, project: Project, opening: float, clock: Clock
) -> None:
    voice = silent_voice(services, project, 0.2)
    (call,) = services.calls.place(project, ["09121234567"], voice, LONG_LIFE)
    await until(waits_until(services, call, opening))
    services.store.add_holiday(datetime.fromtimestamp(opening, UTC).date(), 0)
    clock.now = opening
    await until(waits_until(services, call, opening + DAY))
    assert starts(services, call) == []
    clock.now = opening + DAY
    await until(ends_as(services, call, CallStatus.NORMAL))
    assert starts(services, call) == [opening + DAY]


async def test_a_call_whose_window_opens_too_late_expires_waiting(
    services: Services, project: Project, opening: float, clock: Clock
) -> None:
    voice = silent_voice(services, project, 0.2)
    short = CallOptions(server_id="d", time_to_live=1800)
    (call,) = services.calls.place(project, ["09121234567"], voice, short)
    await until(waits_until(services, call, opening))
    clock.now = call.expires_at + 1.0
    await until(ends_as(services, call, CallStatus.EXPIRED))
    assert starts(services, call) == []


async def test_a_hand_back_the_store_cannot_take_yet_is_tried_again(
    services: Services, project: Project, opening: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Else the claimed call would end UNKNOWN when the worker's lease lapsed, never dialled."""
    failures: list[int] = []
    hand_back = services.store.hand_back

    def flaky(calls: Sequence[HandBack]) -> int:
        if not failures:
            failures.append(len(calls))
            raise StoreUnavailable("database is locked")
        return hand_back(calls)

    monkeypatch.setattr(services.store, "hand_back", flaky)
    voice = silent_voice(services, project, 0.2)
    # accepted before the window was set: due at once, claimed, handed back
    window = services.store.windows_in_force().projects[project.id]
    services.store.update_project(project.id, clear_window=True)
    without = services.projects.get(project.id)
    (call,) = services.calls.place(without, ["09121234567"], voice, LONG_LIFE)
    services.store.update_project(project.id, window=window)
    async with running(services):
        await until(waits_until(services, call, opening))
    assert failures == [1] and starts(services, call) == []


async def test_a_campaign_in_the_callees_zone_waits_for_every_zone_of_a_number(
    services: Services,
) -> None:
    """A campaign window in the callee's zone: an Iranian number is called at once, one of
    Idaho (+1 208 555: Boise's zone and Los Angeles') when the later of them, Los Angeles,
    opens. The window is 12 hours from two to three hours ahead of Los Angeles' clock, so it
    is open in Tehran (11.5 hours ahead of it) and opens in Idaho within a call's time to live."""
    services.store.add_dialer(new_dialer("d", "sandbox", "D", {}, channels=5, cps=1000))
    project = services.store.create_project("p", rate_limit=10, allowed_regions=["IR", "US"])
    voice = silent_voice(services, project, 0.2)
    started = time.time() + 60
    los_angeles = datetime.fromtimestamp(started, ZoneInfo("America/Los_Angeles"))
    opens = los_angeles.replace(minute=0, second=0, microsecond=0) + timedelta(hours=3)
    window = Window.parse(f"sat-fri {opens:%H}:00-{opens + timedelta(hours=12):%H}:00 callee")
    fields = CampaignFields(name="c", voice_id=voice, window=json.dumps(window.to_json()))
    campaign = services.campaigns.create(project, fields, ["09121234567", "+12085550123"])
    services.releaser.poll_interval = 0.05
    releaser = asyncio.create_task(services.releaser.run())
    try:
        async with running(services) as clock:
            clock.now = started
            await until(lambda: len(services.store.campaign_calls(project.id, campaign.id)) == 2)
            iranian, idaho = services.store.campaign_calls(project.id, campaign.id)
            await until(ends_as(services, iranian, CallStatus.NORMAL))
            assert starts(services, iranian) == [started]
            await until(waits_until(services, idaho, opens.timestamp()))
            assert starts(services, idaho) == []
            clock.now = opens.timestamp()
            await until(ends_as(services, idaho, CallStatus.NORMAL))
            assert starts(services, idaho) == [opens.timestamp()]
    finally:
        services.releaser.stop()
        await releaser
