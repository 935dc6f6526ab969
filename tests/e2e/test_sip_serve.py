"""`voxcall serve` with a `sip` dialer added from the CLI, calling a real SIPp UAS."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest

from tests.audio.samples import encode, speech_wav, tone
from tests.e2e.server import Server, voxcall, voxcall_json
from tests.peers.net import HOST, free_ports
from tests.peers.sipp import SippFactory

pytestmark = [pytest.mark.slow, pytest.mark.peers]


def test_a_real_sip_call_through_the_api(tmp_path: Path, sipp_uas: SippFactory) -> None:
    uas = sipp_uas("uas_answer.xml", calls=2, variables={"hangup_s": "0"})
    data = tmp_path / "data"
    low = free_ports(16)
    added = voxcall_json(
        data, "dialer", "add", "trunk1", "--driver", "sip", "--trunk", uas.trunk,
        "--local-ip", "127.0.0.1", "--rtp-ports", f"{low}-{low + 15}", "--default",
        "--username", "alice", "--password", "s3cret-pass",
        "--price-per-minute", "600", "--billing-increment", "1",
    )  # fmt: skip
    assert added["id"] == "trunk1"
    listing = voxcall(data, "dialer", "list", "--json")
    assert "s3cret-pass" not in listing and "s3cret-pass" not in str(added)
    project = voxcall_json(data, "project", "create", "acme", "--balance", "1000")
    server = Server(data, speed=1)
    server.start()
    try:
        client = server.client(project["token"])
        audio = speech_wav("Your parcel arrives today.")
        voice = client.post("/api/v2/file/voice", files={"file": ("m.wav", audio)}).json()
        duration = voice["result"]["duration"]
        ids = []
        for _ in range(2):
            body = {"phoneNumber": "09121234567", "voiceId": voice["result"]["id"]}
            ids.append(client.post("/api/v2/voice/single", json=body).json()["result"]["id"])
        deadline = time.monotonic() + 30
        calls = []
        while time.monotonic() < deadline:
            calls = [client.get(f"/api/v2/voice/status/{i}").json()["result"] for i in ids]
            if all(c["status"] != "WAITING" for c in calls):
                break
            time.sleep(0.2)
        for call in calls:
            assert (call["status"], call["attempts"]) == ("NORMAL", 1), server.log()
            # billSec runs from the 200 OK to our BYE after the last packet
            assert call["billSec"] in (math.ceil(duration), math.ceil(duration) + 1)
            assert call["price"] == -call["billSec"] * 10.0  # 600 a minute, 1 s steps
        assert uas.wait() == 0, uas.diagnostics()
        assert "s3cret-pass" not in server.log()
    finally:
        server.stop()


def test_a_trunk_that_restarts_under_serve(tmp_path: Path, sipp_uas: SippFactory) -> None:
    # SIPp answers one call and exits: the trunk is down until a new SIPp takes its port.
    uas = sipp_uas("uas_answer.xml", variables={"hangup_s": "0"})
    data = tmp_path / "data"
    low = free_ports(16)
    voxcall_json(
        data, "dialer", "add", "trunk1", "--driver", "sip", "--trunk", uas.trunk,
        "--local-ip", "127.0.0.1", "--rtp-ports", f"{low}-{low + 15}", "--default",
    )  # fmt: skip
    project = voxcall_json(data, "project", "create", "acme", "--balance", "1000")
    server = Server(data, speed=1)
    server.start()
    try:
        client = server.client(project["token"])
        audio = encode(tone(1.5, 440.0, rate=8000, channels=1), 8000, 1, "wav")
        voice = client.post("/api/v2/file/voice", files={"file": ("m.wav", audio)}).json()

        def final_call() -> dict[str, Any]:
            body = {"phoneNumber": "09121234567", "voiceId": voice["result"]["id"]}
            call_id = client.post("/api/v2/voice/single", json=body).json()["result"]["id"]
            deadline = time.monotonic() + 45  # past Timer B's 32 s: a deaf dialer ends too
            while time.monotonic() < deadline:
                call: dict[str, Any] = client.get(f"/api/v2/voice/status/{call_id}").json()
                if call["result"]["status"] != "WAITING":
                    return call["result"]
                time.sleep(0.1)
            raise AssertionError(f"call {call_id} still WAITING\n{server.log()}")

        assert final_call()["status"] == "NORMAL", server.log()
        assert uas.wait() == 0, uas.diagnostics()
        outage = final_call()
        assert (outage["status"], outage["attempts"]) == ("ERROR", 1), server.log()
        assert "ICMP port unreachable" in server.log()
        restarted = sipp_uas("uas_answer.xml", variables={"hangup_s": "0"}, port=uas.port)
        after = final_call()
        assert (after["status"], after["billSec"]) == ("NORMAL", 2), server.log()  # 1.5 s of voice
        assert restarted.wait() == 0, restarted.diagnostics()
        # The loop users run, named in cli.py: uvicorn's "auto" would fall back silently.
        assert "event loop uvloop.Loop" in server.log()
    finally:
        server.stop()


def test_key_presses_through_the_api(tmp_path: Path, sipp_uas: SippFactory) -> None:
    data = tmp_path / "data"
    low, port = free_ports(16), free_ports(1)
    voxcall_json(
        data, "dialer", "add", "trunk1", "--driver", "sip", "--trunk", f"sip:{HOST}:{port}",
        "--local-ip", HOST, "--rtp-ports", f"{low}-{low + 15}", "--default",
    )  # fmt: skip
    project = voxcall_json(data, "project", "create", "acme", "--balance", "1000")
    server = Server(data, speed=1)
    server.start()
    try:
        client = server.client(project["token"])
        audio = encode(tone(8.0, 440.0, rate=8000, channels=1), 8000, 1, "wav")
        voice = client.post("/api/v2/file/voice", files={"file": ("m.wav", audio)}).json()
        # Started last: its clock (-timeout) runs from here. The callee presses 4, 2 and #
        # by SIP INFO while the message plays.
        uas = sipp_uas("uas_keys_info.xml", port=port)
        body = {
            "phoneNumber": "09121234567",
            "voiceId": voice["result"]["id"],
            "gather": {"maxDigits": 4, "finishOnKey": "#"},
        }
        call_id = client.post("/api/v2/voice/single", json=body).json()["result"]["id"]
        deadline = time.monotonic() + 30
        call: dict[str, Any] = {}
        while time.monotonic() < deadline:
            call = client.get(f"/api/v2/voice/status/{call_id}").json()["result"]
            if call["status"] != "WAITING":
                break
            time.sleep(0.2)
        assert (call["status"], call["digits"], call["answeredBy"]) == ("NORMAL", "42", None), (
            server.log()
        )
        assert call["billSec"] < 8  # the 8 s message was cut short by the keys
        assert uas.wait() == 0, uas.diagnostics()
    finally:
        server.stop()
