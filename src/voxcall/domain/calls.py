"""A call request and its attempts: statuses, where a call is in the queue, and the values
the call queue hands to the scheduler and takes back from it."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from voxcall.domain.interaction import AnsweredBy, Gather, MachineDetection


class CallStatus(enum.Enum):
    """The public status of a call request (api.md §2), with its Bitel status code."""

    WAITING = 0
    NORMAL = 1
    NO_ANSWER = 2
    USER_BUSY = 3
    EXPIRED = 10
    ERROR = 11
    UNKNOWN = 20

    @property
    def code(self) -> int:
        return self.value

    @property
    def is_final(self) -> bool:
        return self is not CallStatus.WAITING


class Phase(enum.Enum):
    """Where a WAITING call is in the scheduler; every final call is `FINAL`."""

    QUEUED = "queued"
    DIALING = "dialing"
    FINAL = "final"


class CallClass(enum.IntEnum):
    """Which calls go first (api.md §10): the claim takes the lowest class that has a due
    call, and shares each class round-robin between projects and then their campaigns."""

    ONE_TIME_CODE = 0
    SINGLE = 1  # single and TTS calls
    BATCH = 2
    CAMPAIGN = 3


def lane_of(call_class: CallClass, project_id: str, campaign_id: str | None) -> str:
    """The calls a claim shares round-robin with others of their class: a project's calls
    of one class, each of its campaigns apart (a batch is not a campaign here: a project's
    batches share one lane, as its single calls do)."""
    campaign = campaign_id if call_class is CallClass.CAMPAIGN else None
    return f"{project_lane(call_class, project_id)}:{campaign or ''}"


def project_lane(call_class: CallClass, project_id: str) -> str:
    """A project's share of a class, which its lanes divide between them."""
    return f"{call_class.value}:{project_id}"


class AttemptState(enum.Enum):
    """Where an attempt is: live on a channel, ended with a known result, or ended without
    one (its worker died or stopped before the dialer reported)."""

    DIALING = "dialing"
    DONE = "done"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Call:
    id: str
    project_id: str
    campaign_id: str | None
    voice_id: str
    national_number: str
    e164: str
    dialer_id: str | None
    status: CallStatus
    phase: Phase
    retry_count: int
    retry_interval: int | None
    request_date: int
    expires_at: int
    next_attempt_at: float
    execution_date: int
    attempts: int
    bill_sec: int
    price_milli: int
    reserved_milli: int
    cause: str
    # api.md §11: what the request asked for, and what its last answered attempt found.
    gather: Gather | None = None
    machine_detection: MachineDetection = MachineDetection.OFF
    digits: str = ""
    answered_by: AnsweredBy | None = None
    call_class: CallClass = CallClass.SINGLE


def longest_talk(
    voice_seconds: float,
    gather: Gather | None,
    machine_detection: MachineDetection = MachineDetection.OFF,
) -> float:
    """The most answered seconds a call may take: its voice, with `gather` the repeats and
    the waits for keys, and with machine detection the wait for the decision or a
    voicemail's greeting. What its reservation covers and its watchdog allows."""
    talk = gather.longest_talk(voice_seconds) if gather is not None else voice_seconds
    return machine_detection.longest_talk(talk)


@dataclass(frozen=True, slots=True)
class NewCall:
    """A call request as accepted, before the store gives it a row."""

    id: str
    project_id: str
    campaign_id: str | None
    voice_id: str
    national_number: str
    e164: str
    dialer_id: str | None
    retry_count: int
    retry_interval: int | None
    request_date: int
    expires_at: int
    reserved_milli: int = 0  # the most this call can cost, held from the balance
    call_class: CallClass = CallClass.SINGLE
    gather: Gather | None = None
    machine_detection: MachineDetection = MachineDetection.OFF
    not_before: float | None = None  # its window opens then (§10); None: due at once


@dataclass(frozen=True, slots=True)
class ClaimedAttempt:
    """An attempt the store has recorded as started: the dialer may now place it."""

    attempt_id: str
    number: int
    call: Call
    dialer_id: str
    started_at: float


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """How an attempt ended, and what that makes of its call (decided by `voxcall.calls`)."""

    attempt_id: str
    result: str  # AttemptResult name, or "UNKNOWN"
    answered_at: float | None
    ended_at: float
    bill_sec: int
    cause: str
    call_status: CallStatus  # WAITING when the call will be retried
    next_attempt_at: float | None  # set when call_status is WAITING
    # What the call is billed: its billSec and price (both 0 unless it is billed).
    billed_sec: int = 0
    price_milli: int = 0
    digits: str = ""  # the keys pressed (api.md §11)
    answered_by: AnsweredBy | None = None  # None: machine detection was off
    # when the retry was due by its back-off, if its calling window pushed next_attempt_at
    window_held_from: float | None = None


@dataclass(frozen=True, slots=True)
class Backlog:
    """Work the database holds that is not done yet (for metrics)."""

    queued_calls: int
    dialing_calls: int
    pending_webhooks: int


@dataclass(frozen=True, slots=True)
class Ending:
    """How a call ends without an attempt settling it: its final status and cause."""

    status: CallStatus
    cause: str


def expired(why: str) -> Ending:
    """A call that waits for its next attempt and will have none is EXPIRED (api.md §2)."""
    return Ending(CallStatus.EXPIRED, why)


def outcome_unknown(why: str) -> Ending:
    """A call whose attempt was live when `why` happened is UNKNOWN, and never re-dialled:
    the callee may have been reached (api.md §2)."""
    return Ending(CallStatus.UNKNOWN, f"outcome unknown: {why} during the attempt")


TIME_TO_LIVE_PASSED = expired("time to live passed")
CANCELLED_BY_CLIENT = expired("cancelled by the client")
CAMPAIGN_CANCELLED = expired("campaign cancelled")
LISTED_WHILE_WAITING = expired("do-not-call: the number was listed while the call waited")
