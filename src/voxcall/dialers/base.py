"""The dialer driver interface: what the scheduler asks of a trunk.

A driver places exactly one attempt per `dial` call and reports how it ended. It knows
nothing of HTTP, SQL or retries: those belong to `voxcall.calls`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from voxcall.domain.interaction import AnsweredBy, Gather, MachineDetection


class AttemptResult(enum.Enum):
    """How one attempt ended, as the trunk told it."""

    ANSWERED = "ANSWERED"  # answered and ended (voice played or callee hung up)
    BUSY = "BUSY"  # 486 / 600
    NO_ANSWER = "NO_ANSWER"  # rang out, 480, 408, our CANCEL at the ring timeout
    ERROR = "ERROR"  # rejected or unreachable: 403, 404, 503, Timer B, no common codec


@dataclass(frozen=True, slots=True)
class Voice8k:
    """The message as the callee hears it: 8 kHz, mono, signed 16-bit little-endian PCM."""

    pcm: bytes

    SAMPLE_RATE = 8000

    @property
    def duration(self) -> float:
        return len(self.pcm) / 2 / self.SAMPLE_RATE


@dataclass(frozen=True, slots=True)
class DialRequest:
    """One attempt to place: who to call, what to play, how long to let it ring."""

    attempt_id: str
    national_number: str  # "09121234567": what most Iranian trunks expect in the R-URI
    e164: str  # "+989121234567"
    voice: Voice8k
    ring_timeout: float  # seconds
    attempt_number: int = 1  # 1 for the first attempt of a call request
    gather: Gather | None = None  # None: no key presses are collected
    machine_detection: MachineDetection = MachineDetection.OFF


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """What a driver reports for one attempt. Times are Unix epoch seconds (float)."""

    result: AttemptResult
    started_at: float
    ended_at: float
    answered_at: float | None = None
    bill_sec: int = 0  # whole seconds from answer to hang-up, rounded up
    cause: str = ""  # e.g. "486 Busy Here", "Timer B", "sandbox: busy"
    digits: str = ""  # the keys the callee pressed (with `gather`), in order
    answered_by: AnsweredBy | None = None  # None when machine detection was off


class Dialer(Protocol):
    """A trunk driver. One instance serves many concurrent `dial` calls."""

    async def start(self) -> None:
        """Acquire sockets and other resources; called once before the first `dial`."""

    async def dial(self, request: DialRequest) -> AttemptOutcome:
        """Place one attempt and return its outcome.

        Cancelling the task hangs up (or cancels) the attempt before the cancellation
        propagates, so that the trunk is never left with a live call.
        """

    async def close(self) -> None:
        """Release resources; no `dial` is running when this is called."""
