"""A campaign with `gather` and `machineDetection` (api.md §8, §11) run by the releaser and
the scheduler on the sandbox, on SQLite and PostgreSQL: its callees' keys and who answered
reach its calls list and its report, and `humansOnly` retries and bills a machine as it
does a single call."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.calls.dialers import silent_voice
from tests.conftest import make_tenant
from voxcall.api.app import create_app
from voxcall.calls.campaigns import CampaignFields
from voxcall.calls.dialers import new_dialer
from voxcall.config import Settings
from voxcall.domain.campaigns import CampaignStatus
from voxcall.domain.interaction import Gather, MachineDetection
from voxcall.domain.money import Tariff
from voxcall.runtime import Services
from voxcall.store.store import Store

# 0006 presses 1 a second into the message, 0007 presses * and then 2, 0008 is a voicemail
# and anyone else a person (README's sandbox numbers)
NUMBERS = ["09121230006", "09121230007", "09121230008", "09121234567"]
PER_MINUTE = 60_000  # milli-Toman: 1,000 Toman a minute, billed by the second


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'voxcall.db'}"
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        Store.open(url, create=True).close()
    return Settings(
        data_dir=data, database_url=url, sandbox_speed=100.0, embedded=request.param == "sqlite"
    )


async def _run_until_done(services: Services, project_id: str, campaign_id: str) -> None:
    services.releaser.poll_interval = 0.05
    tasks = [
        asyncio.create_task(services.scheduler.run()),
        asyncio.create_task(services.releaser.run()),
    ]
    try:
        deadline = time.monotonic() + 60
        while True:
            campaign = services.store.get_campaign(project_id, campaign_id)
            assert campaign is not None
            if campaign.status(time.time()) is CampaignStatus.DONE:
                return
            assert time.monotonic() < deadline, campaign
            await asyncio.sleep(0.05)
    finally:
        services.releaser.stop()
        await services.scheduler.stop()
        await asyncio.gather(*tasks)


async def test_keys_and_who_answered_reach_the_calls_and_the_report(services: Services) -> None:
    services.store.add_dialer(
        new_dialer("quick", "sandbox", "Q", {}, retry_interval=1, tariff=Tariff(PER_MINUTE, 1))
    )
    tenant = make_tenant(services, "acme")
    services.store.credit(tenant.project.id, 100 * PER_MINUTE, kind="topup", note="t")
    fields = CampaignFields(
        name="confirm",
        voice_id=silent_voice(services, tenant.project, 3.0),
        server_id="quick",
        retry_count=1,
        gather=Gather(max_digits=2, timeout=2.0),
        machine_detection=MachineDetection.HUMANS_ONLY,
    )
    campaign = services.campaigns.create(tenant.project, fields, NUMBERS)
    await _run_until_done(services, tenant.project.id, campaign.id)

    with TestClient(create_app(services, run_worker=False)) as client:
        base = f"/api/v2/campaign/{campaign.id}"
        shown = client.get(base, headers=tenant.headers).json()["result"]
        calls = client.get(f"{base}/calls", headers=tenant.headers).json()["result"]
        report = client.get(f"{base}/report.csv", headers=tenant.headers).text
    assert (shown["gather"], shown["machineDetection"]) == (
        {"maxDigits": 2, "timeout": 2, "finishOnKey": None, "repeatKey": None},
        "humansOnly",
    )
    expected = [
        # number, status, attempts, who answered, digits
        ("09121230006", "NORMAL", 1, "human", "1"),
        ("09121230007", "NORMAL", 1, "human", "*2"),
        ("09121230008", "NO_ANSWER", 2, "machine", ""),  # hung up on, retried once
        ("09121234567", "NORMAL", 1, "human", ""),
    ]
    assert [
        (c["phoneNumber"], c["status"], c["attempts"], c["answeredBy"], c["digits"]) for c in calls
    ] == expected
    rows = list(csv.DictReader(io.StringIO(report)))
    assert [
        (r["phoneNumber"], r["status"], int(r["attempts"]), r["answeredBy"], r["digits"])
        for r in rows
    ] == expected
    # the machine humansOnly hung up on is billed its answered seconds (api.md §11)
    machine = calls[2]
    assert machine["billSec"] > 0
    assert machine["price"] == -machine["billSec"] * PER_MINUTE / 60 / 1000
