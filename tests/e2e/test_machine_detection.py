"""`voxcall serve` with machine detection on the sandbox trunk (api.md §11): who answered, what
each mode does, and the money of a machine that `humansOnly` hung up on."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.audio.samples import encode, tone
from tests.e2e.server import Server, voxcall, voxcall_json
from tests.e2e.test_serve import data, server, wait_final

__all__ = ["data", "server"]  # fixtures

pytestmark = pytest.mark.slow


def test_sandbox_machine_detection_end_to_end(server: Server, data: Path) -> None:
    # 10 Toman a second, billed by the second: a price says how many seconds were billed.
    voxcall(data, "dialer", "add", "priced", "--driver", "sandbox", "--price-per-minute",
            "600", "--billing-increment", "1", "--retry-interval", "1")  # fmt: skip
    project = voxcall_json(data, "project", "create", "acme", "--balance", "50000")
    client = server.client(project["token"])
    audio = encode(tone(3.0, 440.0, rate=8000, channels=1), 8000, 1, "wav")
    voice = client.post("/api/v2/file/voice", files={"file": ("m.wav", audio)}).json()["result"]
    requests = {
        # name: (number, mode, retryCount)
        "voicemail": ("09121230008", "voicemail", 0),
        "humans only": ("09351230008", "humansOnly", 0),
        "humans only, retried": ("09191230008", "humansOnly", 1),
        "a person": ("09121234567", "humansOnly", 0),
        "detect": ("09351234567", "detect", 0),
        "off": ("09191234567", "off", 0),
    }
    ids = {}
    for name, (number, mode, retries) in requests.items():
        body = {
            "phoneNumber": number,
            "voiceId": voice["id"],
            "serverId": "priced",
            "machineDetection": mode,
            "retryCount": retries,
        }
        response = client.post("/api/v2/voice/single", json=body)
        assert response.status_code == 200, (name, response.text)
        ids[name] = response.json()["result"]["id"]
    final = wait_final(client, list(ids.values()))
    got = {
        name: (
            final[ids[name]]["status"],
            final[ids[name]]["answeredBy"],
            final[ids[name]]["billSec"],
            final[ids[name]]["price"],
            final[ids[name]]["attempts"],
        )
        for name in requests
    }
    assert got == {
        # the message after the greeting and its beep (7.5 s), 3 s long
        "voicemail": ("NORMAL", "machine", 11, -110.0, 1),
        # hung up at the decision (1.9 s after the answer), billed for its 2 s
        "humans only": ("NO_ANSWER", "machine", 2, -20.0, 1),
        "humans only, retried": ("NO_ANSWER", "machine", 2, -20.0, 2),
        # the message after the decision (1.7 s)
        "a person": ("NORMAL", "human", 5, -50.0, 1),
        "detect": ("NORMAL", "human", 3, -30.0, 1),
        "off": ("NORMAL", None, 3, -30.0, 1),
    }
