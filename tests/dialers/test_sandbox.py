"""The sandbox trunk with machine detection: 0008 is a voicemail, anyone else says "hello"."""

from __future__ import annotations

import pytest

from voxcall.dialers.base import AttemptOutcome, AttemptResult, DialRequest, Voice8k
from voxcall.dialers.sandbox import (
    GREETING_END,
    HUMAN_DECISION,
    MACHINE_DECISION,
    RING_SECONDS,
    SandboxDialer,
)
from voxcall.domain.interaction import AnsweredBy, MachineDetection

VOICE = Voice8k(bytes(2 * 8000 * 3))  # 3 s


async def dial(number: str, mode: MachineDetection, voice: Voice8k = VOICE) -> AttemptOutcome:
    dialer = SandboxDialer(speed=1000)
    await dialer.start()
    try:
        request = DialRequest("a1", number, "+98" + number[1:], voice, 30, machine_detection=mode)
        return await dialer.dial(request)
    finally:
        await dialer.close()


def talk(outcome: AttemptOutcome) -> float:
    assert outcome.answered_at is not None
    return outcome.ended_at - outcome.answered_at


async def test_without_detection_nobody_is_asked() -> None:
    outcome = await dial("09120000008", MachineDetection.OFF)
    assert outcome.answered_by is None and talk(outcome) == pytest.approx(VOICE.duration)


@pytest.mark.parametrize(
    ("mode", "talk_seconds"),
    [
        (MachineDetection.DETECT, VOICE.duration),
        (MachineDetection.VOICEMAIL, GREETING_END + VOICE.duration),
    ],
)
async def test_the_voicemail_is_a_machine(mode: MachineDetection, talk_seconds: float) -> None:
    outcome = await dial("09120000008", mode)
    assert outcome.result is AttemptResult.ANSWERED
    assert outcome.answered_by is AnsweredBy.MACHINE
    assert talk(outcome) == pytest.approx(talk_seconds)


async def test_humans_only_hangs_up_on_the_voicemail_and_bills_its_seconds() -> None:
    outcome = await dial("09120000008", MachineDetection.HUMANS_ONLY)
    assert outcome.result is AttemptResult.NO_ANSWER
    assert outcome.answered_by is AnsweredBy.MACHINE
    assert outcome.cause == "machine (long greeting)"
    assert talk(outcome) == pytest.approx(MACHINE_DECISION) and outcome.bill_sec == 2
    assert outcome.answered_at == pytest.approx(outcome.started_at + RING_SECONDS)


@pytest.mark.parametrize("mode", [MachineDetection.VOICEMAIL, MachineDetection.HUMANS_ONLY])
async def test_a_person_hears_the_message_after_the_decision(mode: MachineDetection) -> None:
    outcome = await dial("09121234567", mode)
    assert outcome.result is AttemptResult.ANSWERED
    assert outcome.answered_by is AnsweredBy.HUMAN
    assert talk(outcome) == pytest.approx(HUMAN_DECISION + VOICE.duration)


async def test_a_short_message_does_not_hang_up_before_the_decision() -> None:
    outcome = await dial("09121234567", MachineDetection.DETECT, Voice8k(bytes(1600)))
    assert outcome.answered_by is AnsweredBy.HUMAN
    assert talk(outcome) == pytest.approx(HUMAN_DECISION)


async def test_a_callee_gone_before_the_decision_is_unknown() -> None:
    outcome = await dial("09120000004", MachineDetection.HUMANS_ONLY)
    assert outcome.result is AttemptResult.ANSWERED
    assert outcome.answered_by is AnsweredBy.UNKNOWN
