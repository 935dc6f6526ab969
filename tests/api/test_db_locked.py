"""A database locked by someone else (another SQLite connection holding BEGIN EXCLUSIVE, a
PostgreSQL session holding LOCK TABLE): a request waits at most --db-timeout, then answers
503 Unavailable having accepted nothing; once the lock is gone the same request is served."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.engine import make_url

from tests.api.test_calls import place, upload
from tests.audio.samples import speech_wav
from tests.conftest import Tenant, settings_on
from voxcall.config import Settings
from voxcall.runtime import Services

TIMEOUT = 1.0  # the bound under test; the assertions allow it many times over (a busy box)


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    return settings_on(request, tmp_path, db_timeout=TIMEOUT)


@contextlib.contextmanager
def locked(settings: Settings) -> Iterator[None]:
    """Another connection holds the database's write lock (PostgreSQL: the calls and voices
    tables, which is what a request writes) until the block ends."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        other = sqlite3.connect(str(url.database), isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as session:
        session.execute("LOCK TABLE calls, voices IN ACCESS EXCLUSIVE MODE")
        yield


def test_a_locked_database_answers_503_within_the_bound(
    client: TestClient, services: Services, tenant: Tenant, settings: Settings
) -> None:
    voice_id = upload(client, tenant, speech_wav("hello"), "hello.wav")
    body = {"phoneNumber": "09121234567", "voiceId": voice_id}
    again = speech_wav("again")

    def attempt() -> tuple[float, Response, Response]:
        started = time.monotonic()
        refused = place(client, tenant, body)
        waited = time.monotonic() - started
        files = {"file": ("again.wav", again)}
        return (
            waited,
            refused,
            client.post("/api/v2/file/voice", headers=tenant.headers, files=files),
        )

    # in a thread: a request that waited without bound would hang the test with the lock held
    with ThreadPoolExecutor(1) as pool, locked(settings):
        waited, refused, refused_upload = pool.submit(attempt).result(timeout=TIMEOUT * 2 + 20)
    assert refused.status_code == 503, refused.text
    assert refused.json() == {
        "result": None,
        "error": "Unavailable",
        "message": "the store is unreachable; nothing was accepted",
    }
    assert TIMEOUT * 0.5 <= waited < TIMEOUT + 5  # it waited, and not much longer
    assert refused_upload.status_code == 503, refused_upload.text
    # nothing was accepted: no call, no reservation, no second voice (nor its files)
    assert services.store.count_calls() == {}
    account = client.get("/api/v2/account/balance", headers=tenant.headers).json()["result"]
    assert account["reserved"] == 0
    assert [v.id for v in services.store.list_voices(tenant.project.id)] == [voice_id]
    assert [p.name for p in (settings.voices_dir / tenant.project.id).iterdir()] == [voice_id]
    # the lock is gone: served
    assert place(client, tenant, body).status_code == 200
