"""Hostile probes of the campaign endpoints (api.md §3, §8, §10, §11), and of the names
kept with campaigns and voices, on SQLite and PostgreSQL: every bad body is a 400 (413 for a
list over its size) in the envelope, with a message naming the field; another project's
campaign is answered like an unknown one."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant, make_tenant, settings_on
from voxcall.calls.lists import MAX_BYTES
from voxcall.config import Settings
from voxcall.domain.voices import Voice
from voxcall.runtime import Services

BOUNDARY = "probe"


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    return settings_on(request, tmp_path)


@pytest.fixture
def voice_id(services: Services, tenant: Tenant) -> str:
    voice = Voice(uuid.uuid4().hex, tenant.project.id, "v", "wav", 1, 2.0, int(time.time()))
    services.store.add_voice(voice)
    return voice.id


def _multipart(parts: list[tuple[str, bytes, str | None]]) -> bytes:
    """A multipart body as bytes: (name, value, filename or None for a plain field)."""
    out = b""
    for name, value, filename in parts:
        head = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            head += f'; filename="{filename}"\r\nContent-Type: text/csv'
        out += f"--{BOUNDARY}\r\n{head}\r\n\r\n".encode() + value + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def _post_form(
    client: TestClient, tenant: Tenant, body: bytes, content_type: str | None = None
) -> Any:
    headers = tenant.headers | {
        "content-type": content_type or f"multipart/form-data; boundary={BOUNDARY}"
    }
    return client.post("/api/v2/campaign", content=body, headers=headers)


def _refused(answer: Any, status: int, code: str, message: str) -> None:
    assert (answer.status_code, answer.json()) == (
        status,
        {"result": None, "error": code, "message": message},
    ), answer.text


@pytest.mark.parametrize("name", ["a\x00b", "spring\nsale", "\x1b[31mred"])
def test_a_name_with_control_characters_is_refused(
    client: TestClient, tenant: Tenant, voice_id: str, name: str
) -> None:
    """PostgreSQL refuses a NUL in text: this was a 500 there."""
    body = {"name": name, "voiceId": voice_id, "phoneNumbers": ["09121234567"]}
    answer = client.post("/api/v2/campaign", json=body, headers=tenant.headers)
    _refused(answer, 400, "InvalidRequest", "name: must not hold control characters")
    fields = [("name", name.encode(), None), ("voiceId", voice_id.encode(), None)]
    form = _multipart([*fields, ("file", b"09121234567\n", "list.csv")])
    _refused(
        _post_form(client, tenant, form),
        400,
        "InvalidRequest",
        "name: must not hold control characters",
    )
    assert client.get("/api/v2/campaign", headers=tenant.headers).json()["result"] == []


@pytest.mark.parametrize("name", [" ", "\u3000\t "])
def test_a_blank_name_is_refused(
    client: TestClient, tenant: Tenant, voice_id: str, name: str
) -> None:
    body = {"name": name, "voiceId": voice_id, "phoneNumbers": ["09121234567"]}
    answer = client.post("/api/v2/campaign", json=body, headers=tenant.headers)
    _refused(answer, 400, "InvalidRequest", "name: must not be blank")
    assert client.get("/api/v2/campaign", headers=tenant.headers).json()["result"] == []


def test_a_voice_name_with_a_nul_is_refused(
    client: TestClient, tenant: Tenant, voice_mp3: bytes
) -> None:
    answer = client.post(
        "/api/v2/file/voice",
        data={"name": "a\x00b"},
        files={"file": ("a.mp3", voice_mp3, "audio/mpeg")},
        headers=tenant.headers,
    )
    _refused(answer, 400, "InvalidRequest", "name: must not hold control characters")
    assert client.get("/api/v2/file/voice", headers=tenant.headers).json()["result"] == []


def test_speech_is_named_by_its_text_without_control_characters(
    client: TestClient, tenant: Tenant
) -> None:
    """A text for speech may hold a NUL (spoken as a space); its voice's name was the raw
    text, a 500 on PostgreSQL."""
    answer = client.post(
        "/api/v2/file/tts",
        json={"text": "سلام\x00دنیا\n"},  # noqa: RUF001
        headers=tenant.headers,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"]["name"] == "سلام دنیا"
    body = {"phoneNumber": "09121234567", "text": "hello\x00 world", "language": "en"}
    call = client.post("/api/v2/voice/single/tts", json=body, headers=tenant.headers)
    assert call.status_code == 200, call.text


def test_a_rejected_value_with_a_nul_is_kept_and_shown(
    client: TestClient, tenant: Tenant, voice_id: str
) -> None:
    body = {"name": "n", "voiceId": voice_id, "phoneNumbers": ["09121234567", "x\x00y"]}
    answer = client.post("/api/v2/campaign", json=body, headers=tenant.headers)
    assert answer.status_code == 200, answer.text
    rejected = [{"line": 2, "value": "x\x00y", "reason": "invalid"}]
    assert answer.json()["result"]["rejected"] == rejected
    campaign_id = answer.json()["result"]["id"]
    read = client.get(f"/api/v2/campaign/{campaign_id}", headers=tenant.headers)
    assert read.json()["result"]["rejected"] == rejected


@pytest.mark.parametrize("path", ["/api/v2/campaign", "/api/v2/dnc"])
def test_a_list_over_50_mib_is_413(
    client: TestClient, tenant: Tenant, voice_id: str, path: str
) -> None:
    """api.md §1: a file over its limit is 413 RequestTooLarge (it was 400 InvalidRequest);
    the body is within the limit of a list plus its multipart framing."""
    row = b"09121234567," + b"a" * 50_000 + b"\n"
    content = row * (MAX_BYTES // len(row) + 1)
    content = content[: MAX_BYTES + 1]
    fields = [("name", b"big", None), ("voiceId", voice_id.encode(), None)]
    answer = _post_form(client, tenant, _multipart([*fields, ("file", content, "big.csv")]))
    _refused(answer, 413, "RequestTooLarge", "file: larger than 50 MiB")


@pytest.mark.parametrize(
    ("content_type", "parts", "message"),
    [
        ("multipart/form-data", None, "body: malformed multipart (Missing boundary in"),
        ("multipart/form-data; boundary=other", None, "body: malformed multipart (Inv"),
        (None, [("file", None, None)], "file: required"),
        (None, [("file", b"09121234567\n", None)], "file: required"),
        (None, [("file", b"1\n", "a.csv"), ("file", b"2\n", "b.csv")], "body: malformed mu"),
        (None, [("name", b"n" * 100_000, None)], "body: malformed multipart (Part exc"),
        (None, [("name", b"\xff\xfe", None)], "name: not UTF-8 text"),
        (None, [("window", "{}".encode("utf-16"), None)], "window: not UTF-8 text"),
        (None, [("gather", b"not json", None)], "gather: must be a JSON object"),
        (None, [("gather", b"[1, 2]", None)], "gather: must be an object"),
        (None, [("gather", b'{"maxDigits": "x"}', None)], "gather.maxDigits: must be a number"),
        (None, [("gather", b'{"maxDigits": 17}', None)], "gather.maxDigits: must be between"),
        (None, [("window", b"sat 09:00-20:00 UTC", None)], "window: must be a JSON object"),
        (None, [("maxChannels", b"0", None)], "maxChannels: must be between 1 and 100000"),
        (None, [("callsPerMinute", b"abc", None)], "callsPerMinute: must be a number"),
        (None, [("endAt", b"1", None)], "endAt: must be later than startAt and now"),
        (None, [("file", b"", "a.csv")], "file: the list holds no number that can be called"),
        (None, [("file", bytes(range(256)) * 8, "a.csv")], "file: line 3: not UTF-8 text"),
        (None, [("file", b"9" * 1_000_000, "a.csv")], "file: line 1: longer than 65,536 chara"),
        (None, [("file", "09121234567\n".encode("utf-16-le"), "a.csv")], "file: line 1: holds"),
    ],
)
def test_a_bad_form_is_refused_naming_the_field(
    client: TestClient,
    tenant: Tenant,
    voice_id: str,
    content_type: str | None,
    parts: list[tuple[str, bytes | None, str | None]] | None,
    message: str,
) -> None:
    """`parts` replace the fields of a good form of the same name (a None value: left out)."""
    fields: dict[str, tuple[bytes, str | None]] = {
        "name": (b"n", None),
        "voiceId": (voice_id.encode(), None),
        "file": (b"09121234567\n", "list.csv"),
    }
    extra = parts or []
    for name, _, _ in extra:
        fields.pop(name, None)
    kept = [(k, v, f) for k, (v, f) in fields.items()]
    body = _multipart(kept + [(k, v, f) for k, v, f in extra if v is not None])
    answer = _post_form(client, tenant, body, content_type)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "InvalidRequest"
    assert answer.json()["message"].startswith(message)
    assert client.get("/api/v2/campaign", headers=tenant.headers).json()["result"] == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"callsPerMinute": 0}, "callsPerMinute: must be between 1 and 1000000"),
        ({"maxChannels": 2**63}, "maxChannels: must be between 1 and 100000"),
        ({"maxChannels": None, "endAt": 2**64}, "endAt: must be between 0 and 1099511627776"),
        ({"startAt": 2_000_000_000, "endAt": 1_900_000_000}, "endAt: must be later than"),
        ({"endAt": 1_000_000_000}, "endAt: must be later than startAt and now"),
        ({"startAt": 1_000_000_000}, "startAt: more than 7 days ago (endAt, by default 7 d"),
        (
            {"window": {"days": ["xyz"], "start": "09:00", "end": "20:00", "timezone": "UTC"}},
            "window.days.0: input should be 'sat', 'sun', 'mon', 'tue', 'wed', 'thu' or 'fri'",
        ),
        (
            {"window": {"days": ["sat"], "start": "9", "end": "20:00", "timezone": "UTC"}},
            "window.start: must be a time of day, 00:00 to 24:00",
        ),
        (
            {"window": {"days": ["sat"], "start": "09:00", "end": "20:00", "timezone": "Mars/X"}},
            "window.timezone: must be a time zone name (Asia/Tehran) or 'callee'",
        ),
        (
            {"window": {"days": [], "start": "09:00", "end": "20:00", "timezone": "UTC"}},
            "window.days: list should have at least 1 item",
        ),
        ({"window": "sat 09:00-20:00 UTC"}, "window: input should be a valid dictionary"),
        ({"gather": []}, "gather: must be an object"),
        ({"gather": {"maxDigits": 3, "timeout": 31}}, "gather.timeout: must be between 1 and 30"),
        ({"gather": {"maxDigits": 3, "finishOnKey": "##"}}, "gather.finishOnKey: must be one of"),
        ({"machineDetection": True}, "machineDetection: input should be 'off', 'detect'"),
        ({"phoneNumbers": [None]}, "phoneNumbers.0: input should be a valid string"),
        ({"phoneNumbers": ["x", "0912"]}, "phoneNumbers: the list holds no number that can be"),
        ({"name": ""}, "name: string should have at least 1 character"),
    ],
)
def test_a_bad_json_field_is_refused_naming_it(
    client: TestClient, tenant: Tenant, voice_id: str, extra: dict[str, Any], message: str
) -> None:
    body = {"name": "n", "voiceId": voice_id, "phoneNumbers": ["09121234567"], **extra}
    answer = client.post("/api/v2/campaign", content=json.dumps(body), headers=tenant.headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "InvalidRequest"
    assert answer.json()["message"].startswith(message)


def test_another_projects_campaign_is_answered_as_unknown(
    client: TestClient, services: Services, tenant: Tenant, voice_id: str
) -> None:
    body = {"name": "n", "voiceId": voice_id, "phoneNumbers": ["09121234567"]}
    campaign_id = client.post("/api/v2/campaign", json=body, headers=tenant.headers).json()[
        "result"
    ]["id"]
    other = make_tenant(services, "other").headers
    for method, path in [
        ("GET", ""),
        ("GET", "/calls"),
        ("GET", "/report.csv"),
        ("POST", "/pause"),
        ("POST", "/resume"),
        ("POST", "/cancel"),
    ]:
        theirs = client.request(method, f"/api/v2/campaign/{campaign_id}{path}", headers=other)
        unknown = client.request(method, f"/api/v2/campaign/{'0' * 32}{path}", headers=other)
        assert (theirs.status_code, theirs.json()) == (unknown.status_code, unknown.json())
        assert theirs.status_code == 404
    listed = client.get(f"/api/v2/campaign?before={campaign_id}", headers=other)
    _refused(listed, 404, "NotFound", "before: no such campaign")
    assert client.get("/api/v2/campaign", headers=other).json()["result"] == []
