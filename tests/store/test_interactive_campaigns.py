"""api.md §8 and §11 in the store, on SQLite and PostgreSQL: a campaign keeps its `gather`
and `machineDetection`, copies them onto every call it releases, and its report carries each
call's digits and who answered."""

from __future__ import annotations

import time
import uuid

import pytest

from voxcall.api.campaign_schemas import REPORT_COLUMNS, report_row
from voxcall.domain.calls import AttemptRecord, CallStatus
from voxcall.domain.campaigns import CampaignPolicy, NewCampaign, Skips
from voxcall.domain.interaction import AnsweredBy, Gather, MachineDetection
from voxcall.domain.voices import Voice
from voxcall.store.campaigns import ListBatch
from voxcall.store.store import Store

GATHER = Gather(2, 7.0, "#", "*")
NUMBERS = [(1, "09121230006", "+989121230006"), (2, "09121230008", "+989121230008")]


def _create(store: Store, gather: Gather | None, detection: MachineDetection) -> tuple[str, str]:
    project = store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    voice_id = uuid.uuid4().hex
    store.add_voice(Voice(voice_id, project.id, "v", "wav", 1, 1.0, 0))
    now = int(time.time())
    policy = CampaignPolicy(
        voice_id, "d1", 0, None, now, now + 3600, None, None, None, 0, gather, detection
    )
    campaign = store.create_campaign(
        NewCampaign(uuid.uuid4().hex, project.id, "keys", policy, now),
        [ListBatch.of(NUMBERS)],
        lambda: (Skips(), ()),
    )
    return project.id, campaign.id


@pytest.mark.parametrize(
    ("gather", "detection"),
    [(GATHER, MachineDetection.HUMANS_ONLY), (None, MachineDetection.OFF)],
)
def test_the_campaign_keeps_them_and_its_calls_carry_them(
    store: Store, gather: Gather | None, detection: MachineDetection
) -> None:
    project_id, campaign_id = _create(store, gather, detection)
    campaign = store.get_campaign(project_id, campaign_id)
    assert campaign is not None
    assert (campaign.policy.gather, campaign.policy.machine_detection) == (gather, detection)
    (opened,) = store.open_campaigns(time.time())
    assert (opened.policy.gather, opened.policy.machine_detection) == (gather, detection)
    assert store.release_campaign(campaign_id, time.time(), channel_cap=10).count == 2
    calls = store.campaign_call_page(project_id, campaign_id, limit=10)
    assert calls is not None
    assert [(c.gather, c.machine_detection) for c in calls] == [(gather, detection)] * 2


def test_the_report_has_the_digits_and_who_answered(store: Store) -> None:
    project_id, campaign_id = _create(store, GATHER, MachineDetection.DETECT)
    store.release_campaign(campaign_id, time.time(), channel_cap=1)  # the first number only
    dialer = store.get_dialer("d1")
    assert dialer is not None
    (claim,) = store.claim_due(dialer, 10, time.time())
    now = time.time()
    record = AttemptRecord(
        attempt_id=claim.attempt_id,
        result="ANSWERED",
        answered_at=now - 4,
        ended_at=now,
        bill_sec=4,
        cause="",
        call_status=CallStatus.NORMAL,
        next_attempt_at=None,
        billed_sec=4,
        digits="1#",
        answered_by=AnsweredBy.HUMAN,
    )
    assert store.finish_attempt(claim.call.id, record)
    campaign = store.get_campaign(project_id, campaign_id)
    assert campaign is not None
    rows = [
        dict(zip(REPORT_COLUMNS, report_row(r.national_number, r.call, ended=False), strict=True))
        for r in store.campaign_report(campaign)
    ]
    assert [(r["phoneNumber"], r["status"], r["answeredBy"], r["digits"]) for r in rows] == [
        ("09121230006", "NORMAL", "human", "1#"),
        ("09121230008", "WAITING", "", ""),  # not released yet
    ]
