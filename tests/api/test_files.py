"""Voice upload, list, download and delete through the real app."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import threading
import time
import wave
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.test_calls import place, upload
from tests.audio.samples import FORMATS, encode, silence, speech_wav, square_flac, tone
from tests.conftest import Tenant, make_tenant
from voxcall.api.app import create_app
from voxcall.audio.decode import DecodedVoice
from voxcall.calls import voices
from voxcall.calls.dialers import new_dialer
from voxcall.config import Settings
from voxcall.runtime import Services, build_services


@pytest.mark.parametrize("fmt", FORMATS)
def test_upload_every_format(client: TestClient, tenant: Tenant, fmt: str) -> None:
    data = encode(tone(2.0, 440.0, rate=44100, channels=2), 44100, 2, fmt)
    response = client.post(
        "/api/v2/file/voice",
        headers=tenant.headers,
        files={"file": (f"greeting.{fmt}", data)},
        data={"name": "Greeting"},
    )
    assert response.status_code == 200, response.text
    voice = response.json()["result"]
    assert voice["name"] == "Greeting"
    assert voice["size"] == len(data)
    assert voice["duration"] == pytest.approx(2.0, abs=0.1)
    assert voice["format"] in FORMATS or voice["format"] == "ogg"

    wav = client.get(f"/api/v2/file/voice/{voice['id']}", headers=tenant.headers)
    assert wav.status_code == 200
    assert wav.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(wav.content)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() / 8000 == pytest.approx(2.0, abs=0.1)

    original = client.get(
        f"/api/v2/file/voice/{voice['id']}?format=original", headers=tenant.headers
    )
    assert original.content == data


def test_list_and_isolation(client: TestClient, tenant: Tenant, services: Services) -> None:
    voice_id = upload(client, tenant, speech_wav("hello"), "hello.wav")
    listed = client.get("/api/v2/file/voice", headers=tenant.headers).json()["result"]
    assert [v["id"] for v in listed] == [voice_id]
    assert listed[0]["name"] == "hello.wav"
    other = make_tenant(services, "other")
    assert client.get("/api/v2/file/voice", headers=other.headers).json()["result"] == []
    foreign = client.get(f"/api/v2/file/voice/{voice_id}", headers=other.headers)
    assert (foreign.status_code, foreign.json()["error"]) == (404, "NotFound")
    deleted = client.delete(f"/api/v2/file/voice/{voice_id}", headers=other.headers)
    assert deleted.status_code == 404


def test_delete_and_voice_in_use(client: TestClient, tenant: Tenant, voice_mp3: bytes) -> None:
    voice_id = upload(client, tenant, voice_mp3)
    call = place(client, tenant, {"phoneNumber": "09121234567", "voiceId": voice_id}).json()
    response = client.delete(f"/api/v2/file/voice/{voice_id}", headers=tenant.headers)
    assert response.status_code == 409
    assert response.json() == {
        "result": None,
        "error": "VoiceInUse",
        "message": "voiceId: a call that is not final uses this voice",
    }
    client.post(f"/api/v2/voice/cancel/{call['result']['id']}", headers=tenant.headers)
    response = client.delete(f"/api/v2/file/voice/{voice_id}", headers=tenant.headers)
    assert response.json() == {"result": None, "error": None}
    assert client.get(f"/api/v2/file/voice/{voice_id}", headers=tenant.headers).status_code == 404
    assert client.get("/api/v2/file/voice", headers=tenant.headers).json()["result"] == []


def _refusal(client: TestClient, tenant: Tenant, data: bytes) -> tuple[int, dict[str, object]]:
    response = client.post(
        "/api/v2/file/voice", headers=tenant.headers, files={"file": ("x", data)}
    )
    return response.status_code, response.json()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, this is a text file\n" * 20,
        b"\x89PNG\r\n\x1a\n" + bytes(200),
        b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(20),
    ],
    ids=["empty", "text", "png", "broken-mp3"],
)
def test_not_audio_is_invalid_file(client: TestClient, tenant: Tenant, data: bytes) -> None:
    status, body = _refusal(client, tenant, data)
    assert (status, body["error"]) == (400, "InvalidFile")
    assert str(body["message"]).startswith("file: ")
    assert client.get("/api/v2/file/voice", headers=tenant.headers).json()["result"] == []


def test_silent_and_too_long(client: TestClient, tenant: Tenant, services: Services) -> None:
    status, body = _refusal(client, tenant, encode(silence(2.0), 44100, 2, "wav"))
    assert (status, body["error"]) == (400, "InvalidFile")
    assert "silent" in str(body["message"])
    long_wav = encode(tone(301.0, 440.0, rate=8000, channels=1), 8000, 1, "wav")
    status, body = _refusal(client, tenant, long_wav)
    assert (status, body["error"]) == (400, "InvalidFile")
    assert "longer than 300" in str(body["message"])
    assert not any(services.voices.files.root.glob("*/*/original"))


def test_file_over_ten_mebibytes(client: TestClient, tenant: Tenant) -> None:
    status, body = _refusal(client, tenant, bytes(10 * 1024 * 1024 + 1))
    assert (status, body["error"]) == (413, "RequestTooLarge")
    status, body = _refusal(client, tenant, bytes(11 * 1024 * 1024))
    assert (status, body["error"]) == (413, "RequestTooLarge")


def test_upload_needs_a_file_field(client: TestClient, tenant: Tenant) -> None:
    response = client.post("/api/v2/file/voice", headers=tenant.headers, data={"name": "x"})
    assert response.status_code == 400
    assert response.json()["error"] == "InvalidRequest"
    response = client.post("/api/v2/file/voice", headers=tenant.headers, json={"file": "x"})
    assert response.json() == {
        "result": None,
        "error": "InvalidRequest",
        "message": "body: must be multipart/form-data",
    }


def test_streamed_upload_over_the_limit(client: TestClient, tenant: Tenant) -> None:
    """No Content-Length: the limit holds while the multipart body streams in (413, not 400)."""
    boundary = "vxboundary"

    def body() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.wav"\r\n'
            "Content-Type: audio/wav\r\n\r\n"
        ).encode()
        for _ in range(11 * 16):
            yield bytes(64 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post(
        "/api/v2/file/voice",
        headers={**tenant.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        content=body(),
    )
    assert (response.status_code, response.json()["error"]) == (413, "RequestTooLarge")


async def test_uploads_decode_on_a_bounded_pool_while_others_answer(
    settings: Settings, voice_mp3: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """45 uploads at once, their decoding held at a gate: two decode (the pool's size), the
    others wait holding no thread, and GET /voice/servers still answers at once. (Before,
    each upload held one of Starlette's 40 threads for its decode: 40 slow uploads left none
    for any other request.)"""
    services = build_services(dataclasses.replace(settings, audio_workers=2))
    try:
        services.store.add_dialer(new_dialer("sandbox", "sandbox", "Sandbox", {}))
        tenant = make_tenant(services, "acme")
        gate = threading.Event()
        lock = threading.Lock()
        running, peak = [0], [0]
        real_decode = voices.decode_voice

        def gated_decode(data: bytes, **limits: float) -> DecodedVoice:
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            try:
                gate.wait(60)
                return real_decode(data, **limits)
            finally:
                with lock:
                    running[0] -= 1

        monkeypatch.setattr(voices, "decode_voice", gated_decode)
        transport = httpx.ASGITransport(app=create_app(services, run_worker=False))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://voxcall", headers=tenant.headers, timeout=60
        ) as client:
            uploads = [
                asyncio.create_task(
                    client.post("/api/v2/file/voice", files={"file": ("v.mp3", voice_mp3)})
                )
                for _ in range(45)
            ]
            try:
                for _ in range(2000):
                    if running[0] == 2:
                        break
                    await asyncio.sleep(0.01)
                started = time.monotonic()
                servers = await asyncio.wait_for(client.get("/api/v2/voice/servers"), 10)
                elapsed = time.monotonic() - started
            finally:
                gate.set()
            answers = await asyncio.gather(*uploads)
        assert servers.status_code == 200
        assert elapsed < 2.0  # a few ms unloaded; generous for a shared 2-core box
        assert [a.status_code for a in answers] == [200] * 45
        assert peak[0] == 2
    finally:
        services.store.close()


def test_storage_quota(client: TestClient, tenant: Tenant, services: Services) -> None:
    files = services.voices.files.root
    first = upload(client, tenant, encode(tone(2.0, rate=8000, channels=1), 8000, 1, "wav"))
    used = services.store.storage_used(tenant.project.id)
    assert used == sum(p.stat().st_size for p in files.rglob("*") if p.is_file())
    services.store.update_project(tenant.project.id, storage_quota=used + 40_000)

    # decodes to more than the room left (its 8 kHz copy counts too): refused at the end
    status, body = _refusal(
        client, tenant, encode(tone(3.0, rate=8000, channels=1), 8000, 1, "mp3")
    )
    assert (status, body["error"]) == (413, "StorageQuotaExceeded")
    assert body["message"] == (
        "storage: the project's voices would take 0.1 MiB, over its quota of 0.1 MiB "
        "(delete voices it no longer needs)"
    )
    # larger than the room left as it comes: refused before it is even decoded
    status, body = _refusal(client, tenant, bytes(50_000))
    assert (status, body["error"]) == (413, "StorageQuotaExceeded")
    speech = client.post(
        "/api/v2/file/tts", headers=tenant.headers, json={"text": "Hello " * 20, "language": "en"}
    )
    assert (speech.status_code, speech.json()["error"]) == (413, "StorageQuotaExceeded")
    spoken_call = client.post(
        "/api/v2/voice/single/tts",
        headers=tenant.headers,
        json={"phoneNumber": "09121234567", "text": "Hello " * 20, "language": "en"},
    )
    assert (spoken_call.status_code, spoken_call.json()["error"]) == (413, "StorageQuotaExceeded")
    assert services.store.storage_used(tenant.project.id) == used
    assert len([p for p in files.rglob("*") if p.is_file()]) == 2
    assert services.store.count_calls() == {}

    # deleting a voice makes room again
    assert client.delete(f"/api/v2/file/voice/{first}", headers=tenant.headers).status_code == 200
    assert services.store.storage_used(tenant.project.id) == 0
    upload(client, tenant, encode(tone(2.0, rate=8000, channels=1), 8000, 1, "mp3"))


def test_a_three_hour_upload_is_refused_after_300_s_of_it(
    client: TestClient, tenant: Tenant, services: Services
) -> None:
    data = square_flac(3 * 3600)  # 300 kB that would decode to 173 MB
    started = time.monotonic()
    status, body = _refusal(client, tenant, data)
    assert time.monotonic() - started < 10  # about 0.05 s on the 2-core dev box
    assert (status, body) == (
        400,
        {
            "result": None,
            "error": "InvalidFile",
            "message": "file: audio is longer than 300 s (10800.0 s)",
        },
    )
    assert services.store.storage_used(tenant.project.id) == 0
