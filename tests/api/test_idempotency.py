"""Idempotency-Key: a repeat returns the first response and places no second call."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from tests.api.test_calls import upload
from tests.conftest import Tenant, make_tenant
from voxcall.runtime import Services


@pytest.fixture
def voice_id(client: TestClient, tenant: Tenant, voice_mp3: bytes) -> str:
    return upload(client, tenant, voice_mp3)


def test_repeat_returns_the_first_response(
    client: TestClient, tenant: Tenant, voice_id: str, services: Services
) -> None:
    headers = {**tenant.headers, "Idempotency-Key": "order-1234"}
    body = {"phoneNumber": "09121234567", "voiceId": voice_id}
    first = client.post("/api/v2/voice/single", headers=headers, json=body)
    again = client.post("/api/v2/voice/single", headers=headers, json=body)
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert services.store.count_calls() == {"WAITING": 1}
    batch = client.post(
        "/api/v2/voice/batch",
        headers={**headers, "Idempotency-Key": "batch-1"},
        json={"phoneNumbers": ["09121234567", "09121234568"], "voiceId": voice_id},
    )
    repeat = client.post(
        "/api/v2/voice/batch",
        headers={**headers, "Idempotency-Key": "batch-1"},
        json={"phoneNumbers": ["09121234567", "09121234568"], "voiceId": voice_id},
    )
    assert batch.content == repeat.content
    assert services.store.count_calls() == {"WAITING": 3}


def test_same_key_different_body_conflicts(
    client: TestClient, tenant: Tenant, voice_id: str, services: Services
) -> None:
    headers = {**tenant.headers, "Idempotency-Key": "k"}
    client.post(
        "/api/v2/voice/single",
        headers=headers,
        json={"phoneNumber": "09121234567", "voiceId": voice_id},
    )
    response = client.post(
        "/api/v2/voice/single",
        headers=headers,
        json={"phoneNumber": "09121234568", "voiceId": voice_id},
    )
    assert response.status_code == 409
    assert response.json() == {
        "result": None,
        "error": "IdempotencyConflict",
        "message": "Idempotency-Key: already used with a different request",
    }
    assert services.store.count_calls() == {"WAITING": 1}


def test_a_refusal_is_replayed_too(client: TestClient, tenant: Tenant, voice_id: str) -> None:
    headers = {**tenant.headers, "Idempotency-Key": "bad-number"}
    body = {"phoneNumber": "0912", "voiceId": voice_id}
    first = client.post("/api/v2/voice/single", headers=headers, json=body)
    again = client.post("/api/v2/voice/single", headers=headers, json=body)
    assert first.status_code == again.status_code == 400
    assert first.content == again.content


def test_keys_are_per_project(
    client: TestClient, tenant: Tenant, voice_id: str, services: Services, voice_mp3: bytes
) -> None:
    other = make_tenant(services, "other")
    other_voice = upload(client, other, voice_mp3)
    key = {"Idempotency-Key": "shared"}
    a = client.post(
        "/api/v2/voice/single",
        headers={**tenant.headers, **key},
        json={"phoneNumber": "09121234567", "voiceId": voice_id},
    )
    b = client.post(
        "/api/v2/voice/single",
        headers={**other.headers, **key},
        json={"phoneNumber": "09121234567", "voiceId": other_voice},
    )
    assert a.json()["result"]["id"] != b.json()["result"]["id"]


@pytest.mark.parametrize("key", [b"", b"x" * 129, "caf\u00e9".encode(), b"tab\there"])
def test_malformed_key(client: TestClient, tenant: Tenant, voice_id: str, key: bytes) -> None:
    response = client.post(
        "/api/v2/voice/single",
        headers={**tenant.headers, "Idempotency-Key": key},  # type: ignore[dict-item]
        json={"phoneNumber": "09121234567", "voiceId": voice_id},
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Idempotency-Key: must be 1 to 128 printable characters"


def test_a_key_left_pending_by_a_dead_process_is_taken_over(
    client: TestClient, tenant: Tenant, voice_id: str, services: Services
) -> None:
    body = {"phoneNumber": "09121234567", "voiceId": voice_id}
    import hashlib
    import json

    raw = json.dumps(body).encode()
    digest = hashlib.sha256(b"POST /api/v2/voice/single\n" + raw).hexdigest()
    # the claim a crashed process left behind, three minutes ago: its calls never committed
    services.store.begin_idempotent(
        tenant.project.id, "crashed", digest, time.time() - 180, lifetime=86_400, stale_after=120
    )
    response = client.post(
        "/api/v2/voice/single",
        headers={
            **tenant.headers,
            "Idempotency-Key": "crashed",
            "Content-Type": "application/json",
        },
        content=raw,
    )
    assert response.status_code == 200
    assert services.store.count_calls() == {"WAITING": 1}


def test_the_response_commits_with_the_calls(
    client: TestClient,
    tenant: Tenant,
    voice_id: str,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A process that dies after its calls commit, before it could answer, has already
    stored the answer: the client's retry gets it, and nobody is called twice."""

    def die(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the process died here")

    headers = {**tenant.headers, "Idempotency-Key": "k1"}
    body = {"phoneNumber": "09121234567", "voiceId": voice_id}
    with monkeypatch.context() as patch:
        patch.setattr(type(services.store), "complete_idempotent", die)
        lost = client.post("/api/v2/voice/single", headers=headers, json=body)
    assert lost.status_code == 500
    assert services.store.count_calls() == {"WAITING": 1}
    retry = client.post("/api/v2/voice/single", headers=headers, json=body)
    assert retry.status_code == 200
    assert services.store.count_calls() == {"WAITING": 1}
