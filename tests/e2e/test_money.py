"""Money under concurrency: 200 simultaneous requests against a balance for 10 calls."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.audio.samples import encode, tone
from tests.billing.invariants import check_money
from tests.e2e.server import Server, voxcall, voxcall_json
from voxcall.store.store import Store

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    data = tmp_path / "data"
    voxcall(data, "dialer", "add", "sandbox", "--driver", "sandbox", "--default",
            "--price-per-minute", "600", "--billing-increment", "30")  # fmt: skip
    server = Server(data, speed=50)
    server.start()
    yield server
    server.stop()


def test_concurrent_requests_never_overdraw(server: Server) -> None:
    data = server.data
    project = voxcall_json(data, "project", "create", "acme", "--balance", "3000")
    voxcall(data, "project", "update", "acme", "--rate-limit", "10000")
    client = server.client(project["token"])
    wav = encode(tone(3.0, rate=8000, channels=1), 8000, 1, "wav")
    voice = client.post("/api/v2/file/voice", files={"file": ("t.wav", wav)}).json()["result"]

    async def burst() -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {project['token']}"}
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(
            base_url=server.base, headers=headers, timeout=60, limits=limits
        ) as c:
            body = {"phoneNumber": "09121234567", "voiceId": voice["id"], "retryCount": 0}
            return await asyncio.gather(
                *(c.post("/api/v2/voice/single", json=body) for _ in range(200))
            )

    responses = asyncio.run(burst())
    codes = Counter(r.status_code for r in responses)
    # 3000 Toman covers exactly ten reservations of 300
    assert codes == {200: 10, 402: 190}
    assert {r.json()["error"] for r in responses if r.status_code == 402} == {"InsufficientBalance"}
    store = Store.open(f"sqlite:///{data / 'voxcall.db'}")
    try:
        check_money(store)
        statement = voxcall_json(data, "project", "statement", "acme")
        assert statement["available"] >= 0
        # the ten calls are answered and cost 300 each: the balance ends at 0
        for _ in range(200):
            if not store.count_calls().get("WAITING"):
                break
            time.sleep(0.1)
        statement = voxcall_json(data, "project", "statement", "acme")
        assert (statement["balance"], statement["reserved"]) == (0.0, 0.0)
        kinds = Counter(e["kind"] for e in statement["entries"])
        assert kinds == {"debit": 10, "topup": 1}
        assert statement["entries"][0]["balance"] == 0.0
        check_money(store)
    finally:
        store.close()
