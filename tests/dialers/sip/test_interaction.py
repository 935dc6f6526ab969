"""Gather semantics (api.md §11): barge-in, repeats, the finish key, max digits, the timeout,
and one press over two carriers counted once. Timers fire by hand."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from voxcall.dialers.sip.interaction import DUPLICATE_WINDOW, Interaction
from voxcall.domain.interaction import Gather


@dataclass
class Control:
    actions: list[str] = field(default_factory=list)

    def play_message(self) -> None:
        self.actions.append("play")

    def stop_message(self) -> None:
        self.actions.append("stop")

    def end_call(self, detail: str) -> None:
        self.actions.append(f"end: {detail}")


@dataclass
class Clock:
    """When each key arrives: the test moves it on."""

    now: float = 0.0


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Talk(Interaction):
    def press(self, keys: str, carrier: str, clock: Clock) -> None:
        for key in keys:
            self.key(key, carrier, clock.now)


def interaction(clock: Clock, gather: Gather | None) -> tuple[Talk, Control]:
    control = Control()
    talk = Talk(gather, control, asyncio.get_running_loop())
    talk.answered()
    return talk, control


async def test_without_gather_the_call_ends_with_the_message(clock: Clock) -> None:
    talk, control = interaction(clock, None)
    assert talk.listeners == {}
    talk.press("5", "rfc4733", clock)
    talk.message_ended()
    assert control.actions == ["play", "end: voice played"]
    assert talk.digits == ""


async def test_a_key_stops_the_message_and_the_call_waits_for_more(clock: Clock) -> None:
    talk, control = interaction(clock, Gather(max_digits=3, timeout=5))
    assert talk.listeners == {"keys": {}}
    talk.press("4", "rfc4733", clock)
    assert control.actions == ["play", "stop"]
    assert talk.timeout.running and talk.timeout.delay == 5
    talk.press("2", "inband", clock)
    assert control.actions == ["play", "stop"]  # stopped once
    talk.timeout.expired()
    assert control.actions == ["play", "stop", "end: gather timeout"]
    assert talk.digits == "42"


async def test_max_digits_ends_the_call(clock: Clock) -> None:
    talk, control = interaction(clock, Gather(max_digits=2))
    talk.message_ended()
    assert talk.timeout.running
    talk.press("1", "info", clock)
    clock.now += 1
    talk.press("1", "info", clock)  # the same key twice over one carrier: two presses
    assert control.actions == ["play", "end: max digits"]
    assert talk.digits == "11"
    assert not talk.timeout.running
    talk.press("3", "info", clock)
    assert talk.digits == "11"


async def test_the_finish_key_ends_the_call_and_is_not_a_digit(clock: Clock) -> None:
    talk, control = interaction(clock, Gather(max_digits=8, finish_on_key="#"))
    talk.message_ended()
    for key in "12#":
        clock.now += 1
        talk.press(key, "rfc4733", clock)
    assert control.actions == ["play", "end: finish key"]
    assert talk.digits == "12"


async def test_the_repeat_key_plays_the_message_again_at_most_three_times(clock: Clock) -> None:
    talk, control = interaction(clock, Gather(max_digits=1, repeat_key="*"))
    for _ in range(4):
        clock.now += 1
        talk.press("*", "rfc4733", clock)
    assert control.actions == ["play"] * 4  # the first play and three repeats
    talk.message_ended()
    assert talk.digits == "" and talk.timeout.running
    clock.now += 1
    talk.press("*", "rfc4733", clock)  # after the message too; the fourth repeat is ignored
    talk.press("7", "rfc4733", clock)
    assert control.actions == ["play"] * 4 + ["end: max digits"]
    assert talk.digits == "7"


async def test_a_repeat_after_the_message_stops_the_timeout(clock: Clock) -> None:
    talk, control = interaction(clock, Gather(max_digits=1, repeat_key="*"))
    talk.message_ended()
    talk.press("*", "info", clock)
    assert not talk.timeout.running
    assert control.actions == ["play", "play"]


async def test_one_press_over_two_carriers_counts_once(clock: Clock) -> None:
    talk, _ = interaction(clock, Gather(max_digits=16))
    talk.press("5", "rfc4733", clock)
    clock.now += 0.05
    talk.press("5", "inband", clock)  # the tone left in the audio, detected 50 ms later
    clock.now += 0.2
    talk.press("5", "info", clock)  # and an INFO at the key's release
    clock.now += DUPLICATE_WINDOW
    talk.press("5", "inband", clock)  # later than the window: another press
    clock.now += 0.05
    talk.press("6", "info", clock)  # another key at once: another press
    assert talk.digits == "556"


async def test_nothing_happens_after_close(clock: Clock) -> None:
    talk, control = interaction(clock, Gather(max_digits=4))
    talk.press("1", "rfc4733", clock)
    talk.close()
    assert not talk.timeout.running
    talk.press("2", "rfc4733", clock)
    talk.message_ended()
    assert not talk.timeout.running
    assert control.actions == ["play", "stop"]
    assert talk.digits == "1"
