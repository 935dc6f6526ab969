"""The campaign's status and the release plan, as pure rules."""

from __future__ import annotations

import dataclasses

from voxcall.domain.calls import CallStatus
from voxcall.domain.campaigns import (
    CALL_TIME_TO_LIVE,
    Campaign,
    CampaignPolicy,
    CampaignState,
    CampaignStatus,
    Skips,
    release_plan,
    released_call_expiry,
)

_POLICY = CampaignPolicy("v", None, 1, None, 100, 1000, None, None, None, 0)
_CAMPAIGN = Campaign(
    "c", "p", "n", _POLICY, CampaignState.ACTIVE, 10, 0, False, Skips(), (), 0, None, None
)


def test_status_by_precedence() -> None:
    assert _CAMPAIGN.status(50) is CampaignStatus.SCHEDULED
    assert _CAMPAIGN.status(150) is CampaignStatus.RUNNING
    assert _CAMPAIGN.status(150, window_open=False) is CampaignStatus.OUTSIDE_WINDOW
    short = dataclasses.replace(_CAMPAIGN, no_balance=True)
    assert short.status(150, window_open=False) is CampaignStatus.NO_BALANCE
    paused = dataclasses.replace(short, state=CampaignState.PAUSED)
    assert paused.status(50) is CampaignStatus.PAUSED
    done = dataclasses.replace(paused, finished_at=200)
    assert done.status(300) is CampaignStatus.DONE
    cancelled = dataclasses.replace(done, state=CampaignState.CANCELLED)
    assert cancelled.status(300) is CampaignStatus.CANCELLED


def test_release_fills_the_channels_left() -> None:
    plan = release_plan(
        waiting=100, in_flight=7, channel_cap=10, calls_per_minute=None, next_release_at=0, now=5
    )
    assert (plan.count, plan.next_release_at(plan.count)) == (3, 0)
    full = release_plan(
        waiting=100, in_flight=12, channel_cap=10, calls_per_minute=None, next_release_at=0, now=5
    )
    assert full.count == 0
    last = release_plan(
        waiting=2, in_flight=0, channel_cap=10, calls_per_minute=None, next_release_at=0, now=5
    )
    assert last.count == 2


def test_calls_per_minute_is_a_bucket_of_at_most_a_minute() -> None:
    def plan(next_release_at: float, now: float) -> tuple[int, float]:
        p = release_plan(
            waiting=1000,
            in_flight=0,
            channel_cap=1000,
            calls_per_minute=30,
            next_release_at=next_release_at,
            now=now,
        )
        return p.count, p.next_release_at(p.count)

    assert plan(0, 10_000) == (30, 10_000)  # idle for hours: one minute's worth
    assert plan(10_000, 10_001) == (0, 10_000)
    assert plan(10_000, 10_004.5) == (2, 10_004)
    assert plan(10_100, 10_050) == (0, 10_100)  # spent ahead: wait


def test_a_released_call_expires_after_its_time_to_live_or_at_the_campaigns_end() -> None:
    released = 1_764_190_000
    later_end = released + 10 * CALL_TIME_TO_LIVE
    assert released_call_expiry(released, later_end) == released + CALL_TIME_TO_LIVE
    assert released_call_expiry(released, released + 60) == released + 60


def test_numbers_never_released_wait_until_the_campaign_ends_then_expire() -> None:
    running = dataclasses.replace(_CAMPAIGN, total=10, released=4)
    calls = {CallStatus.NORMAL: 3}  # and one released call not final yet
    counted = running.counted(calls, 1_500)
    assert (counted.counts[CallStatus.WAITING], counted.counts[CallStatus.EXPIRED]) == (7, 0)
    assert (counted.counts[CallStatus.NORMAL], counted.price_milli) == (3, 1_500)
    assert sum(counted.counts.values()) == counted.total
    cancelled = dataclasses.replace(running, state=CampaignState.CANCELLED).counted(calls, 0)
    assert (cancelled.counts[CallStatus.WAITING], cancelled.counts[CallStatus.EXPIRED]) == (1, 6)
    done = dataclasses.replace(running, finished_at=1).counted(calls, 0)
    assert done.counts[CallStatus.EXPIRED] == 6
