"""Machine detection in a call: the listener in the receiving process, and the call's flow."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tests.audio.amd_samples import GREETING_EN, silence, speech, tone
from voxcall.audio.amd import AmdSettings
from voxcall.dialers.sip.inbound import MediaEvent
from voxcall.dialers.sip.listeners import build_listeners
from voxcall.dialers.sip.machine import (
    ANSWERED_BY,
    GREETING_END,
    MachineDetectionFlow,
    listener_settings,
)
from voxcall.domain.interaction import AnsweredBy, MachineDetection


def test_the_listener_is_built_from_json_settings_and_reports_a_greeting_and_its_beep() -> None:
    settings = listener_settings(AmdSettings(), MachineDetection.VOICEMAIL)
    [listener] = build_listeners({"amd": settings})
    pcm = np.concatenate((speech(GREETING_EN, "en"), silence(0.3), tone(0.4, 1000), silence(1)))
    events = [e for i in range(0, len(pcm), 160) for e in listener.audio(pcm[i : i + 160], 1.5)]
    assert [(e.kind, e.value) for e in events] == [
        (ANSWERED_BY, "machine"),
        (GREETING_END, "beep"),
    ]
    assert events[0].detail.startswith("long greeting (")


def test_the_listener_refuses_a_threshold_that_makes_no_sense() -> None:
    settings = {**listener_settings(AmdSettings(), MachineDetection.DETECT), "greeting_ms": -1}
    with pytest.raises(ValueError, match="greeting_ms"):
        build_listeners({"amd": settings})


class Recorder:
    def __init__(self) -> None:
        self.actions: list[str] = []

    def start_message(self) -> None:
        self.actions.append("message")

    def hang_up(self, detail: str) -> None:
        self.actions.append(f"hang up: {detail}")


def flow(mode: MachineDetection) -> tuple[MachineDetectionFlow, Recorder]:
    recorder = Recorder()
    machine = MachineDetectionFlow(
        mode,
        AmdSettings(),
        asyncio.get_running_loop(),
        start_message=recorder.start_message,
        hang_up=recorder.hang_up,
    )
    return machine, recorder


def decided(value: str) -> MediaEvent:
    return MediaEvent(ANSWERED_BY, value, 2.0, "why (2000 ms)")


async def test_off_plays_at_once_and_listens_for_nothing() -> None:
    machine, recorder = flow(MachineDetection.OFF)
    machine.answered()
    assert recorder.actions == ["message"]
    assert machine.listeners == {} and not machine.deciding
    assert not machine.decision_timer.running
    assert not machine.hold_hang_up(lambda: None)


async def test_detect_plays_at_once_and_holds_the_hang_up_until_the_decision() -> None:
    machine, recorder = flow(MachineDetection.DETECT)
    machine.answered()
    assert recorder.actions == ["message"] and machine.decision_timer.running
    assert machine.hold_hang_up(lambda: recorder.actions.append("held hang-up"))
    machine.event(decided("machine"))
    assert recorder.actions == ["message", "held hang-up"]
    assert machine.answered_by is AnsweredBy.MACHINE and machine.reason == "why (2000 ms)"
    assert not machine.decision_timer.running


@pytest.mark.parametrize("mode", [MachineDetection.VOICEMAIL, MachineDetection.HUMANS_ONLY])
async def test_a_human_hears_the_message_once_decided(mode: MachineDetection) -> None:
    machine, recorder = flow(mode)
    machine.answered()
    assert recorder.actions == []
    machine.event(decided("human"))
    assert recorder.actions == ["message"]


async def test_humans_only_hangs_up_on_a_machine_without_playing() -> None:
    machine, recorder = flow(MachineDetection.HUMANS_ONLY)
    machine.answered()
    machine.event(decided("machine"))
    assert recorder.actions == ["hang up: machine (why (2000 ms))"]
    machine.event(MediaEvent(GREETING_END, "beep", 3.0))
    assert recorder.actions == ["hang up: machine (why (2000 ms))"]


async def test_voicemail_plays_after_the_greeting() -> None:
    machine, recorder = flow(MachineDetection.VOICEMAIL)
    machine.answered()
    machine.event(decided("machine"))
    assert recorder.actions == [] and machine.greeting_timer.running
    machine.event(MediaEvent(GREETING_END, "beep", 4.0, "4000 ms"))
    assert recorder.actions == ["message"] and not machine.greeting_timer.running


async def test_voicemail_plays_when_the_greeting_s_end_is_never_heard() -> None:
    machine, recorder = flow(MachineDetection.VOICEMAIL)
    machine.answered()
    machine.event(decided("machine"))
    # Bounded from the answer: greeting_max_ms and the slack, less the time already gone.
    assert 30.0 < machine.greeting_timer.delay <= 31.0  # 30 s of greeting and 1 s of slack
    machine.greeting_timer.expired()
    assert recorder.actions == ["message"]


async def test_without_audio_the_decision_is_unknown_at_its_bound() -> None:
    machine, recorder = flow(MachineDetection.HUMANS_ONLY)
    machine.answered()
    assert machine.decision_timer.delay == pytest.approx(6.0)  # 5 s of audio and 1 s slack
    machine.decision_timer.expired()
    assert machine.answered_by is AnsweredBy.UNKNOWN and recorder.actions == ["message"]


async def test_nothing_happens_after_close() -> None:
    machine, recorder = flow(MachineDetection.VOICEMAIL)
    machine.answered()
    machine.close()
    machine.event(decided("human"))
    assert recorder.actions == [] and not machine.decision_timer.running


async def test_it_listens_until_it_knows_what_it_listens_for() -> None:
    machine, _ = flow(MachineDetection.VOICEMAIL)
    machine.answered()
    assert machine.listening
    machine.event(decided("machine"))
    assert machine.listening  # the greeting's end is still to come
    machine.event(MediaEvent(GREETING_END, "silence", 6.0))
    assert not machine.listening


@pytest.mark.parametrize("mode", [MachineDetection.DETECT, MachineDetection.HUMANS_ONLY])
async def test_it_stops_listening_at_the_decision(mode: MachineDetection) -> None:
    machine, _ = flow(mode)
    machine.answered()
    machine.event(decided("human"))
    assert not machine.listening


async def test_an_attempt_never_answered_reports_nobody() -> None:
    machine, _ = flow(MachineDetection.HUMANS_ONLY)
    assert machine.outcome is None
    machine.answered()
    assert machine.outcome is AnsweredBy.UNKNOWN  # hung up before the decision
    machine.event(decided("human"))
    assert machine.outcome is AnsweredBy.HUMAN


@pytest.mark.parametrize(
    ("mode", "longest"),
    [
        (MachineDetection.OFF, 3.0),
        (MachineDetection.DETECT, 6.0),  # not hung up before the decision
        (MachineDetection.HUMANS_ONLY, 9.0),  # the message after the decision
        (MachineDetection.VOICEMAIL, 34.0),  # the message after the longest greeting
    ],
)
def test_the_longest_call_each_mode_may_make(mode: MachineDetection, longest: float) -> None:
    assert mode.longest_talk(3.0) == longest
