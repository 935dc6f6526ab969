"""The scheduler against a sandbox dialer that records what it is asked to do."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from typing import ClassVar

import pytest

from tests.calls.dialers import Stuck, silent_voice
from tests.store.windows import most_in_any_window
from voxcall.api.schemas import call_json
from voxcall.calls.dialers import new_dialer
from voxcall.calls.scheduler import Scheduler
from voxcall.calls.service import CallOptions
from voxcall.config import Settings
from voxcall.dialers.base import AttemptOutcome, AttemptResult, Dialer, DialRequest, Voice8k
from voxcall.dialers.sandbox import SandboxDialer
from voxcall.domain.calls import AttemptState
from voxcall.domain.money import Tariff
from voxcall.runtime import Services
from voxcall.store.store import Store
from voxcall.webhooks.event import event_body


class RecordingSandbox(SandboxDialer):
    """The sandbox, counting live calls and noting the numbers it dials."""

    live = 0
    most_live = 0
    numbers: ClassVar[list[str]] = []

    async def dial(self, request: DialRequest) -> AttemptOutcome:
        cls = RecordingSandbox
        cls.live += 1
        cls.most_live = max(cls.most_live, cls.live)
        cls.numbers.append(request.national_number)
        try:
            return await super().dial(request)
        finally:
            cls.live -= 1


class AnsweredThenFailed(SandboxDialer):
    """A trunk that answers, then fails the call (the media never flowed, say): the attempt
    has answered seconds, but it did not deliver the message."""

    async def dial(self, request: DialRequest) -> AttemptOutcome:
        now = time.time()
        return AttemptOutcome(
            AttemptResult.ERROR, now - 5, now, answered_at=now - 4, bill_sec=4, cause="media"
        )


def _use_dialer(services: Services, dialer: Callable[[float], Dialer]) -> None:
    """Every dialer the scheduler builds is `dialer(sandbox_speed)`."""
    speed = services.settings.sandbox_speed

    def build(driver: str, options: Mapping[str, object]) -> Dialer:
        return dialer(speed)

    services.scheduler.build_dialer = build


@pytest.fixture(autouse=True)
def recording(services: Services) -> None:
    RecordingSandbox.live = RecordingSandbox.most_live = 0
    RecordingSandbox.numbers = []
    _use_dialer(services, lambda speed: RecordingSandbox(speed=speed))


async def _run_until_final(services: Services, seconds: float) -> None:
    task = asyncio.create_task(services.scheduler.run())
    deadline = time.monotonic() + seconds
    while services.store.count_calls().get("WAITING", 0):
        assert time.monotonic() < deadline, services.store.count_calls()
        await asyncio.sleep(0.02)
    await services.scheduler.stop()
    await task


async def test_channel_limit_holds(services: Services) -> None:
    services.store.add_dialer(new_dialer("narrow", "sandbox", "N", {}, channels=3, cps=1000))
    project = services.store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    voice = silent_voice(services, project, 1.0)
    services.calls.place(project, ["09121234567"] * 12, voice, CallOptions(server_id="narrow"))
    await _run_until_final(services, 30)
    assert RecordingSandbox.most_live == 3
    assert services.store.count_calls() == {"NORMAL": 12}


async def test_calls_per_second_limit_holds(services: Services, settings: Settings) -> None:
    """Two schedulers on one database (as two worker processes): together they start at most
    `cps` attempts in any one second, from the first call on. (Which of them claims when is
    up to their polls; tests/store forces claims of two stores to interleave.)"""
    services.store.add_dialer(new_dialer("slow", "sandbox", "S", {}, channels=50, cps=5))
    project = services.store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    voice = silent_voice(services, project, 0.5)
    calls = services.calls.place(
        project, ["09121234567"] * 15, voice, CallOptions(server_id="slow")
    )
    other_store = Store.open(settings.database_url)
    other = Scheduler(
        other_store,
        services.voices.files,
        build_dialer=services.scheduler.build_dialer,
        single_node=False,
    )
    services.scheduler.single_node = False  # neither may take the other's calls for a crash's
    task = asyncio.create_task(other.run())
    try:
        await _run_until_final(services, 30)
    finally:
        await other.stop()
        await task
        other_store.close()
    # The limit is spent when attempts are claimed, so check the claim times the store
    # recorded; when the dialer began each one also depends on how busy the machine is.
    attempts = [a for c in calls for a in services.store.attempts_of(c.id)]
    assert len(attempts) == 15
    starts = [a["started_at"] for a in attempts]
    assert most_in_any_window(starts) <= 5
    # 5 in the first second, 5 in the next, 5 in the third
    assert max(starts) - min(starts) >= 2.0


async def test_the_next_calls_per_second_window_is_not_left_to_the_poll(
    services: Services,
) -> None:
    """When the window reopens, the scheduler claims at once: with the fallback poll 3 s
    away, 15 calls at 5 per second start within about 2 s (left to the poll: 6 s)."""
    services.store.add_dialer(new_dialer("slow", "sandbox", "S", {}, channels=50, cps=5))
    project = services.store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    voice = silent_voice(services, project, 0.2)
    calls = services.calls.place(
        project, ["09121234567"] * 15, voice, CallOptions(server_id="slow")
    )
    services.scheduler.poll_interval = 3.0
    await _run_until_final(services, 30)
    starts = [a["started_at"] for c in calls for a in services.store.attempts_of(c.id)]
    assert 2.0 <= max(starts) - min(starts) < 5.0


async def test_unpinned_calls_go_to_the_least_loaded_dialer(services: Services) -> None:
    services.store.set_dialer_enabled("sandbox", False)
    services.store.add_dialer(new_dialer("a", "sandbox", "A", {}, channels=2, cps=1000))
    services.store.add_dialer(new_dialer("b", "sandbox", "B", {}, channels=2, cps=1000))
    project = services.store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    voice = silent_voice(services, project, 1.0)
    calls = services.calls.place(project, ["09121234567"] * 4, voice, CallOptions())
    assert all(c.dialer_id is None for c in calls)
    await _run_until_final(services, 30)
    used = [services.store.attempts_of(c.id)[0]["dialer_id"] for c in calls]
    assert sorted(used) == ["a", "a", "b", "b"]


async def test_project_default_dialer_wins(services: Services) -> None:
    services.store.add_dialer(new_dialer("mine", "sandbox", "M", {}, channels=2))
    project = services.store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    services.store.update_project(project.id, default_dialer_id="mine")
    project = services.store.project_by_name("p")
    assert project is not None
    voice = silent_voice(services, project, 0.2)
    (call,) = services.calls.place(project, ["09121234567"], voice, CallOptions())
    assert call.dialer_id == "mine"
    (fallback,) = services.calls.place(
        services.store.create_project("q", rate_limit=1, allowed_regions=["IR"]),
        ["09121234567"],
        silent_voice(services, services.store.project_by_name("q"), 0.2),  # type: ignore[arg-type]
        CallOptions(),
    )
    assert fallback.dialer_id == "sandbox"  # the --default dialer


async def test_time_to_live_expires_waiting_calls(services: Services) -> None:
    project = services.store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    voice = silent_voice(services, project, 0.2)
    services.store.add_dialer(new_dialer("down", "sandbox", "D", {}, channels=1))
    options = CallOptions(server_id="down", time_to_live=1)
    (call,) = services.calls.place(project, ["09121234567"], voice, options)
    services.store.set_dialer_enabled("down", False)  # the dialer goes down: nothing places it
    services.scheduler.poll_interval = 0.05
    await _run_until_final(services, 5)
    final = services.store.get_call(project.id, call.id)
    assert final is not None
    assert (final.status.name, final.attempts, final.cause) == ("EXPIRED", 0, "time to live passed")
    assert RecordingSandbox.numbers == []


async def test_a_failed_answered_attempt_bills_nothing(services: Services) -> None:
    _use_dialer(services, lambda speed: AnsweredThenFailed(speed=speed))
    project = services.store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    services.store.set_webhook(project.id, "http://127.0.0.1:9/hook", "whsec_x")
    voice = silent_voice(services, project, 1.0)
    (call,) = services.calls.place(project, ["09121234567"], voice, CallOptions())
    await _run_until_final(services, 30)
    final = services.store.get_call(project.id, call.id)
    assert final is not None
    shown = call_json(final)
    assert (shown["status"], shown["billSec"], shown["price"]) == ("ERROR", 0, 0.0)
    (event,) = services.store.webhook_events(project.id)
    assert event["call_id"] == call.id
    assert json.loads(event_body(final))["billSec"] == 0
    (attempt,) = services.store.attempts_of(call.id)
    assert (attempt["result"], attempt["bill_sec"]) == ("ERROR", 4)  # kept for the operator


async def test_the_watchdog_ends_an_attempt_its_dialer_never_ends(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    Stuck.hung_up = []
    _use_dialer(services, lambda speed: Stuck(speed=speed))
    tariff = Tariff(price_per_minute=600_000, billing_increment=1)
    config = new_dialer("stuck", "sandbox", "S", {}, ring_timeout=1, tariff=tariff)
    services.store.add_dialer(config)
    services.scheduler.watchdog = 0.5
    project = services.store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    services.store.credit(project.id, 100_000, kind="topup", note="")
    voice = silent_voice(services, project, 0.3)
    (call,) = services.calls.place(project, ["09121234567"], voice, CallOptions(server_id="stuck"))
    assert services.store.get_project(project.id).reserved_milli > 0  # type: ignore[union-attr]
    started = time.monotonic()
    await _run_until_final(services, 30)
    # ring timeout 1 s + voice 0.3 s + watchdog 0.5 s
    assert 1.8 - 0.05 <= time.monotonic() - started < 10
    final = services.store.get_call(project.id, call.id)
    assert final is not None
    assert (final.status.name, final.cause) == ("ERROR", "watchdog: no outcome after 1.8 s")
    (attempt,) = services.store.attempts_of(call.id)
    assert (attempt["result"], attempt["state"], attempt["bill_sec"]) == (
        "ERROR",
        AttemptState.DONE.value,
        0,
    )
    assert Stuck.hung_up == [attempt["id"]]  # the dialer was told to hang up
    assert services.store.busy_channels().get("stuck", 0) == 0
    after = services.store.get_project(project.id)
    assert after is not None and (after.reserved_milli, after.balance_milli) == (0, 100_000)
    assert "late outcome ignored" in caplog.text  # stop() let the late report arrive
    watchdog = services.metrics.registry.get_sample_value(
        "voxcall_attempts_watchdog_total", {"dialer": "stuck"}
    )
    assert watchdog == 1.0


async def test_the_watchdog_covers_reading_the_voice(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A voice file that cannot be read (a hung network mount) ends the attempt too."""

    async def hung_read(project_id: str, voice_id: str) -> Voice8k:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    monkeypatch.setattr(services.scheduler, "_voice", hung_read)
    services.scheduler.watchdog = 0.3
    project = services.store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    voice = silent_voice(services, project, 0.2)
    (call,) = services.calls.place(project, ["09121234567"], voice, CallOptions())
    await _run_until_final(services, 30)
    final = services.store.get_call(project.id, call.id)
    assert final is not None
    assert (final.status.name, final.cause) == ("ERROR", "watchdog: voice not read after 0.3 s")
    assert RecordingSandbox.numbers == []  # nobody was dialled
    assert services.store.busy_channels().get("sandbox", 0) == 0
