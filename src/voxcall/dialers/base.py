"""The dialer driver interface: what the scheduler asks of a trunk.

A driver places exactly one attempt per `dial` call and reports how it ended. It knows
nothing of HTTP, SQL or retries: those belong to `voxcall.calls`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from voxcall.audio.amd import MAX_DECISION_MS, MAX_GREETING_MS


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


# Seconds the callee's audio may lag the call's clock: a call bounds its waits for the
# decision and for a voicemail's greeting by these, whether or not audio comes.
AUDIO_SLACK = 1.0
DECISION_BOUND = MAX_DECISION_MS / 1000 + AUDIO_SLACK
GREETING_BOUND = MAX_GREETING_MS / 1000 + AUDIO_SLACK


class MachineDetection(enum.Enum):
    """Answering-machine detection of an attempt (api.md §11 `machineDetection`)."""

    OFF = "off"
    DETECT = "detect"  # report who answered; the message starts at answer
    VOICEMAIL = "voicemail"  # on a machine, play the message after its greeting or beep
    HUMANS_ONLY = "humansOnly"  # on a machine, hang up without playing

    def longest_talk(self, talk: float) -> float:
        """The longest an answered call stays up whose message (with what follows it, such
        as collecting keys) takes `talk` seconds: the message may wait for the decision, or
        a machine's greeting, and the call is not hung up before the decision."""
        if self is MachineDetection.DETECT:
            return max(talk, DECISION_BOUND)
        if self is MachineDetection.HUMANS_ONLY:
            return DECISION_BOUND + talk
        if self is MachineDetection.VOICEMAIL:
            return GREETING_BOUND + talk
        return talk


class AnsweredBy(enum.Enum):
    """Who answered, as machine detection decided it."""

    HUMAN = "human"
    MACHINE = "machine"
    UNKNOWN = "unknown"  # not decided within the detector's bound


KEYS = "0123456789*#ABCD"  # the sixteen DTMF keys, in RFC 4733 event-code order


@dataclass(frozen=True, slots=True)
class Gather:
    """Key presses to collect during and after the message (api.md §11 `gather`).

    The first key pressed while the message plays stops it (barge-in), except `repeat_key`,
    which restarts it (at most MAX_REPEATS times). After the message the call stays up until
    `max_digits` keys, `finish_on_key` or `timeout` seconds without one.
    """

    max_digits: int
    timeout: float = 5.0
    finish_on_key: str | None = None
    repeat_key: str | None = None

    MAX_REPEATS = 3

    def __post_init__(self) -> None:
        if not 1 <= self.max_digits <= 16:
            raise ValueError(f"max_digits: must be between 1 and 16, got {self.max_digits}")
        if not 1 <= self.timeout <= 30:
            raise ValueError(f"timeout: must be between 1 and 30 seconds, got {self.timeout}")
        for name, key in (("finish_on_key", self.finish_on_key), ("repeat_key", self.repeat_key)):
            if key is not None and (len(key) != 1 or key not in KEYS):
                raise ValueError(f"{name}: must be one of {KEYS}, got {key!r}")
        if self.finish_on_key is not None and self.finish_on_key == self.repeat_key:
            raise ValueError("repeat_key: must differ from finish_on_key")

    def longest_talk(self, message: float) -> float:
        """The longest a call with these settings stays up from the start of a `message`
        seconds long: each repeat may come just before the message ends, or just before the
        timeout after it, and each key but the last just before the timeout."""
        repeats = self.MAX_REPEATS if self.repeat_key is not None else 0
        return (1 + repeats) * message + (repeats + self.max_digits) * self.timeout


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
