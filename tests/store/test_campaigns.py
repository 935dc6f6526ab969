"""Campaigns in the store, on SQLite and PostgreSQL: the list stored with the campaign, the
release of its numbers (channels, pacing, money), pause, cancel, pages and the report."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from voxcall.domain.calls import AttemptRecord, CallStatus, Phase
from voxcall.domain.campaigns import (
    CampaignPolicy,
    CampaignState,
    NewCampaign,
    RejectedLine,
    Skips,
)
from voxcall.domain.projects import Project
from voxcall.domain.voices import Voice
from voxcall.store import schema
from voxcall.store.campaigns import EmptyList, ListBatch
from voxcall.store.store import Store


@pytest.fixture
def project(store: Store) -> Project:
    return store.create_project("p", rate_limit=10, allowed_regions=["IR"])


def _numbers(n: int) -> list[tuple[int, str, str]]:
    return [(i + 2, f"0912{i:07d}", f"+98912{i:07d}") for i in range(n)]


def _create(
    store: Store,
    project: Project,
    n: int,
    *,
    reservation: int = 0,
    start_at: int | None = None,
    end_at: int | None = None,
    calls_per_minute: int | None = None,
) -> str:
    voice_id = uuid.uuid4().hex
    store.add_voice(Voice(voice_id, project.id, "v", "wav", 1, 1.0, 0))
    now = int(time.time())
    campaign = store.create_campaign(
        NewCampaign(
            id=uuid.uuid4().hex,
            project_id=project.id,
            name="spring",
            policy=CampaignPolicy(
                voice_id=voice_id,
                dialer_id="d1",
                retry_count=0,
                retry_interval=None,
                start_at=now if start_at is None else start_at,
                end_at=now + 3600 if end_at is None else end_at,
                window=None,
                max_channels=None,
                calls_per_minute=calls_per_minute,
                reservation_milli=reservation,
            ),
            created_at=now,
        ),
        [ListBatch.of(_numbers(n)[i : i + 7000]) for i in range(0, n, 7000)],
        lambda: (Skips(invalid=1, duplicate=2), (RejectedLine(1, "abc", "invalid"),)),
    )
    return campaign.id


def _finish_all(store: Store, *, status: CallStatus = CallStatus.NORMAL, price: int = 0) -> int:
    claimed = store.claim_due(store.get_dialer("d1"), 100, time.time())  # type: ignore[arg-type]
    store.finish_attempts(
        [
            (
                a.call.id,
                AttemptRecord(
                    attempt_id=a.attempt_id,
                    result="ANSWERED",
                    answered_at=time.time(),
                    ended_at=time.time(),
                    bill_sec=3,
                    cause="",
                    call_status=status,
                    next_attempt_at=None,
                    price_milli=price,
                ),
            )
            for a in claimed
        ]
    )
    return len(claimed)


def test_the_whole_list_is_stored_with_the_campaign(store: Store, project: Project) -> None:
    campaign_id = _create(store, project, 25_000)
    campaign = store.get_campaign(project.id, campaign_id)
    assert campaign is not None
    assert (campaign.total, campaign.released) == (25_000, 0)
    assert campaign.counts[CallStatus.WAITING] == 25_000
    assert campaign.skips == Skips(invalid=1, duplicate=2)
    assert campaign.rejected == (RejectedLine(1, "abc", "invalid"),)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(schema.campaign_numbers).order_by(schema.campaign_numbers.c.position)
        ).all()
    assert [(r.line, r.national_number, r.e164) for r in rows] == _numbers(25_000)
    assert store.get_campaign("another project", campaign_id) is None


def _no_skips() -> tuple[Skips, tuple[RejectedLine, ...]]:
    return Skips(), ()


def test_a_failed_import_leaves_nothing(store: Store, project: Project) -> None:
    def broken() -> Iterator[ListBatch]:
        yield ListBatch.of(_numbers(10))
        raise RuntimeError("the upload broke off")

    voice_id = uuid.uuid4().hex
    store.add_voice(Voice(voice_id, project.id, "v", "wav", 1, 1.0, 0))
    policy = CampaignPolicy(voice_id, None, 0, None, 0, 10**10, None, None, None, 0)
    with pytest.raises(RuntimeError):
        store.create_campaign(
            NewCampaign(uuid.uuid4().hex, project.id, "x", policy, 0), broken(), _no_skips
        )
    with pytest.raises(EmptyList):
        store.create_campaign(
            NewCampaign(uuid.uuid4().hex, project.id, "x", policy, 0), [ListBatch.of([])], _no_skips
        )
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.campaigns)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(schema.campaign_numbers)).scalar() == 0


def test_release_keeps_to_the_channels_and_never_repeats_a_number(
    store: Store, project: Project
) -> None:
    campaign_id = _create(store, project, 25)
    now = time.time()
    assert store.release_campaign(campaign_id, now, channel_cap=10).count == 10
    assert store.release_campaign(campaign_id, now, channel_cap=10).count == 0
    assert _finish_all(store) == 10
    assert store.release_campaign(campaign_id, now, channel_cap=10).count == 10
    _finish_all(store)
    assert store.release_campaign(campaign_id, now, channel_cap=10).count == 5
    _finish_all(store)
    released = store.release_campaign(campaign_id, now, channel_cap=10)
    assert released.finished
    campaign = store.get_campaign(project.id, campaign_id)
    assert campaign is not None
    assert campaign.finished_at is not None and campaign.started_at is not None
    assert campaign.counts[CallStatus.NORMAL] == 25
    calls = store.campaign_calls(project.id, campaign_id)
    assert [c.national_number for c in calls] == [n for _, n, _ in _numbers(25)]


def test_calls_per_minute_paces_the_release(store: Store, project: Project) -> None:
    campaign_id = _create(store, project, 100, calls_per_minute=6)
    now = time.time()
    assert store.release_campaign(campaign_id, now, channel_cap=100).count == 6
    assert store.release_campaign(campaign_id, now + 5, channel_cap=100).count == 0
    assert store.release_campaign(campaign_id, now + 10, channel_cap=100).count == 1
    assert store.release_campaign(campaign_id, now + 35, channel_cap=100).count == 2


def test_each_release_reserves_and_waits_for_money(store: Store, project: Project) -> None:
    store.credit(project.id, 3000, kind="topup", note="")
    campaign_id = _create(store, project, 10, reservation=1000)
    now = time.time()
    released = store.release_campaign(campaign_id, now, channel_cap=10)
    assert (released.count, released.no_balance) == (3, False)
    assert store.get_project(project.id).reserved_milli == 3000  # type: ignore[union-attr]
    released = store.release_campaign(campaign_id, now, channel_cap=10)
    assert (released.count, released.no_balance) == (0, True)
    campaign = store.get_campaign(project.id, campaign_id)
    assert campaign is not None and campaign.status(now).name == "NO_BALANCE"
    _finish_all(store, price=700)  # each call's real price is debited, the rest released
    current = store.get_project(project.id)
    assert current is not None
    assert (current.balance_milli, current.reserved_milli) == (900, 0)
    assert store.release_campaign(campaign_id, now, channel_cap=10).count == 0
    store.credit(project.id, 5000, kind="topup", note="")
    released = store.release_campaign(campaign_id, now, channel_cap=10)
    assert (released.count, released.no_balance) == (5, False)
    campaign = store.get_campaign(project.id, campaign_id)
    assert campaign is not None and campaign.status(now).name == "RUNNING"
    assert campaign.price_milli == 2100


def test_nothing_is_released_before_start_or_while_paused(store: Store, project: Project) -> None:
    now = time.time()
    later = _create(store, project, 5, start_at=int(now) + 600)
    assert store.release_campaign(later, now, channel_cap=10).count == 0
    campaign = store.get_campaign(project.id, later)
    assert campaign is not None and campaign.status(now).name == "SCHEDULED"
    assert [c.id for c in store.open_campaigns(now)] == []
    paused = store.set_campaign_state(project.id, later, CampaignState.PAUSED)
    assert paused is not None and paused.status(now + 700).name == "PAUSED"
    assert store.release_campaign(later, now + 700, channel_cap=10).count == 0
    store.set_campaign_state(project.id, later, CampaignState.ACTIVE)
    assert store.release_campaign(later, now + 700, channel_cap=10).count == 5


def test_cancel_expires_waiting_calls_and_the_rest_of_the_list(
    store: Store, project: Project
) -> None:
    store.credit(project.id, 100_000, kind="topup", note="")
    campaign_id = _create(store, project, 30, reservation=1000)
    now = time.time()
    store.release_campaign(campaign_id, now, channel_cap=10)
    claimed = store.claim_due(store.get_dialer("d1"), 4, now)  # type: ignore[arg-type]
    cancelled = store.set_campaign_state(project.id, campaign_id, CampaignState.CANCELLED)
    assert cancelled is not None and cancelled.status(now).name == "CANCELLED"
    # 6 released calls waiting and the 20 never released are EXPIRED; 4 are on the line
    assert cancelled.counts[CallStatus.EXPIRED] == 26
    assert cancelled.counts[CallStatus.WAITING] == 4
    assert store.get_project(project.id).reserved_milli == 4000  # type: ignore[union-attr]
    assert store.release_campaign(campaign_id, now, channel_cap=10).count == 0
    resumed = store.set_campaign_state(project.id, campaign_id, CampaignState.ACTIVE)
    assert resumed is not None and resumed.state is CampaignState.CANCELLED
    assert len(claimed) == 4


def test_end_at_stops_the_release_and_expires_its_calls(store: Store, project: Project) -> None:
    now = time.time()
    campaign_id = _create(store, project, 20, end_at=int(now) + 60)
    store.release_campaign(campaign_id, now, channel_cap=10)
    calls = store.campaign_calls(project.id, campaign_id)
    assert {c.expires_at for c in calls} == {int(now) + 60}
    store.expire_due(now + 61)
    released = store.release_campaign(campaign_id, now + 61, channel_cap=10)
    assert released == released.__class__(0, no_balance=False, finished=True)
    campaign = store.get_campaign(project.id, campaign_id)
    assert campaign is not None and campaign.status(now + 61).name == "DONE"
    assert campaign.counts[CallStatus.EXPIRED] == 20


def test_pages_of_campaigns_and_calls(store: Store, project: Project) -> None:
    ids = [_create(store, project, 3) for _ in range(5)]
    first = store.list_campaigns(project.id, limit=2)
    assert first is not None and [c.id for c in first] == ids[::-1][:2]
    rest = store.list_campaigns(project.id, limit=10, before=first[-1].id)
    assert rest is not None and [c.id for c in rest] == ids[::-1][2:]
    assert store.list_campaigns(project.id, limit=10, before=uuid.uuid4().hex) is None
    campaign_id = _create(store, project, 12)
    store.release_campaign(campaign_id, time.time(), channel_cap=10)
    page = store.campaign_call_page(project.id, campaign_id, limit=4)
    assert page is not None and len(page) == 4
    following = store.campaign_call_page(project.id, campaign_id, limit=100, after=page[-1].id)
    assert following is not None
    assert [c.national_number for c in page + following] == [n for _, n, _ in _numbers(10)]
    waiting = store.campaign_call_page(project.id, campaign_id, limit=100, status=CallStatus.NORMAL)
    assert waiting == []
    assert store.campaign_call_page("other", campaign_id, limit=4) is None


def test_the_report_has_every_number_in_list_order(store: Store, project: Project) -> None:
    campaign_id = _create(store, project, 12_000)
    store.release_campaign(campaign_id, time.time(), channel_cap=10)
    _finish_all(store)
    campaign = store.get_campaign(project.id, campaign_id)
    assert campaign is not None
    rows = list(store.campaign_report(campaign))
    assert [r.national_number for r in rows] == [n for _, n, _ in _numbers(12_000)]
    assert [r.call.status for r in rows[:10] if r.call] == [CallStatus.NORMAL] * 10
    assert all(r.call is None for r in rows[10:])
    assert {c.phase for c in store.campaign_calls(project.id, campaign_id)} == {Phase.FINAL}


def test_concurrent_releases_never_release_a_number_twice(store: Store, project: Project) -> None:
    """Releasers of several workers at once (threads here, each its own transactions)."""
    campaign_id = _create(store, project, 400)
    now = time.time()

    def release() -> int:  # a few numbers each time, as channels free one by one
        return sum(
            store.release_campaign(campaign_id, now, channel_cap=5 * step).count
            for step in range(1, 81)
        )

    with ThreadPoolExecutor(4) as pool:
        released = sum(pool.map(lambda _: release(), range(4)))
    calls = store.campaign_calls(project.id, campaign_id)
    assert released == len(calls) == 400
    assert sorted(c.national_number for c in calls) == [n for _, n, _ in _numbers(400)]
