"""Fault injection: a real SIP peer (SIPp) drops one step of the call at a time, and the real
scheduler and store must still end every call and free every channel and reservation.

Each fault has its own SIPp UAS and its own SIP dialer, all dialled at once by one scheduler,
with short SIP timers (T1 50 ms: Timer B and the wait after a CANCEL are 3.2 s) and a 1 s ring
timeout. The watchdog is set wide enough that the SIP dialer ends each call by itself; beside
them, a dialer that never returns (`Stuck`) is ended by the watchdog.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from tests.calls.dialers import Stuck, silent_voice
from tests.peers.net import HOST, free_ports
from tests.peers.sipp import SippFactory, SippUas
from voxcall.calls.dialers import new_dialer
from voxcall.calls.service import CallOptions
from voxcall.dialers.base import Dialer
from voxcall.dialers.sip.driver import SipDialer, SipTrunkConfig
from voxcall.dialers.sip.timers import TimerValues
from voxcall.domain.calls import AttemptState, Phase
from voxcall.domain.money import Tariff
from voxcall.runtime import Services

pytestmark = pytest.mark.peers

FAST = TimerValues(t1=0.05, t2=0.4, t4=0.5)
TARIFF = Tariff(price_per_minute=600_000, billing_increment=1)  # priced: calls reserve money


@dataclass(frozen=True)
class Fault:
    scenario: str
    # What the call may become. After an answer, whether dead media makes the call fail is
    # the SIP dialer's decision; here it must end, and free what it held, either way.
    statuses: frozenset[str]
    cause: str  # a part of the call's cause
    variables: Mapping[str, str] = field(default_factory=dict)
    sipp_exit: int = 0  # 0: the peer saw what its scenario waits for (our CANCEL, our BYE)


FAULTS = {
    # no answer at all to the INVITE: Timer B
    "silent": Fault("uas_silent.xml", frozenset({"ERROR"}), "Timer B"),
    # 100 Trying, then silence; our CANCEL at the ring timeout is not answered either
    "trying": Fault("uas_100_deaf.xml", frozenset({"NO_ANSWER"}), "no final response"),
    # 180 Ringing past the ring timeout, and no answer to the CANCEL
    "ringing": Fault("uas_180_deaf.xml", frozenset({"NO_ANSWER"}), "no final response"),
    # answered, voice played, our BYE never answered: the message was delivered
    "bye": Fault("uas_bye_deaf.xml", frozenset({"NORMAL"}), "200 OK"),
    # answered with media at a port nobody listens on (ICMP port unreachable)
    "media": Fault(
        "uas_media_unreachable.xml",
        frozenset({"NORMAL", "ERROR"}),
        "200 OK",
        {"dead_port": str(free_ports(2))},
    ),
    # answered, then the trunk is gone (SIPp exits): our RTP and BYE meet closed ports
    "crash": Fault(
        "uas_crash_after_answer.xml", frozenset({"NORMAL", "ERROR"}), "200 OK", sipp_exit=97
    ),  # 97: SIPp stopped by its scenario's stop_now
}


async def test_every_call_ends_and_frees_its_channel_whatever_step_fails(
    services: Services, sipp_uas: SippFactory
) -> None:
    _use_dialer_with_fast_timers(services)
    Stuck.hung_up = []
    peers: dict[str, SippUas] = {}
    for name, fault in FAULTS.items():
        peers[name] = sipp_uas(fault.scenario, variables=fault.variables)
        low = free_ports(8)
        options = {"trunk": peers[name].trunk, "local_ip": HOST, "rtp_ports": f"{low}-{low + 7}"}
        services.store.add_dialer(
            new_dialer(name, "sip", name, options, channels=1, ring_timeout=1, tariff=TARIFF)
        )
    services.store.add_dialer(new_dialer("hung", "sandbox", "hung", {}, ring_timeout=1))
    services.scheduler.watchdog = 5.0  # the hung attempt ends at 1 s ring + 0.5 s voice + 5 s
    project = services.store.create_project("p", rate_limit=100, allowed_regions=["IR"])
    services.store.credit(project.id, 1_000_000, kind="topup", note="")
    voice = silent_voice(services, project, 0.5)
    calls = {
        name: services.calls.place(
            project, ["09121234567"], voice, CallOptions(retry_count=0, server_id=name)
        )[0]
        for name in [*FAULTS, "hung"]
    }
    run = asyncio.create_task(services.scheduler.run())
    deadline = time.monotonic() + 20
    while services.store.count_calls().get("WAITING", 0):
        assert time.monotonic() < deadline, services.store.count_calls()
        await asyncio.sleep(0.05)
    await services.scheduler.stop()
    await run

    ended = {name: services.store.get_call(project.id, call.id) for name, call in calls.items()}
    hung = ended.pop("hung")
    assert hung is not None
    assert (hung.status.name, hung.cause) == ("ERROR", "watchdog: no outcome after 6.5 s")
    assert Stuck.hung_up == [services.store.attempts_of(hung.id)[0]["id"]]
    for name, call in ended.items():
        fault = FAULTS[name]
        assert call is not None and call.phase is Phase.FINAL, name
        assert call.status.name in fault.statuses, (name, call.status, call.cause)
        assert fault.cause in call.cause, (name, call.cause)  # the SIP dialer ended it
        (attempt,) = services.store.attempts_of(call.id)
        assert attempt["state"] == AttemptState.DONE.value, name
    assert services.store.busy_channels() == {}
    assert services.store.backlog().dialing_calls == 0
    after = services.store.get_project(project.id)
    assert after is not None and after.reserved_milli == 0
    for name, uas in peers.items():
        code = await asyncio.to_thread(uas.wait)
        assert code == FAULTS[name].sipp_exit, (name, uas.diagnostics())


def _use_dialer_with_fast_timers(services: Services) -> None:
    speed = services.settings.sandbox_speed

    def build(driver: str, options: Mapping[str, object]) -> Dialer:
        if driver == "sandbox":
            return Stuck(speed=speed)
        return SipDialer(SipTrunkConfig.from_options(options), timers=FAST)

    services.scheduler.build_dialer = build
