"""The overview's day from its 10-minute buckets: the summary from a bucket on, the chart."""

from __future__ import annotations

from voxcall.domain.calls import CallStatus
from voxcall.domain.reports import Activity, CallCursor, summarise, timeline_of

ACTIVITY = [
    Activity(0, CallStatus.NORMAL, 2, 2, 30, 3000),
    Activity(0, CallStatus.NO_ANSWER, 1, 1, 0, 0),
    Activity(2, CallStatus.NORMAL, 1, 1, 10, 1000),
    Activity(2, CallStatus.WAITING, 4, 0, 0, 0),
]


def test_the_summary_counts_the_buckets_from_one_on() -> None:
    whole = summarise(ACTIVITY)
    assert whole.by_status == {
        CallStatus.NORMAL: 3,
        CallStatus.NO_ANSWER: 1,
        CallStatus.WAITING: 4,
    }
    assert (whole.attempted, whole.answered, whole.billed_seconds, whole.spend_milli) == (
        4,
        3,
        40,
        4000,
    )
    assert whole.answer_rate == 0.75 and whole.average_bill_sec == 40 / 3
    later = summarise(ACTIVITY, from_bucket=1)
    assert later.by_status == {CallStatus.NORMAL: 1, CallStatus.WAITING: 4}
    assert (later.answer_rate, later.average_bill_sec) == (1.0, 10.0)
    empty = summarise([])
    assert (empty.answer_rate, empty.average_bill_sec) == (None, None)


def test_the_timeline_has_a_series_per_status() -> None:
    timeline = timeline_of(ACTIVITY, 600, 3)
    assert timeline.counts == {
        CallStatus.NORMAL: [2, 0, 1],
        CallStatus.NO_ANSWER: [1, 0, 0],
        CallStatus.WAITING: [0, 0, 4],
    }


def test_a_cursor_reads_back_what_it_wrote() -> None:
    cursor = CallCursor(1_700_000_000, "ab" * 16)
    assert CallCursor.parse(str(cursor)) == cursor
    for bad in ("", "x.y", "12", "12.", "-1." + "a" * 32, "1." + "a" * 40, "1.a;b"):
        assert CallCursor.parse(bad) is None, bad
