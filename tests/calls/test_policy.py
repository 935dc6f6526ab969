import pytest

from voxcall.calls.policy import RetryDecision, decide
from voxcall.dialers.base import AttemptResult
from voxcall.domain.calls import CallStatus

R = AttemptResult


@pytest.mark.parametrize(
    ("result", "attempts_made", "retry_count", "expected"),
    [
        (R.ANSWERED, 1, 1, RetryDecision(CallStatus.NORMAL)),
        (R.ERROR, 1, 5, RetryDecision(CallStatus.ERROR)),  # a rejected call is never retried
        (R.BUSY, 1, 0, RetryDecision(CallStatus.USER_BUSY)),
        (R.NO_ANSWER, 1, 0, RetryDecision(CallStatus.NO_ANSWER)),
        (R.BUSY, 1, 1, RetryDecision(CallStatus.WAITING, 160.0)),
        (R.NO_ANSWER, 1, 1, RetryDecision(CallStatus.WAITING, 160.0)),
        (R.BUSY, 2, 1, RetryDecision(CallStatus.USER_BUSY)),
        (R.NO_ANSWER, 5, 5, RetryDecision(CallStatus.WAITING, 160.0)),
        (R.NO_ANSWER, 6, 5, RetryDecision(CallStatus.NO_ANSWER)),
        (R.ANSWERED, 3, 5, RetryDecision(CallStatus.NORMAL)),
    ],
)
def test_decide(
    result: AttemptResult, attempts_made: int, retry_count: int, expected: RetryDecision
) -> None:
    decision = decide(
        result,
        attempts_made=attempts_made,
        retry_count=retry_count,
        retry_interval=60.0,
        ended_at=100.0,
    )
    assert decision == expected


def test_at_most_one_plus_retry_count_attempts() -> None:
    for retry_count in range(6):
        attempts = 0
        status = CallStatus.WAITING
        while status is CallStatus.WAITING:
            attempts += 1
            status = decide(
                R.BUSY,
                attempts_made=attempts,
                retry_count=retry_count,
                retry_interval=1,
                ended_at=0,
            ).status
        assert attempts == 1 + retry_count
        assert status is CallStatus.USER_BUSY
