import pytest

from voxcall.domain.calls import (
    CAMPAIGN_CANCELLED,
    CANCELLED_BY_CLIENT,
    LISTED_WHILE_WAITING,
    TIME_TO_LIVE_PASSED,
    CallStatus,
    Ending,
    expired,
    outcome_unknown,
)


@pytest.mark.parametrize(
    "ending", [TIME_TO_LIVE_PASSED, CANCELLED_BY_CLIENT, CAMPAIGN_CANCELLED, LISTED_WHILE_WAITING]
)
def test_a_call_that_waited_for_an_attempt_it_will_not_get_expires(ending: Ending) -> None:
    assert ending.status is CallStatus.EXPIRED and ending.status.is_final
    assert ending.cause


def test_expired_keeps_its_reason_as_the_cause() -> None:
    assert expired("time to live passed") == Ending(CallStatus.EXPIRED, "time to live passed")


def test_a_call_cut_off_mid_attempt_is_unknown_naming_what_happened() -> None:
    assert outcome_unknown("voxcall stopped") == Ending(
        CallStatus.UNKNOWN, "outcome unknown: voxcall stopped during the attempt"
    )
