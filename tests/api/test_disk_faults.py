"""A full or read-only data folder, and a database file swapped under the process: real faults
(a small tmpfs, a read-only bind mount), the real app. Uploads and speech answer 503 and keep
nothing; /health says so while it lasts and recovers when it is fixed."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.audio.samples import encode, tone
from tests.conftest import Tenant
from tests.peers.disk import filled, read_only, small_disk
from voxcall.config import Settings
from voxcall.runtime import Services

UNAVAILABLE = {
    "result": None,
    "error": "Unavailable",
    "message": "the data folder cannot be written; nothing was accepted",
}


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    """The data folder, database included, on a disk of its own that a test can fill."""
    with small_disk(tmp_path / "data", "32m") as data:
        yield Settings(
            data_dir=data, database_url=f"sqlite:///{data / 'voxcall.db'}", sandbox_speed=100.0
        )


@pytest.fixture(scope="module")
def ten_seconds() -> bytes:
    """160 KB as uploaded, as much again as the 8 kHz copy: more than a nearly full disk has."""
    return encode(tone(10.0, 440.0, rate=8000, channels=1), 8000, 1, "wav")


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def upload(client: TestClient, tenant: Tenant, data: bytes) -> tuple[int, object]:
    response = client.post(
        "/api/v2/file/voice", headers=tenant.headers, files={"file": ("v.wav", data)}
    )
    return response.status_code, response.json()


def test_upload_on_a_full_disk_keeps_nothing(
    client: TestClient, tenant: Tenant, services: Services, settings: Settings, ten_seconds: bytes
) -> None:
    # 100 KB free: the upload's first file is cut off half-way, the second never begins.
    with filled(settings.data_dir, leave=100_000):
        assert upload(client, tenant, ten_seconds) == (503, UNAVAILABLE)
        health = client.get("/health")
        assert (health.status_code, health.json()) == (503, UNAVAILABLE)
    assert files_under(settings.voices_dir) == []
    assert services.store.list_voices(tenant.project.id) == []
    # freed: healthy again, and the same upload is kept
    assert client.get("/health").status_code == 200
    status, body = upload(client, tenant, ten_seconds)
    assert status == 200, body
    assert len(files_under(settings.voices_dir)) == 2


def test_speech_on_a_full_disk_keeps_nothing(
    client: TestClient, tenant: Tenant, services: Services, settings: Settings
) -> None:
    with filled(settings.data_dir):
        tts = client.post("/api/v2/file/tts", headers=tenant.headers, json={"text": "hello"})
        assert (tts.status_code, tts.json()) == (503, UNAVAILABLE)
        body = {"phoneNumber": "09121234567", "text": "hello", "language": "en"}
        call = client.post("/api/v2/voice/single/tts", headers=tenant.headers, json=body)
        assert (call.status_code, call.json()) == (503, UNAVAILABLE)
        body = {"phoneNumber": "09121234567", "text": "4821"}
        otp = client.post("/api/v2/voice/otp", headers=tenant.headers, json=body)
        assert (otp.status_code, otp.json()) == (503, UNAVAILABLE)
    assert files_under(settings.voices_dir) == []
    assert services.store.list_voices(tenant.project.id) == []
    assert services.store.count_calls() == {}
    # no hidden row either: the same text is synthesized anew, not found half-made
    tts = client.post("/api/v2/file/tts", headers=tenant.headers, json={"text": "hello"})
    assert tts.status_code == 200, tts.text


def test_read_only_voices_folder(
    client: TestClient, tenant: Tenant, services: Services, settings: Settings, ten_seconds: bytes
) -> None:
    with read_only(settings.voices_dir):
        assert upload(client, tenant, ten_seconds) == (503, UNAVAILABLE)
        health = client.get("/health")
        assert (health.status_code, health.json()) == (503, UNAVAILABLE)
    assert services.store.list_voices(tenant.project.id) == []
    assert client.get("/health").status_code == 200
    assert upload(client, tenant, ten_seconds)[0] == 200


def test_health_when_the_database_file_is_removed_or_replaced(
    client: TestClient, settings: Settings
) -> None:
    database = settings.data_dir / "voxcall.db"
    assert client.get("/health").status_code == 200
    moved = settings.data_dir / "moved.db"
    os.rename(database, moved)
    removed = client.get("/health")
    assert removed.status_code == 503
    assert removed.json() == {
        "result": None,
        "error": "Unavailable",
        "message": "the store is unreachable; nothing was accepted",
    }
    os.rename(moved, database)  # put back: the same file, healthy again
    assert client.get("/health").status_code == 200
    # a restore copies another file over the path: the process still has the old one open
    shutil.copyfile(database, moved)
    os.replace(moved, database)
    assert client.get("/health").status_code == 503
