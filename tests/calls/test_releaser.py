"""The releaser with the scheduler and the sandbox: a campaign's numbers reach the dialer
within its channels, each once, and a campaign short of money waits for a top-up."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Mapping
from typing import ClassVar

import pytest

from tests.calls.dialers import silent_voice
from voxcall.calls.campaigns import CampaignFields
from voxcall.calls.dialers import new_dialer
from voxcall.calls.releaser import channel_cap
from voxcall.dialers.base import AttemptOutcome, Dialer, DialRequest
from voxcall.dialers.sandbox import SandboxDialer
from voxcall.domain.calls import CallStatus
from voxcall.domain.campaigns import Campaign, CampaignPolicy, CampaignStatus
from voxcall.domain.money import Tariff
from voxcall.runtime import Services


class CountingSandbox(SandboxDialer):
    live = 0
    most_live = 0
    numbers: ClassVar[list[str]] = []

    async def dial(self, request: DialRequest) -> AttemptOutcome:
        cls = CountingSandbox
        cls.live += 1
        cls.most_live = max(cls.most_live, cls.live)
        cls.numbers.append(request.national_number)
        try:
            return await super().dial(request)
        finally:
            cls.live -= 1


@pytest.fixture(autouse=True)
def counting(services: Services) -> None:
    CountingSandbox.live = CountingSandbox.most_live = 0
    CountingSandbox.numbers = []
    speed = services.settings.sandbox_speed

    def build(driver: str, options: Mapping[str, object]) -> Dialer:
        return CountingSandbox(speed=speed)

    services.scheduler.build_dialer = build


@contextlib.asynccontextmanager
async def _running(services: Services) -> AsyncIterator[None]:
    services.releaser.poll_interval = 0.05
    tasks = [
        asyncio.create_task(services.scheduler.run()),
        asyncio.create_task(services.releaser.run()),
    ]
    try:
        yield
    finally:
        services.releaser.stop()
        await services.scheduler.stop()
        await asyncio.gather(*tasks)


async def _until(services: Services, campaign: Campaign, status: CampaignStatus) -> Campaign:
    deadline = time.monotonic() + 60
    while True:
        current = services.store.get_campaign(campaign.project_id, campaign.id)
        assert current is not None
        if current.status(time.time()) is status:
            return current
        assert time.monotonic() < deadline, current
        await asyncio.sleep(0.05)


_NUMBERS = [f"0912{i:07d}" for i in range(100, 140)]  # none a sandbox special (0001...)


async def test_a_campaign_runs_within_its_channels_and_calls_each_number_once(
    services: Services,
) -> None:
    project = services.store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    voice = silent_voice(services, project, 0.5)
    campaign = services.campaigns.create(
        project, CampaignFields(name="c", voice_id=voice, max_channels=4), _NUMBERS
    )
    async with _running(services):
        done = await _until(services, campaign, CampaignStatus.DONE)
    assert sorted(CountingSandbox.numbers) == _NUMBERS
    assert CountingSandbox.most_live <= 4
    assert done.counts[CallStatus.NORMAL] == 40
    assert sum(done.counts.values()) == done.total == 40


async def test_no_balance_waits_for_a_top_up(services: Services) -> None:
    services.store.add_dialer(
        new_dialer("priced", "sandbox", "P", {}, channels=10, tariff=Tariff(60_000))
    )
    project = services.store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    voice = silent_voice(services, project, 0.5)
    services.store.credit(project.id, 3 * 60_000, kind="topup", note="three calls")
    campaign = services.campaigns.create(
        project, CampaignFields(name="c", voice_id=voice, server_id="priced"), _NUMBERS[:8]
    )
    async with _running(services):
        waiting = await _until(services, campaign, CampaignStatus.NO_BALANCE)
        assert waiting.released == 3
        services.store.credit(project.id, 5 * 60_000, kind="topup", note="the rest")
        done = await _until(services, campaign, CampaignStatus.DONE)
    assert sorted(CountingSandbox.numbers) == _NUMBERS[:8]
    current = services.store.get_project(project.id)
    assert current is not None and (current.balance_milli, current.reserved_milli) == (0, 0)
    assert done.price_milli == 8 * 60_000


def test_channel_cap(services: Services) -> None:
    dialers = {
        "a": new_dialer("a", "sandbox", "A", {}, channels=10),
        "b": new_dialer("b", "sandbox", "B", {}, channels=5),
    }
    policy = CampaignPolicy("v", "b", 1, None, 0, 10, None, None, None, 0)
    assert channel_cap(policy, dialers) == 5
    assert channel_cap(dataclasses.replace(policy, max_channels=2), dialers) == 2
    anywhere = CampaignPolicy("v", None, 1, None, 0, 10, None, 100, None, 0)
    assert channel_cap(anywhere, dialers) == 15
    gone = CampaignPolicy("v", "c", 1, None, 0, 10, None, None, None, 0)
    assert channel_cap(gone, dialers) == 0
