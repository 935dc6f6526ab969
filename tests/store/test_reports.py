"""The console's reads on SQLite and PostgreSQL: the day's summary, the 10-minute timeline,
calls in progress, keyset pages of calls and of the ledger, tokens and redelivery."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from voxcall.calls.dialers import new_dialer
from voxcall.domain.calls import AttemptRecord, CallStatus, NewCall
from voxcall.domain.projects import Project
from voxcall.domain.reports import BUCKET, CallCursor, CallFilter, summarise, timeline_of
from voxcall.domain.voices import Voice
from voxcall.store.store import Store


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    store = Store.open(store_url, create=True)
    store.add_dialer(new_dialer("d1", "sandbox", "D1", {}, channels=100, cps=1000))
    yield store
    store.close()


def _calls(
    store: Store,
    project: Project,
    dates: list[int],
    campaign: str | None = None,
    *,
    reserve: bool = False,
) -> list[str]:
    voice = uuid.uuid4().hex
    store.add_voice(Voice(voice, project.id, "v", "wav", 1, 1.0, 0))
    calls = [
        NewCall(
            id=uuid.uuid4().hex,
            project_id=project.id,
            campaign_id=campaign,
            voice_id=voice,
            national_number=f"0912{i:07d}",
            e164=f"+98912{i:07d}",
            dialer_id=None,
            retry_count=0,
            retry_interval=None,
            request_date=when,
            expires_at=when + 86400,
            reserved_milli=2000 if reserve else 0,
        )
        for i, when in enumerate(dates)
    ]
    return [c.id for c in store.insert_calls(calls)]


def _answer(store: Store, bill_sec: int, price: int) -> None:
    (dialer,) = store.list_dialers()
    (claimed,) = store.claim_due(dialer, 1, time.time() + 10**6)
    store.finish_attempt(
        claimed.call.id,
        AttemptRecord(
            attempt_id=claimed.attempt_id,
            result="ANSWERED",
            answered_at=claimed.started_at + 2,
            ended_at=claimed.started_at + 2 + bill_sec,
            bill_sec=bill_sec,
            billed_sec=bill_sec,
            cause="voice played",
            call_status=CallStatus.NORMAL,
            next_attempt_at=None,
            price_milli=price,
        ),
    )


def test_summary_timeline_and_calls_in_progress(store: Store) -> None:
    project = store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    store.credit(project.id, 10**6, kind="topup", note="")
    start = 1_800_000_000 // BUCKET * BUCKET
    _calls(store, project, [start + 5, start + BUCKET + 1, start + 3 * BUCKET - 1], reserve=True)
    _answer(store, bill_sec=7, price=1500)
    (dialer,) = store.list_dialers()
    (live,) = store.claim_due(dialer, 1, time.time() + 10**6)
    _calls(store, project, [start - 10])  # the day before: in neither

    activity = store.activity(project.id, start, 3)
    summary = summarise(activity)
    assert summary.by_status == {CallStatus.WAITING: 2, CallStatus.NORMAL: 1}
    assert (summary.attempted, summary.answered) == (2, 1)  # one answered, one dialing
    assert (summary.billed_seconds, summary.spend_milli) == (7, 1500)
    assert summary.answer_rate == 0.5 and summary.average_bill_sec == 7.0
    timeline = timeline_of(activity, start, 3)
    assert [sum(s[i] for s in timeline.counts.values()) for i in range(3)] == [1, 1, 1]
    assert [c.id for c in store.calls_in_progress(project.id)] == [live.call.id]
    other = store.create_project("q", rate_limit=10, allowed_regions=["IR"])
    assert store.calls_in_progress(other.id) == []
    assert store.activity(other.id, 0, 10**6) == []


def test_pages_of_calls_by_key(store: Store) -> None:
    project = store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    other = store.create_project("q", rate_limit=10, allowed_regions=["IR"])
    ids = _calls(store, project, [1_000 + i // 3 for i in range(25)], campaign="c" * 32)
    _calls(store, other, [1_000] * 5)
    seen: list[str] = []
    after: CallCursor | None = None
    while True:
        page = store.call_page(project.id, CallFilter(), after, 7)
        seen += [c.id for c in page.calls]
        if page.next is None:
            break
        after = CallCursor.parse(str(page.next))
    assert sorted(seen) == sorted(ids) and len(seen) == 25
    dates = [store.get_call(project.id, i).request_date for i in seen]  # type: ignore[union-attr]
    assert dates == sorted(dates, reverse=True)
    only = store.call_page(project.id, CallFilter(number="09120000004"), None, 10)
    assert [c.national_number for c in only.calls] == ["09120000004"]
    assert store.call_page(project.id, CallFilter(since=1_007, until=1_008), None, 50).calls
    assert len(store.call_page(project.id, CallFilter(since=1_007), None, 50).calls) == 4
    assert store.call_page(project.id, CallFilter(campaign_id="d" * 32), None, 5).calls == []
    waiting = CallFilter(status=CallStatus.WAITING)
    assert len(store.call_page(project.id, waiting, None, 50).calls) == 25


def test_ledger_pages_tokens_and_redelivery(store: Store) -> None:
    project = store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    for amount in range(1, 8):
        store.credit(project.id, amount * 1000, kind="topup", note=str(amount))
    first = store.ledger_page(project.id, None, 3)
    second = store.ledger_page(project.id, first.next, 3)
    third = store.ledger_page(project.id, second.next, 3)
    notes = [e.note for page in (first, second, third) for e in page.entries]
    assert notes == ["7", "6", "5", "4", "3", "2", "1"] and third.next is None
    assert first.entries[0].balance_after_milli == 28_000

    store.add_token(project.id, prefix="abcdefgh", token_hash="h" * 64)
    assert [t.prefix for t in store.tokens(project.id)] == ["abcdefgh"]
    assert store.redeliver(project.id, uuid.uuid4().hex) is False
    assert store.deliveries(project.id) == []
