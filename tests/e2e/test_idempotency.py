"""Concurrent repeats of one idempotent request against a real server produce one call."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.audio.samples import encode, tone
from tests.e2e.server import Server, voxcall, voxcall_json
from voxcall.store.store import Store

pytestmark = pytest.mark.slow


def test_concurrent_duplicates_place_one_call(tmp_path: Path) -> None:
    data = tmp_path / "data"
    voxcall(data, "dialer", "add", "sandbox", "--driver", "sandbox", "--default")
    project = voxcall_json(data, "project", "create", "acme")
    server = Server(data, speed=50)
    server.start()
    try:
        client = server.client(project["token"])
        wav = encode(tone(1.0, rate=8000, channels=1), 8000, 1, "wav")
        voice = client.post("/api/v2/file/voice", files={"file": ("t.wav", wav)}).json()

        async def repeats() -> list[httpx.Response]:
            headers = {
                "Authorization": f"Bearer {project['token']}",
                "Idempotency-Key": "order-42",
            }
            body = {
                "phoneNumbers": ["09121234567", "09121234568"],
                "voiceId": voice["result"]["id"],
            }
            async with httpx.AsyncClient(base_url=server.base, headers=headers, timeout=60) as c:
                return await asyncio.gather(
                    *(c.post("/api/v2/voice/batch", json=body) for _ in range(30))
                )

        responses = asyncio.run(repeats())
        assert Counter(r.status_code for r in responses) == {200: 30}
        assert len({r.content for r in responses}) == 1
        store = Store.open(f"sqlite:///{data / 'voxcall.db'}")
        try:
            assert sum(store.count_calls().values()) == 2
        finally:
            store.close()
    finally:
        server.stop()
