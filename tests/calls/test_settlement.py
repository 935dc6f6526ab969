import pytest

from voxcall.billing.money import parse_toman
from voxcall.calls.settlement import Settlement, attempt_record, settle
from voxcall.dialers.base import AttemptOutcome, AttemptResult
from voxcall.domain.calls import Call, CallStatus, ClaimedAttempt, Phase
from voxcall.domain.interaction import AnsweredBy
from voxcall.domain.money import Tariff

R = AttemptResult
# 600 Toman a minute in 30 s increments, 5 Toman to connect: 40 s cost 5 + 2 x 300 Toman.
TARIFF = Tariff(parse_toman("600"), 30, parse_toman("5"))
NOW = 1_000.0


def _claim(
    number: int = 1, retry_count: int = 2, retry_interval: int | None = None
) -> ClaimedAttempt:
    call = Call(
        id="c1",
        project_id="p1",
        campaign_id=None,
        voice_id="v1",
        national_number="09121234567",
        e164="+989121234567",
        dialer_id=None,
        status=CallStatus.WAITING,
        phase=Phase.DIALING,
        retry_count=retry_count,
        retry_interval=retry_interval,
        request_date=900,
        expires_at=10_000,
        next_attempt_at=NOW - 60,
        execution_date=int(NOW - 60),
        attempts=number,
        bill_sec=0,
        price_milli=0,
        reserved_milli=parse_toman("1000"),
        cause="",
    )
    return ClaimedAttempt("a1", number, call, "d1", NOW - 60)


def _settle(
    result: AttemptResult, bill_sec: int = 0, claim: ClaimedAttempt | None = None
) -> Settlement:
    answered = NOW - 50 if bill_sec else None
    outcome = AttemptOutcome(result, NOW - 60, NOW, answered_at=answered, bill_sec=bill_sec)
    return settle(outcome, claim or _claim(), TARIFF, dialer_retry_interval=60, now=NOW)


def test_an_answered_call_is_final_billed_and_priced_by_the_tariff() -> None:
    settlement = _settle(R.ANSWERED, bill_sec=40)
    assert settlement == Settlement(CallStatus.NORMAL, None, 40, parse_toman("605"), billed=True)
    assert settlement.billed


def test_an_answered_call_of_no_second_costs_one_increment() -> None:
    assert _settle(R.ANSWERED).price_milli == TARIFF.price(0) == parse_toman("305")


@pytest.mark.parametrize("result", [R.BUSY, R.NO_ANSWER])
def test_busy_and_no_answer_are_retried_after_the_dialers_interval(result: AttemptResult) -> None:
    settlement = _settle(result)
    assert settlement == Settlement(CallStatus.WAITING, NOW + 60)
    assert not settlement.billed


def test_the_calls_own_interval_wins_over_the_dialers() -> None:
    settlement = _settle(R.BUSY, claim=_claim(retry_interval=5))
    assert settlement.retry_at == NOW + 5


@pytest.mark.parametrize(
    ("result", "status"), [(R.BUSY, CallStatus.USER_BUSY), (R.NO_ANSWER, CallStatus.NO_ANSWER)]
)
def test_the_last_attempt_allowed_is_final_and_free(
    result: AttemptResult, status: CallStatus
) -> None:
    assert _settle(result, claim=_claim(number=3, retry_count=2)) == Settlement(status)


def test_an_error_after_an_answer_is_final_and_not_billed() -> None:
    # The answered seconds stay in the attempt's record; the call bills none of them.
    settlement = _settle(R.ERROR, bill_sec=12)
    assert settlement == Settlement(CallStatus.ERROR)
    assert not settlement.billed


def test_a_free_tariff_bills_the_seconds_at_no_price() -> None:
    outcome = AttemptOutcome(R.ANSWERED, NOW - 60, NOW, answered_at=NOW - 7, bill_sec=7)
    settlement = settle(outcome, _claim(), Tariff(0), dialer_retry_interval=60, now=NOW)
    assert settlement == Settlement(CallStatus.NORMAL, None, 7, 0, billed=True)
    assert settlement.billed


def test_the_record_keeps_the_attempts_seconds_and_the_calls_settlement() -> None:
    outcome = AttemptOutcome(R.ERROR, NOW - 60, NOW, answered_at=NOW - 12, bill_sec=12, cause="x")
    claim = _claim()
    record = attempt_record(claim, outcome, Settlement(CallStatus.ERROR))
    assert (record.attempt_id, record.result, record.answered_at, record.ended_at) == (
        "a1",
        "ERROR",
        NOW - 12,
        NOW,
    )
    assert (record.bill_sec, record.cause) == (12, "x")  # the attempt's, for the operator
    assert (record.call_status, record.next_attempt_at, record.price_milli) == (
        CallStatus.ERROR,
        None,
        0,
    )


def _machine_hang_up(number: int, retry_count: int = 2) -> Settlement:
    # humansOnly hung up on a voicemail 4 s after the answer (api.md §11).
    outcome = AttemptOutcome(
        R.NO_ANSWER, NOW - 60, NOW, NOW - 4, bill_sec=4, answered_by=AnsweredBy.MACHINE
    )
    claim = _claim(number=number, retry_count=retry_count)
    return settle(outcome, claim, TARIFF, dialer_retry_interval=60, now=NOW)


def test_a_machine_hung_up_on_is_retried_like_no_answer() -> None:
    assert _machine_hang_up(number=1) == Settlement(CallStatus.WAITING, NOW + 60)


def test_a_machine_hung_up_on_is_final_as_no_answer_and_billed_for_its_seconds() -> None:
    settlement = _machine_hang_up(number=3)
    assert settlement == Settlement(CallStatus.NO_ANSWER, None, 4, TARIFF.price(4), billed=True)
    assert settlement.billed


def test_a_machine_hung_up_on_at_its_answer_is_billed_one_increment() -> None:
    # 0 answered seconds still cost the tariff's first increment: billed agrees with price.
    outcome = AttemptOutcome(
        R.NO_ANSWER, NOW - 60, NOW, NOW, bill_sec=0, answered_by=AnsweredBy.MACHINE
    )
    settlement = settle(outcome, _claim(number=3), TARIFF, dialer_retry_interval=60, now=NOW)
    assert settlement == Settlement(CallStatus.NO_ANSWER, None, 0, TARIFF.price(0), billed=True)
    assert settlement.price_milli > 0


def test_a_no_answer_without_a_machine_stays_free() -> None:
    outcome = AttemptOutcome(R.NO_ANSWER, NOW - 60, NOW, answered_by=AnsweredBy.HUMAN)
    claim = _claim(number=3)
    settlement = settle(outcome, claim, TARIFF, dialer_retry_interval=60, now=NOW)
    assert settlement == Settlement(CallStatus.NO_ANSWER) and not settlement.billed


def test_the_record_carries_what_the_call_is_billed() -> None:
    outcome = AttemptOutcome(R.ANSWERED, NOW - 60, NOW, answered_at=NOW - 40, bill_sec=40)
    record = attempt_record(_claim(), outcome, _settle(R.ANSWERED, bill_sec=40))
    assert (record.bill_sec, record.billed_sec, record.price_milli) == (40, 40, parse_toman("605"))
