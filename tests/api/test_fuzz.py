"""Random bodies never produce a 500: every refusal is in the envelope with a message."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Tenant

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)
FIELDS = [
    "phoneNumber", "phoneNumbers", "voiceId", "retryCount", "serverId", "retryInterval",
    "timeToLive", "text", "language", "repeatCount",
]  # fmt: skip
bodies = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6)
PATHS = ["/api/v2/voice/single", "/api/v2/voice/batch", "/api/v2/voice/otp", "/api/v2/file/tts"]


def _check(response: Any) -> None:
    assert response.status_code < 500 or response.status_code == 503, response.text
    body = response.json()
    assert set(body) <= {"result", "error", "message"}
    if response.status_code != 200:
        assert body["result"] is None and body["error"] and body["message"]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from(PATHS), body=bodies)
def test_random_json_bodies(client: TestClient, tenant: Tenant, path: str, body: Any) -> None:
    _check(client.post(path, headers=tenant.headers, json=body))


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from(PATHS), raw=st.binary(max_size=200))
def test_random_bytes(client: TestClient, tenant: Tenant, path: str, raw: bytes) -> None:
    headers = {**tenant.headers, "Content-Type": "application/json"}
    _check(client.post(path, headers=headers, content=raw))


def test_deeply_nested_json(client: TestClient, tenant: Tenant) -> None:
    headers = {**tenant.headers, "Content-Type": "application/json"}
    response = client.post("/api/v2/voice/single", headers=headers, content=b"[" * 100_000)
    assert response.status_code == 400
    assert json.loads(response.text)["message"] == "body: malformed JSON"
