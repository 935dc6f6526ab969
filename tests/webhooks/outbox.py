"""Outbox events the way production writes them: final calls of a project with a webhook."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from voxcall.domain.calls import AttemptRecord, CallStatus, NewCall
from voxcall.domain.projects import Project
from voxcall.domain.voices import Voice
from voxcall.store.store import Store
from voxcall.webhooks.signing import new_secret

CAMPAIGN = "campaign-7"
NUMBER = "09121234567"
PRICE_MILLI = 3_500  # what each answered call costs: 3.5 Toman
BILL_SEC = 42


def webhook_project(store: Store, name: str, url: str) -> tuple[Project, str]:
    project = store.create_project(name, rate_limit=100, allowed_regions=["IR"])
    store.credit(project.id, 10_000_000, kind="topup", note="test")
    secret = new_secret()
    store.set_webhook(project.id, url, secret)
    return project, secret


def final_calls(
    store: Store, project: Project, statuses: Sequence[CallStatus]
) -> dict[str, CallStatus]:
    """Make one call per status final through the store, as the scheduler and the API do:
    EXPIRED by cancelling it before its attempt, the others by an attempt that ends so.
    Returns the call ids with the status each got."""
    voice_id = uuid.uuid4().hex
    store.add_voice(Voice(voice_id, project.id, "v", "wav", 1, 1.0, 0))
    now = int(time.time())
    calls = store.insert_calls(
        [
            NewCall(
                id=uuid.uuid4().hex,
                project_id=project.id,
                campaign_id=CAMPAIGN,
                voice_id=voice_id,
                national_number=NUMBER,
                e164="+989121234567",
                dialer_id=None,
                retry_count=0,
                retry_interval=None,
                request_date=now - 10,
                expires_at=now + 3600,
                reserved_milli=10_000,
            )
            for _ in statuses
        ]
    )
    wanted = {call.id: status for call, status in zip(calls, statuses, strict=True)}
    for call_id, status in wanted.items():
        if status is CallStatus.EXPIRED:
            cancelled = store.cancel_call(project.id, call_id)
            assert cancelled is not None and cancelled.status is CallStatus.EXPIRED
    dialer = store.get_dialer("d1")
    assert dialer is not None
    for claim in store.claim_due(dialer, len(wanted), time.time()):
        status = wanted[claim.call.id]
        answered = status is CallStatus.NORMAL
        record = AttemptRecord(
            attempt_id=claim.attempt_id,
            result="ANSWERED" if answered else status.name,
            answered_at=time.time() if answered else None,
            ended_at=time.time(),
            bill_sec=BILL_SEC if answered else 0,
            cause="test",
            call_status=status,
            next_attempt_at=None,
            billed_sec=BILL_SEC if answered else 0,
            price_milli=PRICE_MILLI if answered else 0,
        )
        assert store.finish_attempt(claim.call.id, record)
    for call_id, status in wanted.items():
        call = store.get_call(project.id, call_id)
        assert call is not None and call.status is status
    return wanted


def outbox_events(store: Store, project: Project) -> list[dict[str, Any]]:
    return [dict(e) for e in store.webhook_events(project.id)]
