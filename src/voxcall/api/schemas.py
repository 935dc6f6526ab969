"""Request bodies and the JSON shapes of responses (api.md §2 to §4)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from voxcall.billing.money import toman
from voxcall.calls.service import DEFAULT_TIME_TO_LIVE, CallOptions, ServerInfo
from voxcall.store.records import Call, Project, Voice


def _not_bool(value: Any) -> Any:
    # pydantic's lax mode reads true as 1; a Bitel client sending a bool meant something else.
    if isinstance(value, bool):
        raise ValueError("must be a number")
    return value


def _between(low: int, high: int) -> AfterValidator:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return AfterValidator(check)


Number = Annotated[int, BeforeValidator(_not_bool)]


class CallFields(BaseModel):
    """Fields common to every call endpoint. Unknown fields are ignored (api.md §1)."""

    model_config = ConfigDict(extra="ignore")

    retryCount: Annotated[Number, _between(0, 5)] = 1
    serverId: str | None = None
    retryInterval: Annotated[Number, _between(10, 86400)] | None = None
    timeToLive: Annotated[Number, _between(60, 604800)] = DEFAULT_TIME_TO_LIVE

    def options(self) -> CallOptions:
        return CallOptions(
            retry_count=self.retryCount,
            server_id=self.serverId,
            retry_interval=self.retryInterval,
            time_to_live=self.timeToLive,
        )


class SingleCall(CallFields):
    phoneNumber: str
    voiceId: str


def _one_to_hundred(numbers: list[str]) -> list[str]:
    if not 1 <= len(numbers) <= 100:
        raise ValueError("must hold 1 to 100 numbers")
    return numbers


class BatchCall(CallFields):
    phoneNumbers: Annotated[list[str], AfterValidator(_one_to_hundred)]
    voiceId: str


class Speech(BaseModel):
    """`POST /file/tts`: the text checks (length, language) are the synthesizer's."""

    model_config = ConfigDict(extra="ignore")

    text: str
    language: str = "fa"


class SingleTtsCall(CallFields):
    phoneNumber: str
    text: str
    language: str = "fa"


class BatchTtsCall(CallFields):
    phoneNumbers: Annotated[list[str], AfterValidator(_one_to_hundred)]
    text: str
    language: str = "fa"


class OtpCall(CallFields):
    phoneNumber: str
    text: str  # the digits: a string, so that leading zeros survive
    voiceId: str | None = None
    repeatCount: Annotated[Number, _between(1, 5)] = 2
    language: str = "fa"


def price(call: Call) -> float:
    """Money taken, as the negative number Bitel clients expect (0.0, never -0.0)."""
    return -toman(call.price_milli) if call.price_milli else 0.0


def call_json(call: Call, *, with_e164: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": call.id,
        "phoneNumber": call.national_number,
        "status": call.status.name,
        "statusCode": call.status.code,
        "billSec": call.bill_sec,
        "requestDate": call.request_date,
        "executionDate": call.execution_date,
        "price": price(call),
        "campaignId": call.campaign_id,
        "attempts": call.attempts,
    }
    if with_e164:
        body["e164"] = call.e164
    return body


def voice_json(voice: Voice) -> dict[str, Any]:
    return {
        "id": voice.id,
        "name": voice.name,
        "duration": voice.duration,
        "size": voice.size,
        "format": voice.format,
        "createdAt": voice.created_at,
    }


def server_json(server: ServerInfo) -> dict[str, Any]:
    return {
        "id": server.id,
        "name": server.name,
        "channels": server.channels,
        "busyChannels": server.busy_channels,
    }


def balance_json(project: Project) -> dict[str, Any]:
    return {
        "balance": toman(project.balance_milli),
        "reserved": toman(project.reserved_milli),
        "available": toman(project.available_milli),
    }
