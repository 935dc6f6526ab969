"""kill -9 of `voxcall serve` during a campaign's import and while it runs: an import is
stored whole or not at all, no number is released twice, nobody is dialled twice, and the
campaign's counts add up to its calls once it is done."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.audio.samples import encode, tone
from tests.billing.invariants import check_money
from tests.e2e.server import Server, voxcall, voxcall_json
from voxcall.domain.calls import AttemptState, CallStatus, Phase
from voxcall.store import schema
from voxcall.store.store import Store

pytestmark = pytest.mark.slow

SPEED = 4.0


def _setup(data: Path) -> tuple[dict[str, Any], Server, httpx.Client, str]:
    voxcall(data, "dialer", "add", "sandbox", "--driver", "sandbox", "--default",
            "--channels", "3", "--retry-interval", "10",
            "--price-per-minute", "600", "--billing-increment", "30")  # fmt: skip
    project = voxcall_json(data, "project", "create", "acme", "--balance", "1000000")
    server = Server(data, speed=SPEED)
    server.start()
    client = server.client(project["token"], timeout=120)
    mp3 = encode(tone(2.0, 440.0, rate=44100, channels=1), 44100, 1, "mp3")
    answer = client.post("/api/v2/file/voice", files={"file": ("t.mp3", mp3)})
    return project, server, client, answer.json()["result"]["id"]


def _list_rows(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).select_from(schema.campaign_numbers)).scalar_one()
        )


def test_kill_9_during_an_import_stores_all_of_it_or_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    project, server, client, voice_id = _setup(data)
    numbers = "".join(f"0912{i:07d}\n" for i in range(300_000)).encode()
    answers: list[httpx.Response] = []

    def upload() -> None:
        try:
            answers.append(
                client.post(
                    "/api/v2/campaign",
                    data={"name": "big", "voiceId": voice_id},
                    files={"file": ("list.txt", numbers)},
                )
            )
        except httpx.TransportError:
            pass  # killed before it answered

    try:
        thread = threading.Thread(target=upload)
        thread.start()
        time.sleep(1.5)
        server.kill()
        thread.join(30)
    finally:
        server.stop()

    store = Store.open(f"sqlite:///{data / 'voxcall.db'}")
    try:
        campaigns = store.list_campaigns(project["id"], limit=10)
        assert campaigns is not None
        if answers and answers[0].status_code == 200:
            assert [c.total for c in campaigns] == [300_000]
        else:  # not answered: not stored either, not a row of it
            assert campaigns == []
        assert _list_rows(store) == sum(c.total for c in campaigns)
    finally:
        store.close()


def test_kill_9_while_a_campaign_runs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    project, server, client, voice_id = _setup(data)
    # busy once, then busy again (retried), rejected, and answered numbers
    numbers = ["09121230001", "09121230003"] + [f"0912{i:07d}" for i in range(100, 128)]
    try:
        body = {"name": "run", "voiceId": voice_id, "phoneNumbers": numbers, "retryCount": 1}
        campaign = client.post("/api/v2/campaign", json=body).json()["result"]
        path = f"/api/v2/campaign/{campaign['id']}"
        deadline = time.monotonic() + 60
        while client.get(path).json()["result"]["counts"]["NORMAL"] < 6:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        server.kill()
    finally:
        server.stop()

    store = Store.open(f"sqlite:///{data / 'voxcall.db'}")
    at_kill = {c.id: c for c in store.campaign_calls(project["id"], campaign["id"])}
    dialing = {c.id for c in at_kill.values() if c.phase is Phase.DIALING}
    assert dialing, "no call was on the line at the kill"

    server = Server(data, speed=SPEED)
    server.start()
    try:
        client = server.client(project["token"])
        deadline = time.monotonic() + 120
        while (done := client.get(path).json()["result"])["status"] != "DONE":
            assert time.monotonic() < deadline, done
            time.sleep(0.2)
    finally:
        server.stop()

    calls = store.campaign_calls(project["id"], campaign["id"])
    # every number released once: one call each, in list order
    assert [c.national_number for c in calls] == numbers
    counts = {s.name: sum(1 for c in calls if c.status is s) for s in CallStatus}
    assert done["counts"] == counts and done["total"] == len(numbers)
    assert counts["WAITING"] == 0
    for call in calls:
        attempts = store.attempts_of(call.id)
        assert [a["number"] for a in attempts] == list(range(1, call.attempts + 1))
        assert call.attempts <= 1 + call.retry_count
        if call.id in dialing:  # it may have reached the callee: never dialled again
            assert call.status is CallStatus.UNKNOWN
            assert call.attempts == at_kill[call.id].attempts
            assert attempts[-1]["state"] == AttemptState.UNKNOWN.value
    assert store.busy_channels() == {}
    check_money(store)
    store.close()
