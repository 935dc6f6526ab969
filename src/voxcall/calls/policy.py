"""Retry policy: what an attempt's outcome makes of its call. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass

from voxcall.dialers.base import AttemptResult
from voxcall.domain.calls import CallStatus

_FINAL_STATUS = {
    AttemptResult.ANSWERED: CallStatus.NORMAL,
    AttemptResult.BUSY: CallStatus.USER_BUSY,
    AttemptResult.NO_ANSWER: CallStatus.NO_ANSWER,
    AttemptResult.ERROR: CallStatus.ERROR,
}
_RETRIED = frozenset({AttemptResult.BUSY, AttemptResult.NO_ANSWER})


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """`status` is final, or WAITING with the time the next attempt is due."""

    status: CallStatus
    retry_at: float | None = None


def decide(
    result: AttemptResult,
    *,
    attempts_made: int,
    retry_count: int,
    retry_interval: float,
    ended_at: float,
) -> RetryDecision:
    """Busy and no-answer are retried while fewer than `1 + retry_count` attempts were made."""
    if result in _RETRIED and attempts_made < 1 + retry_count:
        return RetryDecision(CallStatus.WAITING, ended_at + retry_interval)
    return RetryDecision(_FINAL_STATUS[result])
