"""`voxcall serve` as a subprocess: a real upload, every sandbox number, every field."""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.audio.samples import encode, speech_wav, tone
from tests.e2e.server import Server, voxcall, voxcall_json

pytestmark = pytest.mark.slow

SPEED = 20.0


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def server(data: Path) -> Iterator[Server]:
    voxcall(data, "dialer", "add", "sandbox", "--driver", "sandbox", "--default",
            "--retry-interval", "1", "--ring-timeout", "5")  # fmt: skip
    server = Server(data, speed=SPEED)
    server.start()
    yield server
    server.stop()


def wait_final(client: httpx.Client, ids: list[str], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    calls: dict[str, Any] = {}
    while time.monotonic() < deadline:
        for call_id in ids:
            body = client.get(f"/api/v2/voice/status/{call_id}").json()
            calls[call_id] = body["result"]
        if all(c["status"] != "WAITING" for c in calls.values()):
            return calls
        time.sleep(0.1)
    raise AssertionError(f"calls not final in {timeout} s: {calls}")


def test_every_sandbox_number_end_to_end(server: Server, data: Path) -> None:
    project = voxcall_json(data, "project", "create", "acme")
    assert len(project["id"]) == 32 and project["token"].startswith("vx_")
    client = server.client(project["token"])
    audio = speech_wav("Your verification appointment is tomorrow at nine.")
    voice = client.post("/api/v2/file/voice", files={"file": ("msg.wav", audio)}).json()["result"]
    duration = voice["duration"]
    assert 1.0 < duration < 10.0

    expected = {
        # number: (status, statusCode, attempts, billSec)
        "09121234567": ("NORMAL", 1, 1, math.ceil(duration)),
        "09121230001": ("USER_BUSY", 3, 2, 0),
        "09121230002": ("NO_ANSWER", 2, 2, 0),
        "09121230003": ("ERROR", 11, 1, 0),
        "09121230004": ("NORMAL", 1, 1, 1),
        "09121230005": ("NORMAL", 1, 2, math.ceil(duration)),
    }
    accepted: dict[str, dict[str, Any]] = {}
    for number in expected:
        response = client.post(
            "/api/v2/voice/single", json={"phoneNumber": number, "voiceId": voice["id"]}
        )
        assert response.status_code == 200, response.text
        accepted[number] = response.json()["result"]
        assert accepted[number]["status"] == "WAITING"

    final = wait_final(client, [c["id"] for c in accepted.values()])
    for number, (status, code, attempts, bill_sec) in expected.items():
        first = accepted[number]
        call = final[first["id"]]
        assert call == {
            "id": first["id"],
            "phoneNumber": number,
            "status": status,
            "statusCode": code,
            "billSec": bill_sec,
            "requestDate": first["requestDate"],
            "executionDate": call["executionDate"],
            "price": 0.0,
            "campaignId": None,
            "attempts": attempts,
            "digits": "",
            "answeredBy": None,
            "e164": "+98" + number[1:],
        }, number
        assert first["requestDate"] <= call["executionDate"] <= time.time()
        if attempts == 2:  # the retry waited the dialer's retry interval, 1 s
            assert call["executionDate"] >= first["requestDate"]

    servers = client.get("/api/v2/voice/servers").json()["result"]
    assert servers == [{"id": "sandbox", "name": "sandbox", "channels": 10, "busyChannels": 0}]


def test_cli_changes_apply_while_serving(server: Server, data: Path) -> None:
    project = voxcall_json(data, "project", "create", "late")
    client = server.client(project["token"])
    voxcall(data, "dialer", "add", "second", "--driver", "sandbox", "--channels", "3")
    servers = client.get("/api/v2/voice/servers").json()["result"]
    assert [s["id"] for s in servers] == ["sandbox", "second"]
    mp3 = encode(tone(1.0, 440.0, rate=44100, channels=1), 44100, 1, "mp3")
    voice = client.post("/api/v2/file/voice", files={"file": ("t.mp3", mp3)}).json()["result"]
    body = {"phoneNumber": "09121234567", "voiceId": voice["id"], "serverId": "second"}
    call = client.post("/api/v2/voice/single", json=body).json()["result"]
    assert wait_final(client, [call["id"]])[call["id"]]["status"] == "NORMAL"

    second = server.client(voxcall_json(data, "project", "token", "late")["token"])
    assert second.get("/api/v2/voice/servers").status_code == 200
    voxcall(data, "project", "revoke-token", str(second.headers["Authorization"])[7:18])
    assert second.get("/api/v2/voice/servers").status_code == 401
    voxcall(data, "dialer", "disable", "second")
    response = client.post("/api/v2/voice/single", json=body)
    assert response.json()["error"] == "InvalidServer"


def test_sigterm_drains_live_attempts(data: Path) -> None:
    voxcall(data, "dialer", "add", "sandbox", "--driver", "sandbox", "--default")
    project = voxcall_json(data, "project", "create", "acme")
    server = Server(data, speed=2.0, grace=30)
    server.start()
    try:
        client = server.client(project["token"])
        mp3 = encode(tone(2.0, 440.0, rate=44100, channels=1), 44100, 1, "mp3")
        voice = client.post("/api/v2/file/voice", files={"file": ("t.mp3", mp3)}).json()
        body = {"phoneNumber": "09121234567", "voiceId": voice["result"]["id"]}
        call = client.post("/api/v2/voice/single", json=body).json()["result"]
        deadline = time.monotonic() + 10
        while client.get(f"/api/v2/voice/status/{call['id']}").json()["result"]["attempts"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # uvicorn re-raises SIGTERM once its graceful shutdown is done
        assert server.terminate() in (0, -signal.SIGTERM)
    finally:
        server.stop()
    # the attempt in progress at SIGTERM was allowed to finish and was recorded
    server = Server(data, speed=2.0)
    server.start()
    try:
        client = server.client(project["token"])
        status = client.get(f"/api/v2/voice/status/{call['id']}").json()["result"]
        assert (status["status"], status["billSec"], status["attempts"]) == ("NORMAL", 2, 1)
    finally:
        server.stop()


def test_batch_tts_and_otp_end_to_end(server: Server, data: Path) -> None:
    project = voxcall_json(data, "project", "create", "speech")
    client = server.client(project["token"])
    body = {
        "phoneNumbers": ["09121234567", "09121230001", "09121230004"],
        "text": "Your order has shipped.",
        "language": "en",
        "retryCount": 0,
    }
    response = client.post("/api/v2/voice/batch/tts", json=body)
    assert response.status_code == 200, response.text
    calls = response.json()["result"]
    otp = client.post("/api/v2/voice/otp", json={"phoneNumber": "09121234567", "text": "4821"})
    assert otp.status_code == 200, otp.text
    final = wait_final(client, [c["id"] for c in calls] + [otp.json()["result"]["id"]])
    statuses = [final[c["id"]]["status"] for c in calls]
    assert statuses == ["NORMAL", "USER_BUSY", "NORMAL"]
    assert final[calls[2]["id"]]["billSec"] == 1  # the callee hung up after 1 s
    assert final[otp.json()["result"]["id"]]["status"] == "NORMAL"
    campaign = client.get(f"/api/v2/voice/campaign/{calls[0]['campaignId']}").json()["result"]
    assert [c["status"] for c in campaign] == statuses


def test_the_worker_role_runs_uvloop(data: Path) -> None:
    # `--role worker` runs no uvicorn: cli.py starts the loop itself, the same one.
    voxcall(data, "dialer", "add", "sandbox", "--driver", "sandbox", "--default")
    worker = Server(data, speed=SPEED, role="worker")
    worker.start()
    try:
        assert "event loop uvloop.Loop" in worker.log()
        assert worker.terminate() == 0, worker.log()
    finally:
        worker.stop()


def test_sandbox_callees_press_keys(server: Server, data: Path) -> None:
    project = voxcall_json(data, "project", "create", "acme")
    client = server.client(project["token"])
    audio = encode(tone(3.0, 440.0, rate=8000, channels=1), 8000, 1, "wav")
    voice = client.post("/api/v2/file/voice", files={"file": ("m.wav", audio)}).json()["result"]
    requests = {
        # number, gather -> digits: 0006 presses 1, 0007 presses * then 2
        "09121230006": ({"maxDigits": 1}, "1"),
        "09121230007": ({"maxDigits": 2, "timeout": "3"}, "*2"),
        "09121230008": ({"maxDigits": 2, "repeatKey": "*", "finishOnKey": "#"}, ""),
    }
    ids = {}
    for number, (gather, _) in requests.items():
        body = {"phoneNumber": number, "voiceId": voice["id"], "gather": gather}
        response = client.post("/api/v2/voice/single", json=body)
        assert response.status_code == 200, response.text
        ids[number] = response.json()["result"]["id"]
    final = wait_final(client, list(ids.values()))
    for number, (_, digits) in requests.items():
        call = final[ids[number]]
        assert (call["status"], call["digits"], call["answeredBy"]) == ("NORMAL", digits, None)


def test_an_interactive_campaign_end_to_end(server: Server, data: Path) -> None:
    project = voxcall_json(data, "project", "create", "acme")
    client = server.client(project["token"])
    audio = encode(tone(3.0, 440.0, rate=8000, channels=1), 8000, 1, "wav")
    voice = client.post("/api/v2/file/voice", files={"file": ("m.wav", audio)}).json()["result"]
    listed = "phone\n09121230006\n09121230007\n09121230008\n09121234567\n"
    created = client.post(
        "/api/v2/campaign",
        data={
            "name": "confirm",
            "voiceId": voice["id"],
            "gather": '{"maxDigits": 2, "timeout": 3}',
            "machineDetection": "detect",
        },
        files={"file": ("list.csv", listed.encode(), "text/csv")},
    )
    assert created.status_code == 200, created.text
    campaign = created.json()["result"]
    deadline = time.monotonic() + 60
    while campaign["status"] != "DONE":
        assert time.monotonic() < deadline, campaign
        time.sleep(0.2)
        campaign = client.get(f"/api/v2/campaign/{campaign['id']}").json()["result"]
    assert campaign["counts"]["NORMAL"] == 4
    report = client.get(f"/api/v2/campaign/{campaign['id']}/report.csv").text.splitlines()
    # 0006 presses 1, 0007 * then 2, 0008 is a voicemail, the last a person
    assert [line.split(",")[-2:] for line in report] == [
        ["answeredBy", "digits"],
        ["human", "1"],
        ["human", "*2"],
        ["machine", ""],
        ["human", ""],
    ]
