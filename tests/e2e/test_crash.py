"""kill -9 with calls in every state: nothing lost, nothing dialled twice, nothing stuck."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.audio.samples import encode, tone
from tests.billing.invariants import check_money
from tests.e2e.server import Server, voxcall, voxcall_json
from voxcall.domain.calls import AttemptState, Phase
from voxcall.store.store import Store

pytestmark = pytest.mark.slow

SPEED = 4.0


def test_kill_9_loses_nothing_and_dials_nobody_twice(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # a retry interval of 10 s: busy calls sit in their retry wait at the kill
    voxcall(data, "dialer", "add", "sandbox", "--driver", "sandbox", "--default",
            "--channels", "3", "--retry-interval", "10",
            "--price-per-minute", "600", "--billing-increment", "30")  # fmt: skip
    project = voxcall_json(data, "project", "create", "acme", "--balance", "1000000")
    headers = {"Authorization": f"Bearer {project['token']}"}
    server = Server(data, speed=SPEED)
    server.start()
    accepted: set[str] = set()
    try:
        client = server.client(project["token"])
        mp3 = encode(tone(2.0, 440.0, rate=44100, channels=1), 44100, 1, "mp3")
        voice_id = client.post("/api/v2/file/voice", files={"file": ("t.mp3", mp3)}).json()[
            "result"
        ]["id"]

        def place(number: str) -> None:
            body = {"phoneNumber": number, "voiceId": voice_id, "retryCount": 1}
            response = client.post("/api/v2/voice/single", json=body)
            if response.status_code == 200:
                accepted.add(response.json()["result"]["id"])

        for number in ["09121230001"] * 2 + ["09121230003"] + ["09121234567"] * 20:
            place(number)

        # keep requests coming while the process dies
        stop = threading.Event()

        def hammer() -> None:
            with httpx.Client(base_url=server.base, headers=headers, timeout=5) as c:
                while not stop.is_set():
                    try:
                        response = c.post(
                            "/api/v2/voice/single",
                            json={"phoneNumber": "09121239999", "voiceId": voice_id},
                        )
                    except httpx.TransportError:
                        return
                    if response.status_code == 200:
                        accepted.add(response.json()["result"]["id"])

        thread = threading.Thread(target=hammer)
        thread.start()
        time.sleep(2.0)
        server.kill()
        stop.set()
        thread.join(10)
    finally:
        server.stop()

    store = Store.open(f"sqlite:///{data / 'voxcall.db'}")
    phases: dict[str, str] = {}
    attempts_at_kill: dict[str, int] = {}
    for call_id in accepted:
        call = store.get_call(project["id"], call_id)
        assert call is not None, f"accepted call {call_id} was lost"
        phases[call_id] = call.phase.value
        attempts_at_kill[call_id] = call.attempts
    seen = set(phases.values())
    assert {"queued", "dialing", "final"} <= seen, seen
    retry_waiting = [c for c, p in phases.items() if p == "queued" and attempts_at_kill[c] == 1]
    assert retry_waiting, "no call was waiting for a retry at the kill"

    server = Server(data, speed=SPEED)
    server.start()
    try:
        deadline = time.monotonic() + 120
        while store.count_calls().get("WAITING", 0):
            assert time.monotonic() < deadline, store.count_calls()
            time.sleep(0.2)
    finally:
        server.stop()

    for call_id in accepted:
        call = store.get_call(project["id"], call_id)
        assert call is not None and call.phase is Phase.FINAL
        attempts = store.attempts_of(call_id)
        assert [a["number"] for a in attempts] == list(range(1, call.attempts + 1))
        assert all(
            a["state"] in (AttemptState.DONE.value, AttemptState.UNKNOWN.value) for a in attempts
        )
        assert call.attempts <= 1 + call.retry_count
        if phases[call_id] == "dialing":
            # the attempt live at the kill may have reached the callee: never dialled again
            assert call.status.name == "UNKNOWN"
            assert call.attempts == attempts_at_kill[call_id]
            assert attempts[-1]["state"] == "unknown"
    assert store.busy_channels() == {}
    check_money(store)
    billed = [store.get_call(project["id"], c) for c in accepted]
    assert any(c is not None and c.price_milli == 300_000 for c in billed)
    store.close()
