"""Machine detection in real calls: baresip answers and says a greeting with a beep, or a
"hello", from a WAV file, while voxcall listens."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.audio.amd_samples import GREETING_EN, silence, speech
from tests.audio.amd_samples import tone as tone_samples
from tests.peers.baresip import BaresipFactory
from tests.peers.dialing import NUMBER, dial_request, running_dialer
from tests.peers.voices import tone
from voxcall.audio.wav import wav_bytes
from voxcall.dialers.base import AttemptOutcome, AttemptResult
from voxcall.dialers.sip.driver import SipDialer
from voxcall.dialers.sip.media import PlaybackReport
from voxcall.domain.interaction import AnsweredBy, MachineDetection

pytestmark = pytest.mark.peers

RATE = 8000
BEEP = 0.5  # seconds of 1000 Hz after the greeting and a 0.4 s pause
listening: list[int] = []  # calls the media process listens to, just after each play


def say(path: Path, *parts: np.ndarray[Any, np.dtype[np.int16]]) -> Path:
    path.write_bytes(wav_bytes(np.concatenate(parts).astype("<i2").tobytes()))
    return path


def voicemail(tmp_path: Path) -> tuple[Path, float]:
    """A greeting WAV and when, from its start, its beep ends."""
    before_beep = np.concatenate((silence(0.3), speech(GREETING_EN, "en"), silence(0.4)))
    path = say(tmp_path / "greeting.wav", before_beep, tone_samples(BEEP, 1000), silence(8))
    return path, len(before_beep) / RATE + BEEP


async def call(
    dialer: SipDialer, mode: MachineDetection, seconds: float = 1.5
) -> tuple[AttemptOutcome, list[float]]:
    """Dial with `mode`; the outcome and when (epoch) the message started playing."""
    played: list[float] = []
    play = dialer._pacer.play

    def play_and_note(*args: Any) -> asyncio.Future[PlaybackReport]:
        played.append(time.time())
        # Once the event that started the message is handled: is the call still listening?
        asyncio.get_running_loop().call_soon(
            lambda: listening.append(len(dialer._receiver._listening))
        )
        return play(*args)

    dialer._pacer.play = play_and_note  # type: ignore[method-assign]
    listening.clear()
    request = dataclasses.replace(dial_request(tone(seconds, 600)), machine_detection=mode)
    outcome = await dialer.dial(request)
    async with asyncio.timeout(5):
        await dialer.wait_idle()
    return outcome, played


async def test_voicemail_leaves_the_message_after_the_beep(
    baresip_callee: BaresipFactory, tmp_path: Path
) -> None:
    greeting, beep_end = voicemail(tmp_path)
    callee = baresip_callee(user=NUMBER, source=greeting)
    async with running_dialer(callee.trunk, codecs="PCMU") as dialer:
        outcome, played = await call(dialer, MachineDetection.VOICEMAIL)
    assert outcome.result is AttemptResult.ANSWERED, outcome
    assert outcome.answered_by is AnsweredBy.MACHINE
    assert outcome.cause == "200 Answering; voice played"
    assert outcome.answered_at is not None and len(played) == 1
    # baresip starts its file as it answers, a few tens of milliseconds before its 200 OK
    # reaches us (answered_at): so "after the beep" is up to 0.1 s before beep_end here.
    assert beep_end - 0.1 < played[0] - outcome.answered_at < beep_end + 1.0
    assert listening == [0]  # nothing more to hear: the media process stopped reading it


async def test_humans_only_hangs_up_on_the_machine_and_releases_everything(
    baresip_callee: BaresipFactory, tmp_path: Path
) -> None:
    greeting, beep_end = voicemail(tmp_path)
    callee = baresip_callee(user=NUMBER, source=greeting)
    async with running_dialer(callee.trunk) as dialer:
        outcome, played = await call(dialer, MachineDetection.HUMANS_ONLY)
        assert played == []  # the machine heard nothing
        assert (dialer.active_calls, dialer.rtp_ports_in_use) == (0, 0)
        assert dialer._pacer.active_streams == 0 and dialer._receiver._listening == {}
        receiver = dialer._receiver._child
        assert receiver is not None and receiver.poll() is None  # started by the call
    assert receiver.returncode == 0  # and ended with the dialer
    assert outcome.result is AttemptResult.NO_ANSWER, outcome
    assert outcome.answered_by is AnsweredBy.MACHINE
    assert outcome.cause.startswith("200 Answering; machine (long greeting (")
    assert outcome.answered_at is not None
    assert 1.5 < outcome.ended_at - outcome.answered_at < beep_end  # decided, not waited
    assert outcome.bill_sec >= 2
    callee.wait_for_log("terminated")


async def test_a_person_saying_hello_is_human_and_hears_the_message_at_once(
    baresip_callee: BaresipFactory, tmp_path: Path
) -> None:
    hello = say(tmp_path / "hello.wav", silence(0.5), speech("Hello?", "en"), silence(8))
    callee = baresip_callee(user=NUMBER, source=hello)
    async with running_dialer(callee.trunk) as dialer:
        # A message shorter than the decision: the call waits for the decision to end.
        outcome, played = await call(dialer, MachineDetection.DETECT, seconds=0.5)
    assert outcome.result is AttemptResult.ANSWERED, outcome
    assert outcome.answered_by is AnsweredBy.HUMAN
    assert outcome.answered_at is not None and len(played) == 1
    assert played[0] - outcome.answered_at < 0.5
    assert outcome.ended_at - outcome.answered_at > 1.3  # the hello and 0.8 s of silence
