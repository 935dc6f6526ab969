"""Webhooks through `voxcall serve`: the receiver fails, is down, recovers; then kill -9."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.audio.samples import encode, tone
from tests.e2e.server import Server, voxcall, voxcall_json
from tests.webhooks.receiver import Receiver
from voxcall.store.store import Store
from voxcall.webhooks.signing import verify

pytestmark = pytest.mark.slow

NUMBERS = ["09121234567", "09121230001", "09121230003", "09121230004"]


def _wait(predicate: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_every_final_call_gets_one_signed_event_through_outages_and_kill_9(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOXCALL_WEBHOOK_BACKOFF", "0.2")
    data = tmp_path / "data"
    voxcall(data, "dialer", "add", "sandbox", "--driver", "sandbox", "--default",
            "--price-per-minute", "600", "--billing-increment", "30")  # fmt: skip
    project = voxcall_json(data, "project", "create", "acme", "--balance", "10000")
    receiver = Receiver(fail_first=3)
    receiver.start()
    hook = voxcall_json(data, "project", "webhook", "acme", receiver.url)
    assert hook["secret"].startswith("whsec_")
    server = Server(data, speed=50)
    server.start()
    store = Store.open(f"sqlite:///{data / 'voxcall.db'}")
    try:
        client = server.client(project["token"])
        wav = encode(tone(2.0, rate=8000, channels=1), 8000, 1, "wav")
        voice = client.post("/api/v2/file/voice", files={"file": ("t.wav", wav)}).json()
        body = {"phoneNumbers": NUMBERS, "voiceId": voice["result"]["id"], "retryCount": 0}
        first = client.post("/api/v2/voice/batch", json=body).json()["result"]
        # 500, 500, 500, then delivered
        _wait(lambda: len({r.body for r in receiver.received() if r.status == 200}) == 4, 30,
              "first batch delivered")  # fmt: skip

        receiver.stop()  # down: connection refused
        second = client.post("/api/v2/voice/batch", json=body).json()["result"]
        _wait(lambda: not store.count_calls().get("WAITING"), 30, "second batch final")
        server.kill()  # final statuses written, events not delivered: kill -9
        server.stop()
        receiver.start()
        server = Server(data, speed=50)
        server.start()
        calls = {c["id"] for c in first + second}
        _wait(
            lambda: (
                {json.loads(r.body)["requestId"] for r in receiver.received() if r.status == 200}
                == calls
            ),
            60,
            "every event delivered after the restart",
        )
        _wait(
            lambda: all(e["delivered_at"] for e in store.webhook_events(project["id"])),
            10,
            "deliveries recorded",
        )
    finally:
        server.stop()
        receiver.stop()

    for request in receiver.received():
        assert verify(
            request.body,
            request.headers["x-voxcall-signature"],
            hook["secret"],
            now=int(request.at),
        )
    events = [json.loads(r.body) for r in receiver.received() if r.status == 200]
    by_id = {e["requestId"]: e for e in events}
    assert len(by_id) == 8
    for call in first + second:
        event = by_id[call["id"]]
        status = store.get_call(project["id"], call["id"])
        assert status is not None
        assert event == {
            "requestId": call["id"],
            "campaignId": call["campaignId"],
            "balanceSubtracted": status.price_milli / 1000,
            "cause": status.status.name,
            "statusCode": status.status.code,
            "billSec": status.bill_sec,
            "number": call["phoneNumber"],
            "requestDate": call["requestDate"],
            "executionDate": status.execution_date,
            "digits": status.digits,
            "answeredBy": None,  # machine detection was off
        }
    assert sorted(e["cause"] for e in events) == sorted(
        ["NORMAL", "USER_BUSY", "ERROR", "NORMAL"] * 2
    )
    assert {e["balanceSubtracted"] for e in events if e["cause"] == "NORMAL"} == {300.0}
    assert len(store.webhook_events(project["id"])) == 8  # exactly one event per call
    store.close()
