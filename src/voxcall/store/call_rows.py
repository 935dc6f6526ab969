"""A call request as a row of `calls`, and back."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from voxcall.domain.calls import Call, CallClass, CallStatus, NewCall, Phase, lane_of
from voxcall.domain.interaction import AnsweredBy, Gather, MachineDetection


def gather_column(gather: Gather | None) -> dict[str, Any] | None:
    """`gather` as its JSON column (of calls and of campaigns)."""
    return dataclasses.asdict(gather) if gather is not None else None


def gather_from_column(stored: dict[str, Any] | None) -> Gather | None:
    return Gather(**stored) if stored is not None else None


def call_row(c: NewCall, campaign_index: int | None, now: float) -> dict[str, Any]:
    """The row of a call request as accepted: queued, due at once or when its window opens.
    `campaign_index`: its position in its batch or campaign list."""
    return {
        "id": c.id,
        "project_id": c.project_id,
        "campaign_id": c.campaign_id,
        "campaign_index": campaign_index,
        "voice_id": c.voice_id,
        "national_number": c.national_number,
        "e164": c.e164,
        "dialer_id": c.dialer_id,
        "status": CallStatus.WAITING.name,
        "phase": Phase.QUEUED.value,
        "retry_count": c.retry_count,
        "retry_interval": c.retry_interval,
        "request_date": c.request_date,
        "expires_at": c.expires_at,
        "next_attempt_at": c.not_before if c.not_before is not None else now,
        "window_held_from": now if c.not_before is not None else None,
        "execution_date": 0,
        "attempts": 0,
        "bill_sec": 0,
        "price_milli": 0,
        "reserved_milli": c.reserved_milli,
        "cause": "",
        "updated_at": now,
        "call_class": c.call_class.value,
        "lane": lane_of(c.call_class, c.project_id, c.campaign_id),
        "gather": gather_column(c.gather),
        "machine_detection": c.machine_detection.value,
        "digits": "",
        "answered_by": None,
    }


def call_from_row(m: Mapping[Any, Any]) -> Call:
    return Call(
        id=m["id"],
        project_id=m["project_id"],
        campaign_id=m["campaign_id"],
        voice_id=m["voice_id"],
        national_number=m["national_number"],
        e164=m["e164"],
        dialer_id=m["dialer_id"],
        status=CallStatus[m["status"]],
        phase=Phase(m["phase"]),
        retry_count=m["retry_count"],
        retry_interval=m["retry_interval"],
        request_date=m["request_date"],
        expires_at=m["expires_at"],
        next_attempt_at=m["next_attempt_at"],
        execution_date=m["execution_date"],
        attempts=m["attempts"],
        bill_sec=m["bill_sec"],
        price_milli=m["price_milli"],
        reserved_milli=m["reserved_milli"],
        cause=m["cause"],
        gather=gather_from_column(m["gather"]),
        machine_detection=MachineDetection(m["machine_detection"]),
        digits=m["digits"],
        answered_by=AnsweredBy(m["answered_by"]) if m["answered_by"] is not None else None,
        call_class=CallClass(m["call_class"]),
    )
