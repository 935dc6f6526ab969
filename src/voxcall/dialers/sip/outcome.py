"""How a SIP call ended, mapped to the scheduler's `AttemptOutcome`: one pure function.

The call state machine records *what happened* (`CallRecord`); `attempt_outcome` decides what
it *means*. Two 408s illustrate why the record keeps the difference: a 408 from the far end
means nobody picked up (NO_ANSWER), while our own Timer B firing means the trunk never
answered at all (ERROR).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from voxcall.dialers.base import AttemptOutcome, AttemptResult
from voxcall.domain.interaction import AnsweredBy

MAX_CAUSE = 120  # the store keeps 200 characters; a hostile reason phrase must not overflow it


class Ending(enum.Enum):
    """The kind of event that ended the call."""

    HANGUP = "hangup"  # answered, then a BYE (ours after the voice, or the callee's)
    REJECTED = "rejected"  # a final non-2xx response to the INVITE
    RING_TIMEOUT = "ring timeout"  # our CANCEL at the ring timeout (487, no final, or 200 race)
    TIMER_B = "Timer B timeout"  # no response at all to the INVITE within 64*T1
    UNREACHABLE = "unreachable"  # ICMP error or a lost TCP connection before any answer
    MEDIA_FAILURE = "media failure"  # answered, but the SDP answer was unusable: ACK, then BYE
    BAD_ANSWER = "bad answer"  # a 2xx whose Contact or Record-Route is unusable: ACK, then BYE
    LOCAL_FAILURE = "local failure"  # we could not place the call (e.g. no free RTP port)
    MACHINE = "machine"  # answered by a machine, and hung up on (machineDetection humansOnly)


@dataclass(frozen=True, slots=True)
class CallRecord:
    """What the call state machine saw. Times are Unix epoch seconds."""

    ending: Ending
    started_at: float
    ended_at: float  # the BYE (sent or received) for answered calls, else the final event
    status: int | None = None  # status code of the INVITE's final response, if one came
    reason: str = ""  # its reason phrase
    answered_at: float | None = None  # when the 2xx arrived
    detail: str = ""  # "voice played", "callee hung up", "no common codec", "ICMP ..."
    digits: str = ""  # the keys the callee pressed
    answered_by: AnsweredBy | None = None  # None: machine detection was off


# 603 Decline is the callee refusing the call, like 600 Busy Everywhere. A 487 we did not
# CANCEL for (a trunk ending the ringing on its own) is the far end giving up: no answer.
_BUSY = frozenset({486, 600, 603})
_NO_ANSWER = frozenset({408, 480, 487})


def bill_seconds(answered_at: float | None, ended_at: float) -> int:
    """Whole seconds from the answer to the hang-up, rounded up (an exact integer stays)."""
    if answered_at is None:
        return 0
    # Rounding to the microsecond first keeps float noise (3.0000000000000004) from
    # turning an exact 3 s into 4.
    return max(0, math.ceil(round(ended_at - answered_at, 6)))


def _status_text(record: CallRecord) -> str:
    return f"{record.status} {record.reason}".strip() if record.status is not None else ""


def _cause(record: CallRecord) -> str:
    status = _status_text(record)
    if record.ending in (Ending.HANGUP, Ending.MACHINE):
        text = f"{status}; {record.detail}" if record.detail else status
    elif record.ending is Ending.REJECTED:
        text = status
    elif record.ending is Ending.RING_TIMEOUT:
        parts = [p for p in (status, record.detail) if p]
        text = f"ring timeout ({'; '.join(parts)})" if parts else "ring timeout"
    elif record.ending is Ending.TIMER_B:
        text = Ending.TIMER_B.value
    elif record.ending is Ending.MEDIA_FAILURE:
        text = f"488 {record.detail}" if record.detail else "488 media failure"
    elif record.ending is Ending.BAD_ANSWER:
        text = f"{status}; {record.detail}"
    else:
        text = record.detail or record.ending.value
    return text[:MAX_CAUSE]


def _result(record: CallRecord) -> AttemptResult:
    if record.ending is Ending.HANGUP:
        return AttemptResult.ANSWERED
    if record.ending in (Ending.RING_TIMEOUT, Ending.MACHINE):
        return AttemptResult.NO_ANSWER
    if record.ending is Ending.REJECTED and record.status is not None:
        if record.status in _BUSY:
            return AttemptResult.BUSY
        if record.status in _NO_ANSWER:
            return AttemptResult.NO_ANSWER
    return AttemptResult.ERROR


def attempt_outcome(record: CallRecord) -> AttemptOutcome:
    """Classify one finished call.

    2xx then BYE -> ANSWERED; 486, 600, 603 -> BUSY; 480, a far-end 408 or 487, our CANCEL
    at the ring timeout (487, or a 200 that crossed the CANCEL and was hung up at once), a
    machine that machine detection hung up on -> NO_ANSWER; 403, 404, 484, 503, any other
    final failure, Timer B, ICMP errors, a failed send, a 2xx with an unusable Contact,
    Record-Route or SDP answer -> ERROR. bill_sec counts whenever a 2xx arrived, since the
    trunk bills it.
    """
    return AttemptOutcome(
        result=_result(record),
        started_at=record.started_at,
        ended_at=record.ended_at,
        answered_at=record.answered_at,
        bill_sec=bill_seconds(record.answered_at, record.ended_at),
        cause=_cause(record),
        digits=record.digits,
        answered_by=record.answered_by,
    )
