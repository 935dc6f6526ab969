"""SIP timers (RFC 3261 §17, table 4; RFC 6026) as small objects a test can fire by hand.

Each timer wraps one `loop.call_later` handle: `start` arms it (re-arming replaces the old
handle), `cancel` disarms it and `expired` is what the loop calls when it fires. A test calls
`expired()` directly instead of sleeping, so the protocol code below never sees the clock.

Every SIP timer is one of these, named, and armed where its state machine is:
transaction.py (client INVITE A, B, D, M; client non-INVITE E, F, K; server G, H, I, J, all
from TimerValues), call.py (ring timeout, from the dialer's setting; final response after
CANCEL, 64*T1), interaction.py (gather timeout), machine.py (machine detection and greeting)
and transport.py (TCP idle). The RTP pacer keeps its own clock (media.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TimerValues:
    """T1, T2, T4 of RFC 3261 §17.1.1.1 (seconds); every other timer derives from them."""

    t1: float = 0.5  # round-trip time estimate
    t2: float = 4.0  # longest retransmit interval for non-INVITE requests and INVITE responses
    t4: float = 5.0  # longest time a message stays in the network

    def __post_init__(self) -> None:
        if not 0 < self.t1 <= self.t2:
            raise ValueError(f"timers: need 0 < T1 <= T2, got T1={self.t1} T2={self.t2}")
        if self.t4 <= 0:
            raise ValueError(f"timers: T4 must be positive, got {self.t4}")

    @property
    def transaction_timeout(self) -> float:
        """64*T1: Timers B, F, H, J, L, M and the wait for a final response after CANCEL."""
        return 64 * self.t1

    def wait_for_retransmissions(self, reliable: bool) -> float:
        """Timer D: how long a completed INVITE client transaction absorbs retransmissions."""
        return 0.0 if reliable else max(32.0, 64 * self.t1)

    def wait_for_stray(self, reliable: bool) -> float:
        """Timers K and I: T4 over UDP, zero over a reliable transport."""
        return 0.0 if reliable else self.t4


class Timer:
    """One named timer on `loop.call_later`: start, cancel, expired."""

    __slots__ = ("_callback", "_handle", "_loop", "delay", "name")

    def __init__(
        self, name: str, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]
    ) -> None:
        self.name = name
        self.delay = 0.0  # the interval of the last start(), for retransmission doubling
        self._loop = loop
        self._callback = callback
        self._handle: asyncio.TimerHandle | None = None

    @property
    def running(self) -> bool:
        return self._handle is not None

    def start(self, delay: float) -> None:
        self.cancel()
        self.delay = delay
        self._handle = self._loop.call_later(delay, self.expired)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def expired(self) -> None:
        # Fired by the loop, or by a test: either way the handle is spent.
        self.cancel()
        self._callback()

    def __repr__(self) -> str:
        state = f"running {self.delay:g}s" if self.running else "idle"
        return f"<Timer {self.name} {state}>"
