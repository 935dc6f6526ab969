"""The HTTP bytes voxcall answers, held byte for byte against files under `golden/`.

One session with the app as `voxcall serve` builds it (scheduler and webhook deliverer
running, sandbox dialer, SQLite) records a handful of answers: status line, the headers the
app sets and the body. What varies between runs is replaced by placeholders (`Normaliser`);
everything else must not change. One webhook is recorded as a real receiver on 127.0.0.1
got it, its signature checked against the body before it is normalised.

`VOXCALL_GOLDEN_UPDATE=1 pytest tests/api/test_golden.py` rewrites the files from the code as
it is; without it any difference fails.
"""

from __future__ import annotations

import difflib
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from tests.audio.samples import encode, tone
from tests.conftest import Tenant
from tests.webhooks.receiver import Received, Receiver
from voxcall.api.app import create_app
from voxcall.billing.money import parse_toman
from voxcall.calls.dialers import new_dialer
from voxcall.domain.money import Tariff
from voxcall.runtime import Services
from voxcall.webhooks.signing import Signature, sign

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("VOXCALL_GOLDEN_UPDATE") == "1"
# Fixed so that the signature can be recomputed; a real one comes from `new_secret()`.
SECRET = "whsec_golden-test-secret-0123456789abcdefghijklmnopq"
# Set by the test client or the receiver's host and port, not by voxcall.
UNRECORDED_HEADERS = frozenset({"date", "server", "host"})


class Normaliser:
    """Replaces what varies from run to run by a placeholder, and nothing else:

    - each distinct 32-hex-digit id by `<id1>`, `<id2>`, ... in order of first appearance,
      the same id by the same placeholder in every answer;
    - epoch seconds within a day of the run by `<time>`.
    """

    _ID = re.compile(rb"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
    _SECONDS = re.compile(rb"(?<![0-9.])[0-9]{10}(?![0-9.])")

    def __init__(self, now: float) -> None:
        self._ids: dict[bytes, bytes] = {}
        self._times = range(int(now) - 86_400, int(now) + 86_400)

    def __call__(self, raw: bytes) -> bytes:
        return self._SECONDS.sub(self._time, self._ID.sub(self._id, raw))

    def _id(self, match: re.Match[bytes]) -> bytes:
        return self._ids.setdefault(match[0], b"<id%d>" % (len(self._ids) + 1))

    def _time(self, match: re.Match[bytes]) -> bytes:
        return b"<time>" if int(match[0]) in self._times else match[0]


def _headers(pairs: list[tuple[str, str]]) -> bytes:
    return b"".join(
        f"{name}: {value}\r\n".encode("latin-1")
        for name, value in pairs
        if name.lower() not in UNRECORDED_HEADERS
    )


def answer_bytes(response: httpx2.Response) -> bytes:
    status = f"{response.http_version} {response.status_code} {response.reason_phrase}\r\n"
    return status.encode() + _headers(response.headers.multi_items()) + b"\r\n" + response.content


def webhook_bytes(request: Received) -> bytes:
    """The request as received, its signature header reduced to its timestamp once the MAC
    is checked to be the one over these exact body bytes."""
    signature = Signature.parse(request.headers["x-voxcall-signature"])
    assert request.headers["x-voxcall-signature"] == sign(request.body, SECRET, signature.timestamp)
    headers = [
        (name, f"t={signature.timestamp},v1=<mac>" if name == "x-voxcall-signature" else value)
        for name, value in request.headers.items()
    ]
    line = f"{request.method} {request.path} HTTP/1.1\r\n".encode()
    return line + _headers(headers) + b"\r\n" + request.body


def _until(check: Callable[[], bool], what: str, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {within} s"
        time.sleep(0.02)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def live_client(services: Services, tenant: Tenant, receiver: Receiver) -> Iterator[TestClient]:
    """The app with its worker, a priced trunk (600 Toman a minute in 30 s increments), a
    credited project with a webhook to `receiver`."""
    services.store.set_dialer_enabled("sandbox", False)
    tariff = Tariff(parse_toman("600"), billing_increment=30)
    services.store.add_dialer(
        new_dialer("tehran", "sandbox", "Tehran", {}, tariff=tariff, is_default=True)
    )
    services.store.credit(tenant.project.id, parse_toman("10000"), kind="topup", note="t")
    services.store.set_webhook(tenant.project.id, receiver.url, SECRET)
    with TestClient(create_app(services), raise_server_exceptions=False) as client:
        yield client


def record_session(client: TestClient, tenant: Tenant, receiver: Receiver) -> dict[str, bytes]:
    """The answers to record, in an order whose every answer is the same from run to run:
    the balance is read once the only call is final, the batch is placed after that."""
    auth = tenant.headers
    voice = encode(tone(3.0, rate=8000, channels=1), 8000, 1, "wav")
    recorded: dict[str, bytes] = {}

    uploaded = client.post("/api/v2/file/voice", headers=auth, files={"file": ("hello.wav", voice)})
    recorded["voice_upload"] = answer_bytes(uploaded)
    voice_id = uploaded.json()["result"]["id"]

    single = {"phoneNumber": "09121234567", "voiceId": voice_id, "retryCount": 1}
    accepted = client.post("/api/v2/voice/single", headers=auth, json=single)
    recorded["single_accepted"] = answer_bytes(accepted)
    status_path = f"/api/v2/voice/status/{accepted.json()['result']['id']}"

    def final() -> bool:
        status: str = client.get(status_path, headers=auth).json()["result"]["status"]
        return status != "WAITING"

    _until(final, "the call is final")
    recorded["status_final_normal"] = answer_bytes(client.get(status_path, headers=auth))
    _until(lambda: len(receiver.received()) >= 1, "the webhook arrives")
    recorded["webhook_delivered"] = webhook_bytes(receiver.received()[0])
    recorded["account_balance"] = answer_bytes(client.get("/api/v2/account/balance", headers=auth))

    batch = {"phoneNumbers": ["09121234567", "09351234567"], "voiceId": voice_id}
    recorded["batch_accepted"] = answer_bytes(
        client.post("/api/v2/voice/batch", headers=auth, json=batch)
    )
    recorded["invalid_field"] = answer_bytes(
        client.post("/api/v2/voice/single", headers=auth, json={**single, "retryCount": 6})
    )
    recorded["unauthorized"] = answer_bytes(client.get("/api/v2/account/balance"))
    recorded["unknown_call"] = answer_bytes(
        client.get("/api/v2/voice/status/" + "0" * 32, headers=auth)
    )
    recorded["method_not_allowed"] = answer_bytes(client.get("/api/v2/voice/single", headers=auth))
    return recorded


def test_answers_match_the_golden_files(
    live_client: TestClient, tenant: Tenant, receiver: Receiver
) -> None:
    normalise = Normaliser(time.time())
    recorded = {
        name: normalise(raw) for name, raw in record_session(live_client, tenant, receiver).items()
    }
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        for name, raw in recorded.items():
            (GOLDEN / f"{name}.http").write_bytes(raw)
    differences = [
        "".join(
            difflib.unified_diff(
                expected.decode("latin-1").splitlines(keepends=True),
                raw.decode("latin-1").splitlines(keepends=True),
                f"golden/{name}.http",
                "answered",
            )
        )
        for name, raw in recorded.items()
        if (expected := (GOLDEN / f"{name}.http").read_bytes()) != raw
    ]
    assert not differences, "\n".join(differences)
    assert sorted(path.stem for path in GOLDEN.glob("*.http")) == sorted(recorded)
