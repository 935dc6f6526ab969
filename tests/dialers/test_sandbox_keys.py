"""The sandbox's callees that press keys: 0006 presses 1, 0007 presses * then 2."""

from __future__ import annotations

import pytest

from voxcall.dialers.base import AttemptResult, DialRequest, Voice8k
from voxcall.dialers.sandbox import SandboxDialer, gathered
from voxcall.domain.interaction import Gather

VOICE = Voice8k(bytes(2 * 8000 * 3))  # 3 s


async def dial(number: str, gather: Gather | None) -> tuple[float, str, str]:
    dialer = SandboxDialer(speed=1000)
    await dialer.start()
    try:
        request = DialRequest("a1", number, "+98" + number[1:], VOICE, 30, gather=gather)
        outcome = await dialer.dial(request)
    finally:
        await dialer.close()
    assert outcome.result is AttemptResult.ANSWERED and outcome.answered_at is not None
    return round(outcome.ended_at - outcome.answered_at, 6), outcome.digits, outcome.cause


@pytest.mark.parametrize(
    ("number", "gather", "expected"),
    [
        # Without gather, keys are not listened to: the whole voice plays.
        ("09120000006", None, (3.0, "", "voice played")),
        # 1 at 1 s stops the message; one digit was all it wanted.
        ("09120000006", Gather(max_digits=1), (1.0, "1", "max digits")),
        # ... or it waits for more: 5 s after the last key.
        ("09120000006", Gather(max_digits=4, timeout=5), (6.0, "1", "gather timeout")),
        # * restarts the message at 1 s, 2 stops it at 2 s.
        ("09120000007", Gather(max_digits=1, repeat_key="*"), (2.0, "2", "max digits")),
        ("09120000007", Gather(max_digits=2), (2.0, "*2", "max digits")),
        ("09120000007", Gather(max_digits=3, finish_on_key="*"), (1.0, "", "finish key")),
        # Anyone else presses nothing: the call waits out the timeout after the message.
        ("09121234567", Gather(max_digits=1, timeout=2), (5.0, "", "gather timeout")),
    ],
)
async def test_keys_in_the_sandbox(
    number: str, gather: Gather | None, expected: tuple[float, str, str]
) -> None:
    assert await dial(number, gather) == expected


def test_a_repeat_waits_for_the_whole_message_again() -> None:
    gather = Gather(max_digits=2, timeout=5, repeat_key="*")
    # * at 1 s: the message plays again until 4 s, then the timeout runs to 9 s.
    assert gathered(3.0, gather, ((1.0, "*"),)) == (9.0, "gather timeout", "")
    # Keys after the timeout are never heard.
    assert gathered(3.0, gather, ((9.5, "7"),)) == (8.0, "gather timeout", "")
    # A fourth repeat is ignored.
    presses = ((0.5, "*"), (1.0, "*"), (1.5, "*"), (2.0, "*"))
    assert gathered(3.0, gather, presses) == (9.5, "gather timeout", "")
