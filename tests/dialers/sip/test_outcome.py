"""Table tests of the one function that turns a finished SIP call into an AttemptOutcome."""

from __future__ import annotations

import pytest

from voxcall.dialers.base import AttemptResult
from voxcall.dialers.sip.outcome import (
    MAX_CAUSE,
    CallRecord,
    Ending,
    attempt_outcome,
    bill_seconds,
)
from voxcall.domain.interaction import AnsweredBy

T0 = 1_700_000_000.0
ANSWERED, BUSY, NO_ANSWER, ERROR = (
    AttemptResult.ANSWERED,
    AttemptResult.BUSY,
    AttemptResult.NO_ANSWER,
    AttemptResult.ERROR,
)


def rejected(status: int, reason: str) -> CallRecord:
    return CallRecord(Ending.REJECTED, T0, T0 + 2, status=status, reason=reason)


TABLE: list[tuple[str, CallRecord, AttemptResult, int, str]] = [
    (
        "voice played, our BYE",
        CallRecord(
            Ending.HANGUP, T0, T0 + 5.2, 200, "OK", answered_at=T0 + 2, detail="voice played"
        ),
        ANSWERED,
        4,
        "200 OK; voice played",
    ),
    (
        "callee BYE after exactly 3 s",
        CallRecord(
            Ending.HANGUP, T0, T0 + 4.0, 200, "OK", answered_at=T0 + 1, detail="callee hung up"
        ),
        ANSWERED,
        3,
        "200 OK; callee hung up",
    ),
    ("486", rejected(486, "Busy Here"), BUSY, 0, "486 Busy Here"),
    ("600", rejected(600, "Busy Everywhere"), BUSY, 0, "600 Busy Everywhere"),
    ("480", rejected(480, "Temporarily Unavailable"), NO_ANSWER, 0, "480 Temporarily Unavailable"),
    ("far-end 408", rejected(408, "Request Timeout"), NO_ANSWER, 0, "408 Request Timeout"),
    ("403", rejected(403, "Forbidden"), ERROR, 0, "403 Forbidden"),
    ("404", rejected(404, "Not Found"), ERROR, 0, "404 Not Found"),
    ("484", rejected(484, "Address Incomplete"), ERROR, 0, "484 Address Incomplete"),
    ("503", rejected(503, "Service Unavailable"), ERROR, 0, "503 Service Unavailable"),
    ("302 is not followed", rejected(302, "Moved Temporarily"), ERROR, 0, "302 Moved Temporarily"),
    # The callee declining is a busy callee (retried); a 487 we did not CANCEL for is the
    # far end ending the ringing on its own: nobody answered.
    ("603", rejected(603, "Decline"), BUSY, 0, "603 Decline"),
    (
        "487 without our CANCEL",
        rejected(487, "Request Terminated"),
        NO_ANSWER,
        0,
        "487 Request Terminated",
    ),
    (
        "2xx with an unusable Contact",
        CallRecord(
            Ending.BAD_ANSWER,
            T0,
            T0 + 2.2,
            200,
            "OK",
            answered_at=T0 + 2,
            detail="unusable answer: Contact '<tel:+98>': unsupported URI scheme 'tel'",
        ),
        ERROR,
        1,
        "200 OK; unusable answer: Contact '<tel:+98>': unsupported URI scheme 'tel'",
    ),
    (
        "407 after our one retry",
        rejected(407, "Proxy Authentication Required"),
        ERROR,
        0,
        "407 Proxy Authentication Required",
    ),
    (
        "487 after our CANCEL",
        CallRecord(Ending.RING_TIMEOUT, T0, T0 + 30.1, 487, "Request Terminated"),
        NO_ANSWER,
        0,
        "ring timeout (487 Request Terminated)",
    ),
    (
        "no final response after our CANCEL",
        CallRecord(Ending.RING_TIMEOUT, T0, T0 + 62, detail="no final response after CANCEL"),
        NO_ANSWER,
        0,
        "ring timeout (no final response after CANCEL)",
    ),
    (
        "200 crossed our CANCEL: ACK, BYE, billed",
        CallRecord(
            Ending.RING_TIMEOUT,
            T0,
            T0 + 30.05,
            200,
            "OK",
            answered_at=T0 + 30.02,
            detail="answered after CANCEL",
        ),
        NO_ANSWER,
        1,
        "ring timeout (200 OK; answered after CANCEL)",
    ),
    ("Timer B", CallRecord(Ending.TIMER_B, T0, T0 + 32), ERROR, 0, "Timer B timeout"),
    (
        "ICMP",
        CallRecord(Ending.UNREACHABLE, T0, T0 + 0.01, detail="ICMP port unreachable"),
        ERROR,
        0,
        "ICMP port unreachable",
    ),
    (
        "no common codec",
        CallRecord(
            Ending.MEDIA_FAILURE,
            T0,
            T0 + 1.3,
            200,
            "OK",
            answered_at=T0 + 1.2,
            detail="no common codec",
        ),
        ERROR,
        1,
        "488 no common codec",
    ),
    (
        "no RTP port",
        CallRecord(Ending.LOCAL_FAILURE, T0, T0, detail="no free RTP port"),
        ERROR,
        0,
        "no free RTP port",
    ),
]


@pytest.mark.parametrize(
    ("record", "result", "bill_sec", "cause"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_attempt_outcome(
    record: CallRecord, result: AttemptResult, bill_sec: int, cause: str
) -> None:
    outcome = attempt_outcome(record)
    assert outcome.result is result
    assert outcome.bill_sec == bill_sec
    assert outcome.cause == cause
    assert (outcome.started_at, outcome.ended_at) == (record.started_at, record.ended_at)
    assert outcome.answered_at == record.answered_at


@pytest.mark.parametrize(
    ("answered", "ended", "expected"),
    [
        (None, T0 + 9, 0),
        (T0, T0, 0),
        (T0, T0 + 0.001, 1),
        (T0, T0 + 3.0, 3),  # an exact integer stays
        (T0 + 0.1, T0 + 3.1, 3),  # 3.0000000000000004 in floats
        (T0, T0 + 3.0001, 4),
        (T0 + 5, T0 + 4, 0),  # a clock step backwards never bills negative time
    ],
)
def test_bill_seconds(answered: float | None, ended: float, expected: int) -> None:
    assert bill_seconds(answered, ended) == expected


def test_hostile_reason_phrase_is_clipped() -> None:
    outcome = attempt_outcome(rejected(500, "x" * 5000))
    assert outcome.result is ERROR
    assert len(outcome.cause) == MAX_CAUSE
    assert outcome.cause.startswith("500 xxx")


def test_a_machine_hung_up_on_is_no_answer_with_its_seconds() -> None:
    record = CallRecord(
        Ending.MACHINE,
        T0,
        T0 + 5.5,
        200,
        "OK",
        answered_at=T0 + 2,
        detail="machine (long greeting (1520 ms))",
        answered_by=AnsweredBy.MACHINE,
    )
    outcome = attempt_outcome(record)
    assert outcome.result is AttemptResult.NO_ANSWER
    assert (outcome.bill_sec, outcome.answered_by) == (4, AnsweredBy.MACHINE)
    assert outcome.cause == "200 OK; machine (long greeting (1520 ms))"
