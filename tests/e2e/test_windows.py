"""`voxcall serve` keeps a call outside its project's calling window from being attempted,
and attempts it once the window opens (api.md §10)."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.audio.samples import encode, tone
from tests.e2e.server import Server, voxcall, voxcall_json
from tests.e2e.test_serve import wait_final

pytestmark = pytest.mark.slow


def test_a_call_waits_for_its_window_then_is_attempted(tmp_path: Path) -> None:
    data = tmp_path / "data"
    voxcall(data, "dialer", "add", "sandbox", "--driver", "sandbox", "--default")
    project = voxcall_json(data, "project", "create", "acme", "--balance", "100")
    # The window opens at the next whole minute (windows are in minutes) at least 10 s away.
    opening = math.ceil(time.time() / 60) * 60
    if opening - time.time() < 10:
        opening += 60
    start = datetime.fromtimestamp(opening, UTC)
    window = f"sat-fri {start:%H:%M}-{start + timedelta(hours=1):%H:%M} UTC"
    voxcall(data, "project", "update", "acme", "--window", window)
    server = Server(data, speed=20.0)
    server.start()
    try:
        client = server.client(project["token"])
        wav = encode(tone(1.0, rate=8000, channels=1), 8000, 1, "wav")
        voice = client.post("/api/v2/file/voice", files={"file": ("t.wav", wav)}).json()
        body = {"phoneNumber": "09121234567", "voiceId": voice["result"]["id"]}
        accepted = client.post("/api/v2/voice/single", json=body)
        assert accepted.status_code == 200, accepted.text
        call_id = accepted.json()["result"]["id"]
        # While the window is closed, the scheduler's rounds leave the call waiting.
        time.sleep(2)
        waiting = client.get(f"/api/v2/voice/status/{call_id}").json()["result"]
        if time.time() < opening:
            assert (waiting["status"], waiting["attempts"]) == ("WAITING", 0)
        final = wait_final(client, [call_id], timeout=opening - time.time() + 60)[call_id]
        assert (final["status"], final["attempts"]) == ("NORMAL", 1)
        assert final["executionDate"] >= opening
    finally:
        server.stop()
