"""A clock for the RTP pacer that moves only when the test says (media.PacerClock), and a
socket that notes when, on that clock, each packet was sent."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from voxcall.dialers.sip.media import PlaybackReport
from voxcall.dialers.sip.rtp import RtpPacket


@dataclass(eq=False)
class FakeTimer:
    when: float
    callback: Callable[[], object]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class FakeClock:
    """Time stands still until `advance` or `stall`; the pacer then runs on the test's thread.

    `advance` is a punctual loop: each timer fires at its own time, in order. `stall` is a
    loop busy elsewhere: time jumps, and what fell due meanwhile fires late, at the end.
    """

    now: float = 1000.0
    _timers: list[FakeTimer] = field(default_factory=list)
    _soon: list[Callable[[], object]] = field(default_factory=list)

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], object], /) -> FakeTimer:
        timer = FakeTimer(when, callback)
        self._timers.append(timer)
        return timer

    def call_soon_threadsafe(self, callback: Callable[[], object], /) -> None:
        self._soon.append(callback)

    @property
    def timers(self) -> int:
        """Timers set and neither fired nor cancelled."""
        return sum(not timer.cancelled for timer in self._timers)

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        self._run_soon()
        while (timer := self._next_due(end)) is not None:
            self.now = max(self.now, timer.when)
            timer.callback()
            self._run_soon()
        self.now = end

    def stall(self, seconds: float) -> None:
        self.now += seconds
        self.advance(0.0)

    def _run_soon(self) -> None:
        while self._soon:
            self._soon.pop(0)()

    def _next_due(self, end: float) -> FakeTimer | None:
        self._timers = [timer for timer in self._timers if not timer.cancelled]
        due = [timer for timer in self._timers if timer.when <= end]
        if not due:
            return None
        timer = min(due, key=lambda t: t.when)  # the first set of equal ones: min is stable
        self._timers.remove(timer)
        return timer


def run_out(clock: FakeClock, playback: asyncio.Future[PlaybackReport]) -> PlaybackReport:
    """Advance the clock a millisecond at a time until the stream has ended (10 s at most)."""
    for _ in range(10_000):
        if playback.done():
            return playback.result()
        clock.advance(0.001)
    raise AssertionError("the stream did not end within 10 s of its clock")


@dataclass(frozen=True)
class Sent:
    at: float  # the clock's time
    packet: RtpPacket
    to: tuple[str, int]


class CapturingSocket(socket.socket):
    """A non-blocking UDP socket on 127.0.0.1 that sends for real and keeps what it sent."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(socket.AF_INET, socket.SOCK_DGRAM)
        self.bind(("127.0.0.1", 0))
        self.setblocking(False)
        self.clock = clock
        self.sent: list[Sent] = []

    def sendto(self, data: Any, address: Any) -> int:  # type: ignore[override]
        sent = super().sendto(data, address)
        self.sent.append(Sent(self.clock.now, RtpPacket.parse(bytes(data)), address))
        return sent

    @property
    def packets(self) -> list[RtpPacket]:
        return [sent.packet for sent in self.sent]
