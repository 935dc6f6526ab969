"""Request bodies and the JSON shapes of responses (api.md §2 to §4).

The request models validate; the response models only describe (for /openapi.json): the
routes build their JSON with the `*_json` functions below, whose keys the models mirror.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from voxcall.audio.otp import MAX_DIGITS
from voxcall.audio.tts import LANGUAGES, MAX_TEXT
from voxcall.billing.money import toman
from voxcall.calls.service import DEFAULT_TIME_TO_LIVE, CallOptions, ServerInfo
from voxcall.domain.calls import Call, CallStatus
from voxcall.domain.interaction import KEYS, Gather, MachineDetection
from voxcall.domain.projects import Project
from voxcall.domain.voices import Voice

_DIGITS = re.compile(r"[0-9]+")


def _number(value: Any) -> Any:
    # A numeric string is a number (api.md §1), but only plain digits: pydantic's lax mode
    # also reads " 2", "+2", "1_000" and true, which /openapi.json could not describe.
    if isinstance(value, bool) or (isinstance(value, str) and not _DIGITS.fullmatch(value)):
        raise ValueError("must be a number")
    return value


def digits_between(low: int, high: int) -> str:
    """A regular expression of the decimal numerals of low..high (0 <= low <= high), leading
    zeros allowed: /openapi.json states the range of a number sent as a string with it."""
    alternatives: list[str] = []
    for width in range(len(str(low)), len(str(high)) + 1):
        first, last = max(low, 10 ** (width - 1) if width > 1 else 0), min(high, 10**width - 1)
        alternatives += _same_width(str(first), str(last))
    return f"^0*(?:{'|'.join(alternatives)})$"


def _same_width(low: str, high: str) -> list[str]:
    """Patterns for the numerals low..high, which have the same number of digits."""
    if not low:
        return [""]
    a, b, rest = int(low[0]), int(high[0]), len(low) - 1
    if a == b:
        return [f"{a}{tail}" for tail in _same_width(low[1:], high[1:])]
    patterns, nines, zeros = [], "9" * rest, "0" * rest
    if low[1:] != zeros:  # the first digit's partial run, then the full ones
        patterns += [f"{a}{tail}" for tail in _same_width(low[1:], nines)]
        a += 1
    full_last = high[1:] == nines
    top = b if full_last else b - 1
    if a <= top:
        patterns.append(f"[{a}-{top}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    if not full_last:
        patterns += [f"{b}{tail}" for tail in _same_width(zeros, high[1:])]
    return patterns


def between(low: int, high: int) -> Any:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    # The range is checked here, for api.md's message; the schema states it too.
    return (
        AfterValidator(check),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "integer", "minimum": low, "maximum": high},
                    {"type": "string", "pattern": digits_between(low, high)},
                ]
            }
        ),
    )


Number = Annotated[int, BeforeValidator(_number)]
# Checked by the synthesizer (api.md §4), for its messages; described here.
Language = Annotated[str, Field(json_schema_extra={"enum": list(LANGUAGES)})]
Text = Annotated[str, Field(json_schema_extra={"minLength": 1, "maxLength": MAX_TEXT})]
# A campaign's or a voice's name holds no control character and is not blank (calls/names.py
# checks it); a voice's may be empty (it is then named after its file).
NAME_PATTERN = r"^(?:[^\x00-\x1f\x7f-\x9f]*[^\x00-\x1f\x7f-\x9f\s][^\x00-\x1f\x7f-\x9f]*)?$"
Numbers = Annotated[list[str], Field(json_schema_extra={"minItems": 1, "maxItems": 100})]


def _key(value: str) -> str:
    if len(value) != 1 or value not in KEYS:
        raise ValueError(f"must be one of {' '.join(KEYS)}")
    return value


Key = Annotated[str, AfterValidator(_key), Field(json_schema_extra={"enum": list(KEYS)})]


def _object(value: Any) -> Any:
    if value is not None and not isinstance(value, dict):
        raise ValueError("must be an object")
    return value


class GatherFields(BaseModel):
    """api.md §11 `gather`: the keys to collect during and after the message."""

    model_config = ConfigDict(extra="ignore")

    maxDigits: Annotated[Number, *between(1, 16)]
    timeout: Annotated[Number, *between(1, 30)] = 5
    finishOnKey: Key | None = None
    repeatKey: Key | None = None

    @model_validator(mode="after")
    def _keys_differ(self) -> GatherFields:
        if self.finishOnKey is not None and self.finishOnKey == self.repeatKey:
            raise ValueError("repeatKey must differ from finishOnKey")
        return self

    def gather(self) -> Gather:
        return Gather(self.maxDigits, float(self.timeout), self.finishOnKey, self.repeatKey)


# api.md §11's two fields, as every request that places calls takes them
GatherField = Annotated[GatherFields | None, BeforeValidator(_object)]
MachineDetectionName = Literal["off", "detect", "voicemail", "humansOnly"]


class CallFields(BaseModel):
    """Fields common to every call endpoint. Unknown fields are ignored (api.md §1)."""

    model_config = ConfigDict(extra="ignore")

    retryCount: Annotated[Number, *between(0, 5)] = 1
    serverId: str | None = None
    retryInterval: Annotated[Number, *between(10, 86400)] | None = None
    timeToLive: Annotated[Number, *between(60, 604800)] = DEFAULT_TIME_TO_LIVE
    gather: GatherField = None
    machineDetection: MachineDetectionName = "off"

    def options(self) -> CallOptions:
        return CallOptions(
            retry_count=self.retryCount,
            server_id=self.serverId,
            retry_interval=self.retryInterval,
            time_to_live=self.timeToLive,
            gather=self.gather.gather() if self.gather is not None else None,
            machine_detection=MachineDetection(self.machineDetection),
        )


class SingleCall(CallFields):
    phoneNumber: str
    voiceId: str


def _one_to_hundred(numbers: list[str]) -> list[str]:
    if not 1 <= len(numbers) <= 100:
        raise ValueError("must hold 1 to 100 numbers")
    return numbers


class BatchCall(CallFields):
    phoneNumbers: Annotated[Numbers, AfterValidator(_one_to_hundred)]
    voiceId: str


class Speech(BaseModel):
    """`POST /file/tts`: the text checks (length, language) are the synthesizer's."""

    model_config = ConfigDict(extra="ignore")

    text: Text
    language: Language = "fa"


class SingleTtsCall(CallFields):
    phoneNumber: str
    text: Text
    language: Language = "fa"


class BatchTtsCall(CallFields):
    phoneNumbers: Annotated[Numbers, AfterValidator(_one_to_hundred)]
    text: Text
    language: Language = "fa"


class OtpCall(CallFields):
    phoneNumber: str
    # The digits: a string, so that leading zeros survive.
    text: Annotated[str, Field(json_schema_extra={"pattern": f"^[0-9]{{1,{MAX_DIGITS}}}$"})]
    voiceId: str | None = None
    repeatCount: Annotated[Number, *between(1, 5)] = 2
    language: Language = "fa"


class VoiceUpload(BaseModel):
    """`POST /file/voice`, multipart/form-data (read by the route, with its limits)."""

    # The form takes at most 5 fields beside the file: a client sends these two only.
    model_config = ConfigDict(extra="forbid")

    file: Annotated[bytes, WithJsonSchema({"type": "string", "format": "binary"})] = Field(
        description="mp3, wav, ogg (vorbis, opus), flac or m4a; at most 10 MiB and 300 s"
    )
    name: str = Field(
        "",
        description="the voice's name; empty: the file's name",
        json_schema_extra={"pattern": NAME_PATTERN},
    )


T = TypeVar("T")


class Ok(BaseModel, Generic[T]):
    """The envelope of every 200 JSON answer (api.md §1)."""

    result: T
    error: None


class CallObject(BaseModel):
    """api.md §2."""

    id: str
    phoneNumber: str = Field(description="national form")
    status: str = Field(json_schema_extra={"enum": [s.name for s in CallStatus]})
    statusCode: int = Field(json_schema_extra={"enum": [s.code for s in CallStatus]})
    billSec: int = Field(ge=0)
    requestDate: int = Field(description="epoch seconds")
    executionDate: int = Field(description="epoch seconds; 0 while no attempt has started")
    price: float = Field(le=0, description="Toman taken, negative; 0.0 until billed")
    campaignId: str | None
    attempts: int = Field(ge=0)
    digits: str = Field(description="the keys pressed (with gather), in order; empty if none")
    answeredBy: Literal["human", "machine", "unknown"] | None = Field(
        description="who answered, as machine detection decided; null when it is off"
    )


class CallStatusObject(CallObject):
    """A call object as `GET` answers it: with the number in E.164."""

    e164: str


class VoiceObject(BaseModel):
    id: str
    name: str
    duration: float = Field(description="seconds")
    size: int = Field(description="bytes of the original")
    format: str
    createdAt: int = Field(description="epoch seconds")


class ServerObject(BaseModel):
    id: str
    name: str
    channels: int
    busyChannels: int


class Balance(BaseModel):
    """Toman."""

    balance: float
    reserved: float
    available: float


class Health(BaseModel):
    status: Literal["ok"]


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
        "digits": call.digits,
        "answeredBy": call.answered_by.value if call.answered_by is not None else None,
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
