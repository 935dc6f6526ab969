"""Campaign request bodies and the campaign object (api.md §8), for the API and the CLI's
`--json` alike."""

from __future__ import annotations

import json
import re
import zoneinfo
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from voxcall.api.schemas import (
    NAME_PATTERN,
    GatherField,
    GatherFields,
    Language,
    MachineDetectionName,
    Number,
    Text,
    between,
    price,
)
from voxcall.billing.money import toman
from voxcall.calls.campaigns import MAX_JSON_NUMBERS, CampaignFields
from voxcall.calls.windows import clock_second, closing_second, opening_second
from voxcall.domain.calls import Call, CallStatus
from voxcall.domain.campaigns import Campaign, CampaignStatus
from voxcall.domain.interaction import Gather, MachineDetection

_DAYS = ("sat", "sun", "mon", "tue", "wed", "thu", "fri")
_CLOCK = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]|24:00")  # 24:00: an end only
REPORT_COLUMNS = (
    "phoneNumber",
    "status",
    "statusCode",
    "attempts",
    "billSec",
    "price",
    "requestDate",
    "executionDate",
    "answeredBy",
    "digits",
)


# Area/Location zones and UTC: the Etc/GMT±N aliases (whose signs are the reverse of what
# they read as) and the old POSIX names are left out.
_ZONES = (
    "callee",
    "UTC",
    *sorted(
        name
        for name in zoneinfo.available_timezones()
        if "/" in name and not name.startswith(("Etc/", "SystemV/"))
    ),
)


def _clock(value: str) -> str:
    clock_second(value)
    return value


def _zone(value: str) -> str:
    if value not in _ZONES:
        raise ValueError("must be a time zone name (Asia/Tehran) or 'callee'")
    return value


# Checked by the validators, for api.md's messages; described here.
Clock = Annotated[
    str, AfterValidator(_clock), Field(json_schema_extra={"pattern": f"^(?:{_CLOCK.pattern})$"})
]
Zone = Annotated[str, AfterValidator(_zone), Field(json_schema_extra={"enum": list(_ZONES)})]


class Window(BaseModel):
    """A calling window (api.md §10)."""

    model_config = ConfigDict(extra="forbid")

    days: Annotated[list[Literal[_DAYS]], Field(min_length=1, max_length=7)]  # type: ignore[valid-type]
    start: Clock
    end: Clock
    timezone: Zone

    # calls/windows.py's checks, so that the API answers as the CLI and the releaser do
    @field_validator("start")
    @classmethod
    def _opening(cls, start: str) -> str:
        opening_second(start)
        return start

    @field_validator("end")
    @classmethod
    def _closing(cls, end: str, info: ValidationInfo) -> str:
        if "start" in info.data:  # else start's own error is the answer
            closing_second(end, opening_second(info.data["start"]))
        return end


Epoch = Annotated[Number, *between(0, 2**40)]


def _voice_or_text(schema: dict[str, Any]) -> None:
    """Exactly one of `voiceId` and `text`, each a string (the route checks it, for api.md's
    messages)."""
    properties = schema["properties"]
    properties["voiceId"] = {"type": "string"}
    properties["text"] = next(s for s in properties["text"]["anyOf"] if s.get("type") == "string")
    schema["oneOf"] = [{"required": ["voiceId"]}, {"required": ["text"]}]


class CampaignForm(BaseModel):
    """A campaign's fields, as JSON fields or (with a `file`) as multipart form fields."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_voice_or_text)

    name: Annotated[
        str, Field(min_length=1, max_length=100, json_schema_extra={"pattern": NAME_PATTERN})
    ]
    voiceId: str | None = None
    text: Text | None = None
    language: Language = "fa"
    retryCount: Annotated[Number, *between(0, 5)] = 1
    retryInterval: Annotated[Number, *between(10, 86400)] | None = None
    serverId: str | None = None
    startAt: Epoch | None = None
    endAt: Epoch | None = None
    window: Window | None = None
    maxChannels: Annotated[Number, *between(1, 100_000)] | None = None
    callsPerMinute: Annotated[Number, *between(1, 1_000_000)] | None = None
    gather: GatherField = None
    machineDetection: MachineDetectionName = "off"

    def fields(self, voice_id: str) -> CampaignFields:
        """The campaign's fields, playing `voice_id` (`voiceId`, or the voice of `text`)."""
        return CampaignFields(
            name=self.name,
            voice_id=voice_id,
            retry_count=self.retryCount,
            retry_interval=self.retryInterval,
            server_id=self.serverId,
            start_at=self.startAt,
            end_at=self.endAt,
            window=self.window.model_dump_json() if self.window else None,
            max_channels=self.maxChannels,
            calls_per_minute=self.callsPerMinute,
            gather=self.gather.gather() if self.gather is not None else None,
            machine_detection=MachineDetection(self.machineDetection),
        )


def _up_to_ten_thousand(numbers: list[str]) -> list[str]:
    if not 1 <= len(numbers) <= MAX_JSON_NUMBERS:
        raise ValueError(f"must hold 1 to {MAX_JSON_NUMBERS:,} numbers")
    return numbers


class CampaignJson(CampaignForm):
    """`POST /campaign` with JSON: the numbers in `phoneNumbers`."""

    phoneNumbers: Annotated[
        list[str],
        AfterValidator(_up_to_ten_thousand),
        Field(json_schema_extra={"minItems": 1, "maxItems": MAX_JSON_NUMBERS}),
    ]


class Skipped(BaseModel):
    invalid: int
    notAllowed: int
    duplicate: int
    doNotCall: int


class RejectedObject(BaseModel):
    line: int
    value: str
    reason: Literal["invalid", "notAllowed", "duplicate", "doNotCall"]


class CampaignObject(BaseModel):
    """api.md §8."""

    id: str
    name: str
    status: str = Field(json_schema_extra={"enum": [s.value for s in CampaignStatus]})
    total: int
    counts: dict[str, int]
    skipped: Skipped
    rejected: list[RejectedObject]
    price: float = Field(le=0, description="Toman taken so far, negative")
    voiceId: str
    serverId: str | None
    startAt: int
    endAt: int
    window: Window | None
    maxChannels: int | None
    callsPerMinute: int | None
    gather: GatherFields | None
    machineDetection: MachineDetectionName
    createdAt: int
    startedAt: int | None
    finishedAt: int | None


def campaign_json(campaign: Campaign, status: CampaignStatus) -> dict[str, Any]:
    policy = campaign.policy
    return {
        "id": campaign.id,
        "name": campaign.name,
        "status": status.value,
        "total": campaign.total,
        "counts": {s.name: campaign.counts.get(s, 0) for s in CallStatus},
        "skipped": {
            "invalid": campaign.skips.invalid,
            "notAllowed": campaign.skips.not_allowed,
            "duplicate": campaign.skips.duplicate,
            "doNotCall": campaign.skips.do_not_call,
        },
        "rejected": [
            {"line": r.line, "value": r.value, "reason": r.reason} for r in campaign.rejected
        ],
        "price": -toman(campaign.price_milli) if campaign.price_milli else 0.0,
        "voiceId": policy.voice_id,
        "serverId": policy.dialer_id,
        "startAt": policy.start_at,
        "endAt": policy.end_at,
        "window": json.loads(policy.window) if policy.window else None,
        "maxChannels": policy.max_channels,
        "callsPerMinute": policy.calls_per_minute,
        "gather": gather_json(policy.gather) if policy.gather is not None else None,
        "machineDetection": policy.machine_detection.value,
        "createdAt": campaign.created_at,
        "startedAt": campaign.started_at,
        "finishedAt": campaign.finished_at,
    }


def gather_json(gather: Gather) -> dict[str, Any]:
    """`gather` as a request gave it (api.md §11)."""
    return {
        "maxDigits": gather.max_digits,
        "timeout": int(gather.timeout),
        "finishOnKey": gather.finish_on_key,
        "repeatKey": gather.repeat_key,
    }


def report_row(national_number: str, call: Call | None, *, ended: bool) -> list[str]:
    """One row of report.csv; a number not released yet is WAITING, or EXPIRED once its
    campaign has ended."""
    if call is None:
        status = CallStatus.EXPIRED if ended else CallStatus.WAITING
        return [national_number, status.name, str(status.code), "0", "0", "0.0", "0", "0", "", ""]
    return [
        national_number,
        call.status.name,
        str(call.status.code),
        str(call.attempts),
        str(call.bill_sec),
        str(price(call)),
        str(call.request_date),
        str(call.execution_date),
        call.answered_by.value if call.answered_by is not None else "",
        call.digits,
    ]
