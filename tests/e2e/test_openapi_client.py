"""A client generated from /openapi.json by openapi-python-client, used against `voxcall serve`:
upload a voice, place a call, read its status, and get typed errors."""

from __future__ import annotations

import importlib
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.audio.samples import speech_wav
from tests.e2e.server import Server, voxcall, voxcall_json

pytestmark = pytest.mark.slow

# Any fetch from the network goes to a closed port and fails: generation must need none.
_OFFLINE = {name: "http://127.0.0.1:9" for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")} | {
    "NO_PROXY": ""
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    data = tmp_path / "data"
    voxcall(data, "dialer", "add", "sandbox", "--driver", "sandbox", "--default")
    server = Server(data, speed=20.0)
    server.start()
    yield server
    server.stop()


def generate(base: str, folder: Path) -> Path:
    """The client package generated from the running server's /openapi.json, offline."""
    spec = folder / "openapi.json"
    spec.write_bytes(httpx.get(f"{base}/openapi.json").content)
    config = folder / "generator.json"
    config.write_text(json.dumps({"post_hooks": []}))  # no formatter run: nothing to check
    package = folder / "voxcall_client"
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "openapi-python-client"), "generate",
            "--path", str(spec), "--meta", "none", "--output-path", str(package),
            "--config", str(config), "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **_OFFLINE},
    )  # fmt: skip
    # A warning is a part of the document that the generator could not turn into code.
    assert result.returncode == 0, result.stdout + result.stderr
    return package


def test_generated_client_places_a_call(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(server.base, tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m.partition(".")[0] == "voxcall_client"]:
        monkeypatch.delitem(sys.modules, name)  # a module of an earlier test's client

    def module(name: str) -> Any:
        return importlib.import_module(f"voxcall_client.{name}")

    models, types = module("models"), module("types")
    upload, single = module("api.file.upload"), module("api.voice.single")
    status = module("api.voice.status")
    project = voxcall_json(server.data, "project", "create", "acme")
    client = module("client").AuthenticatedClient(base_url=server.base, token=project["token"])

    with client:
        audio = types.File(payload=io.BytesIO(speech_wav("Hello.")), file_name="hello.wav")
        voice = upload.sync(client=client, body=models.VoiceUpload(file=audio, name="hello"))
        assert isinstance(voice, models.OkVoiceObject), voice
        assert voice.result.name == "hello" and voice.result.duration > 0

        body = models.SingleCall(phone_number="+989121234567", voice_id=voice.result.id)
        placed = single.sync(client=client, body=body, idempotency_key="order-1")
        assert isinstance(placed, models.OkCallObject), placed
        assert placed.result.status == models.CallObjectStatus.WAITING
        assert placed.result.phone_number == "09121234567"

        deadline = time.monotonic() + 60
        while True:
            read = status.sync(client=client, call_id=placed.result.id)
            assert isinstance(read, models.OkCallStatusObject), read
            if read.result.status != models.CallStatusObjectStatus.WAITING:
                break
            assert time.monotonic() < deadline, "the call did not end"
            time.sleep(0.1)
        assert read.result.status == models.CallStatusObjectStatus.NORMAL
        assert read.result.e164 == "+989121234567" and read.result.bill_sec >= 1

        # Errors come back typed by their code.
        missing = status.sync(client=client, call_id="0" * 32)
        assert isinstance(missing, models.NotFound) and missing.message
        body = models.SingleCall(phone_number="12", voice_id=voice.result.id)
        refused = single.sync(client=client, body=body)
        assert isinstance(refused, models.InvalidPhoneNumber), refused
