"""Settlement of one attempt: what its outcome makes of its call, and what the call costs.

The one place that decides both: whether the call is retried (by `policy.decide`, the retry
rule) and, when it is final, whether it is billed and its price (by the dialer's tariff).
The store only writes what this returns. A pure function.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from voxcall.calls.policy import decide
from voxcall.dialers.base import AttemptOutcome, AttemptResult
from voxcall.domain.calls import AttemptRecord, CallStatus, ClaimedAttempt
from voxcall.domain.interaction import AnsweredBy
from voxcall.domain.money import Tariff


@dataclass(frozen=True, slots=True)
class Settlement:
    """`status` WAITING with the time the next attempt is due, or final. A billed call
    carries its billSec and price (a price even for 0 seconds: one increment); every other
    one bills 0 seconds and costs nothing."""

    status: CallStatus
    retry_at: float | None = None
    bill_sec: int = 0
    price_milli: int = 0
    billed: bool = False


def settle(
    outcome: AttemptOutcome,
    claim: ClaimedAttempt,
    tariff: Tariff,
    *,
    dialer_retry_interval: float,
    now: float,
) -> Settlement:
    """What `outcome`, the end of `claim`'s attempt on a dialer of `tariff`, means.

    A retry is due the call's own retry interval, else the dialer's, after `now`.
    """
    call = claim.call
    decision = decide(
        outcome.result,
        attempts_made=claim.number,
        retry_count=call.retry_count,
        retry_interval=call.retry_interval or dialer_retry_interval,
        ended_at=now,
    )
    unbilled = Settlement(decision.status, decision.retry_at)
    if not _billed(outcome, decision.status):
        return unbilled
    return replace(
        unbilled,
        bill_sec=outcome.bill_sec,
        price_milli=tariff.price(outcome.bill_sec),
        billed=True,
    )


def _billed(outcome: AttemptOutcome, status: CallStatus) -> bool:
    """Only NORMAL is billed, and a final NO_ANSWER that hung up on a machine (below), even
    at 0 answered seconds. The answered seconds of an attempt that failed (answered, then an
    error) stay in its attempt's record, for the operator."""
    return status is CallStatus.NORMAL or _hung_up_on_a_machine(outcome, status)


def _hung_up_on_a_machine(outcome: AttemptOutcome, status: CallStatus) -> bool:
    """A final NO_ANSWER whose attempt `humansOnly` hung up on a machine (api.md §11): the
    carrier bills the operator for its answered seconds, so the call is billed for them."""
    return (
        status is CallStatus.NO_ANSWER
        and outcome.result is AttemptResult.NO_ANSWER
        and outcome.answered_by is AnsweredBy.MACHINE
        and outcome.answered_at is not None
    )


def attempt_record(
    claim: ClaimedAttempt, outcome: AttemptOutcome, settlement: Settlement
) -> AttemptRecord:
    """What the store writes for the attempt and its call: the outcome as the dialer told
    it, and the call as `settlement` leaves it."""
    return AttemptRecord(
        attempt_id=claim.attempt_id,
        result=outcome.result.name,
        answered_at=outcome.answered_at,
        ended_at=outcome.ended_at,
        bill_sec=outcome.bill_sec,
        cause=outcome.cause,
        call_status=settlement.status,
        next_attempt_at=settlement.retry_at,
        billed_sec=settlement.bill_sec,
        price_milli=settlement.price_milli,
        digits=outcome.digits,
        answered_by=outcome.answered_by,
    )
