"""Text to speech and spoken one-time codes through the API (real espeak-ng)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.test_calls import upload
from tests.audio.samples import encode, square_flac, tone
from tests.conftest import Tenant
from voxcall.audio import tts
from voxcall.billing.money import parse_toman
from voxcall.calls.dialers import new_dialer
from voxcall.calls.voices import ORPHAN_AGE
from voxcall.domain.money import Tariff
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


def _nothing_stored(services: Services, tenant: Tenant) -> None:
    """No voice of any kind (OTP included) and no file: the request kept nothing."""
    assert services.store.storage_used(tenant.project.id) == 0
    assert services.store.list_voices(tenant.project.id) == []
    assert [p for p in services.voices.files.root.rglob("*") if p.is_file()] == []
    assert services.store.count_calls() == {}


_SPOKEN = [
    ("/api/v2/voice/single/tts", {"phoneNumber": "09121234567", "text": "Hello there"}),
    ("/api/v2/voice/batch/tts", {"phoneNumbers": ["09121234567"], "text": "Hello there"}),
    ("/api/v2/voice/otp", {"phoneNumber": "09121234567", "text": "4821"}),
]


@pytest.fixture
def priced(services: Services) -> Services:
    """Only a priced dialer (600 Toman a minute, 30 s increments): a call reserves at least
    300 Toman, 600 once its voice passes 29 s (the 1 s margin makes 30)."""
    services.store.set_dialer_enabled("sandbox", False)
    tariff = Tariff(parse_toman("600"), billing_increment=30)
    services.store.add_dialer(new_dialer("tehran", "sandbox", "Tehran", {}, tariff=tariff))
    return services


@pytest.mark.parametrize(("path", "body"), _SPOKEN)
@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"phoneNumber": "0912", "phoneNumbers": ["0912"]}, 400, "InvalidPhoneNumber"),
        ({"serverId": "nowhere"}, 400, "InvalidServer"),
        ({}, 402, "InsufficientBalance"),  # the balance is 0
    ],
)
def test_refused_spoken_calls_synthesize_and_keep_nothing(
    client: TestClient,
    tenant: Tenant,
    priced: Services,
    espeak_runs: list[str],
    path: str,
    body: dict[str, Any],
    change: dict[str, Any],
    status: int,
    error: str,
) -> None:
    request = {**body, **{k: v for k, v in change.items() if k in body or k == "serverId"}}
    response = client.post(path, headers=tenant.headers, json={**request, "language": "en"})
    assert (response.status_code, response.json()["error"]) == (status, error)
    assert espeak_runs == []  # refused before any speech was made
    _nothing_stored(priced, tenant)


@pytest.mark.parametrize("path", ["/api/v2/voice/single/tts", "/api/v2/voice/otp"])
def test_speech_refused_after_synthesis_keeps_nothing(
    client: TestClient, tenant: Tenant, priced: Services, voice_mp3: bytes, path: str
) -> None:
    """The balance covers the shortest call (300 Toman) but not this voice (600): the 402
    comes once the speech exists, and neither its row nor its files are kept."""
    priced.store.credit(tenant.project.id, parse_toman("500"), kind="topup", note="t")
    if path.endswith("otp"):
        long_prelude = encode(tone(29.0, rate=8000, channels=1), 8000, 1, "flac")
        prelude = upload(client, tenant, long_prelude)
        used = priced.store.storage_used(tenant.project.id)
        body = {"phoneNumber": "09121234567", "text": "48213377", "voiceId": prelude}
    else:
        used = 0
        body = {"phoneNumber": "09121234567", "text": "Your parcel is on its way. " * 20}
    response = client.post(path, headers=tenant.headers, json={**body, "language": "en"})
    assert response.status_code == 402, response.text
    assert response.json() == {
        "result": None,
        "error": "InsufficientBalance",
        "message": "balance: 600 Toman must be available for 1 call(s)",
    }
    assert priced.store.storage_used(tenant.project.id) == used
    files = [p for p in priced.voices.files.root.rglob("*") if p.is_file()]
    assert len(files) == (2 if used else 0)  # the prelude's original and 8 kHz file
    assert priced.store.count_calls() == {}


def test_otp_voice_obeys_the_voice_length_limit(
    client: TestClient, tenant: Tenant, services: Services
) -> None:
    # A prelude of 299 s is a valid voice; with the code after it, the call's voice is not.
    prelude = upload(client, tenant, square_flac(299.0), name="long.flac")
    used = services.store.storage_used(tenant.project.id)
    body = {"phoneNumber": "09121234567", "text": "4821", "voiceId": prelude, "language": "en"}
    response = client.post("/api/v2/voice/otp", headers=tenant.headers, json=body)
    assert response.status_code == 400
    message = response.json()["message"]
    assert response.json()["error"] == "InvalidRequest"
    assert message.startswith("voiceId: the spoken code would last 30")
    assert message.endswith("s, longer than a voice may (300 s)")
    assert services.store.storage_used(tenant.project.id) == used
    assert services.store.count_calls() == {}


def test_sweep_removes_code_voices_of_final_calls_and_orphan_files(
    client: TestClient, tenant: Tenant, services: Services, voice_mp3: bytes
) -> None:
    def call(path: str, **body: Any) -> str:
        body = {"phoneNumber": "09121234567", "language": "en", **body}
        response = client.post(path, headers=tenant.headers, json=body)
        assert response.status_code == 200, response.text
        call_id: str = response.json()["result"]["id"]
        return call_id

    code_call = call("/api/v2/voice/otp", text="4821")
    spoken_call = call("/api/v2/voice/single/tts", text="Your parcel is on its way.")
    uploaded = upload(client, tenant, voice_mp3)
    voice_of = {}
    for c in (code_call, spoken_call):
        placed = services.store.get_call(tenant.project.id, c)
        assert placed is not None
        voice_of[c] = placed.voice_id
    files = services.voices.files
    assert services.voices.sweep() == 0  # every voice is in use or was uploaded

    for c in (code_call, spoken_call):
        assert client.post(f"/api/v2/voice/cancel/{c}", headers=tenant.headers).status_code == 200
    assert services.voices.sweep() == 1  # the code: nobody will hear it again
    assert services.store.get_voice(tenant.project.id, voice_of[code_call]) is None
    assert not files.wav_path(tenant.project.id, voice_of[code_call]).parent.exists()
    for kept in (voice_of[spoken_call], uploaded):  # spoken text is reused; uploads are kept
        assert services.store.get_voice(tenant.project.id, kept) is not None
        assert files.wav_path(tenant.project.id, kept).exists()

    # files a request wrote but never committed a row for: kept while that request may
    # still commit, removed once older than ORPHAN_AGE
    orphan = "f" * 32
    files.save(tenant.project.id, orphan, original=b"x", wav=b"y")
    assert services.voices.sweep() == 0
    folder = files.wav_path(tenant.project.id, orphan).parent
    old = time.time() - ORPHAN_AGE - 60
    os.utime(folder, (old, old))
    assert services.voices.sweep() == 1
    assert not folder.exists()
    assert files.wav_path(tenant.project.id, uploaded).exists()
