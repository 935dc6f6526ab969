"""Text to speech and spoken one-time codes through the API (real espeak-ng)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.test_calls import upload
from tests.conftest import Tenant
from voxcall.audio import tts
from voxcall.runtime import Services


@pytest.fixture
def espeak_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Count the times espeak-ng really runs."""
    runs: list[str] = []
    real = tts._run_espeak

    def counting(*args: Any, **kwargs: Any) -> Any:
        runs.append(repr(args))
        return real(*args, **kwargs)

    monkeypatch.setattr(tts, "_run_espeak", counting)
    yield runs


def test_file_tts_is_synthesized_once_per_text(
    client: TestClient, tenant: Tenant, espeak_runs: list[str]
) -> None:
    body = {"text": "سلام، این یک پیام آزمایشی است"}
    first = client.post("/api/v2/file/tts", headers=tenant.headers, json=body)
    assert first.status_code == 200, first.text
    voice = first.json()["result"]
    assert voice["format"] == "wav" and voice["duration"] > 0.5
    again = client.post("/api/v2/file/tts", headers=tenant.headers, json=body)
    assert again.json()["result"]["id"] == voice["id"]
    english = client.post(
        "/api/v2/file/tts", headers=tenant.headers, json={**body, "language": "en"}
    )
    assert english.json()["result"]["id"] != voice["id"]
    assert len(espeak_runs) == 2
    listed = client.get("/api/v2/file/voice", headers=tenant.headers).json()["result"]
    assert {v["id"] for v in listed} == {voice["id"], english.json()["result"]["id"]}


def test_single_and_batch_tts_calls_share_one_synthesis(
    client: TestClient, tenant: Tenant, espeak_runs: list[str], services: Services
) -> None:
    text = "Your appointment is tomorrow at nine."
    single = client.post(
        "/api/v2/voice/single/tts",
        headers=tenant.headers,
        json={"phoneNumber": "09121234567", "text": text, "language": "en"},
    )
    assert single.status_code == 200, single.text
    batch = client.post(
        "/api/v2/voice/batch/tts",
        headers=tenant.headers,
        json={"phoneNumbers": ["09121234567", "09121234568"], "text": text, "language": "en"},
    )
    calls = batch.json()["result"]
    assert len(calls) == 2 and calls[0]["campaignId"] == calls[1]["campaignId"]
    assert len(espeak_runs) == 1
    voices = {
        services.store.get_call(tenant.project.id, c["id"]).voice_id  # type: ignore[union-attr]
        for c in [single.json()["result"], *calls]
    }
    assert len(voices) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": "hello", "language": "de"}, "language: must be one of fa, en"),
        ({"text": ""}, "text: must be 1 to 1000 characters"),
        ({"text": "x" * 1001}, "text: must be 1 to 1000 characters"),
        ({"text": "  ...  "}, "text: nothing to say"),
        ({}, "text: required"),
    ],
)
def test_tts_refusals(
    client: TestClient, tenant: Tenant, body: dict[str, Any], message: str
) -> None:
    response = client.post("/api/v2/file/tts", headers=tenant.headers, json=body)
    assert response.status_code == 400
    assert response.json() == {"result": None, "error": "InvalidRequest", "message": message}


def test_tts_without_espeak_is_unavailable(
    client: TestClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(*_: Any, **__: Any) -> Any:
        raise tts.TtsUnavailable("tts: espeak-ng is not installed")

    monkeypatch.setattr(tts, "_run_espeak", missing)
    response = client.post("/api/v2/file/tts", headers=tenant.headers, json={"text": "hi"})
    assert response.status_code == 503
    assert response.json() == {
        "result": None,
        "error": "Unavailable",
        "message": "tts: espeak-ng is not installed",
    }


def _otp_duration(client: TestClient, tenant: Tenant, services: Services, **fields: Any) -> float:
    body = {"phoneNumber": "09121234567", **fields}
    response = client.post("/api/v2/voice/otp", headers=tenant.headers, json=body)
    assert response.status_code == 200, response.text
    call = services.store.get_call(tenant.project.id, response.json()["result"]["id"])
    assert call is not None
    voice = services.store.get_voice(tenant.project.id, call.voice_id)
    assert voice is not None and voice.kind == "otp"
    return voice.duration


def test_otp_audio_grows_with_digits_and_repeats(
    client: TestClient, tenant: Tenant, services: Services, voice_mp3: bytes
) -> None:
    two = _otp_duration(client, tenant, services, text="12")
    four = _otp_duration(client, tenant, services, text="1234")
    four_thrice = _otp_duration(client, tenant, services, text="1234", repeatCount=3)
    assert two < four < four_thrice
    prelude = upload(client, tenant, voice_mp3)
    with_prelude = _otp_duration(client, tenant, services, text="1234", voiceId=prelude)
    assert with_prelude > four + 1.0  # the 1.5 s prelude and its pause come first
    # codes are never listed as voices
    listed = client.get("/api/v2/file/voice", headers=tenant.headers).json()["result"]
    assert [v["id"] for v in listed] == [prelude]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"text": "12a4"}, "text: must be 1 to 8 digits"),
        ({"text": "123456789"}, "text: must be 1 to 8 digits"),
        ({"text": 1234}, "text: input should be a valid string"),
        ({"text": "1234", "repeatCount": 6}, "repeatCount: must be between 1 and 5"),
    ],
)
def test_otp_refusals(
    client: TestClient, tenant: Tenant, fields: dict[str, Any], message: str
) -> None:
    body = {"phoneNumber": "09121234567", **fields}
    response = client.post("/api/v2/voice/otp", headers=tenant.headers, json=body)
    assert response.status_code == 400
    assert response.json() == {"result": None, "error": "InvalidRequest", "message": message}


def test_otp_prelude_must_exist(client: TestClient, tenant: Tenant) -> None:
    body = {"phoneNumber": "09121234567", "text": "1234", "voiceId": "0" * 32}
    response = client.post("/api/v2/voice/otp", headers=tenant.headers, json=body)
    assert (response.status_code, response.json()["error"]) == (400, "InvalidVoice")
