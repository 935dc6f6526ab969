"""What a call asks of the callee beyond hearing the message (api.md §11): the keys to
collect (`Gather`), answering-machine detection (`MachineDetection`) and who answered
(`AnsweredBy`). Plain values shared by the API, the queue and the dialers."""

from __future__ import annotations

import enum
from dataclasses import dataclass

MAX_DECISION_MS = 5000  # the decision is bounded: "unknown" after this much audio
MAX_GREETING_MS = 30000  # a voicemail's message starts by then, its greeting over or not

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
