"""Call requests use cached tokens, voices and dialers, yet every change to them counts at once.

Each test warms the cache with one accepted request, changes a setting the way the CLI does
(through the store, as another process would), and checks the very next request.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.test_calls import upload
from tests.conftest import Tenant
from voxcall.calls.dialers import new_dialer
from voxcall.runtime import Services
from voxcall.store.store import Store
from voxcall.tokens import token_prefix


def call(client: TestClient, tenant: Tenant, voice_id: str, **extra: Any) -> Any:
    body = {"phoneNumber": "09121234567", "voiceId": voice_id, **extra}
    return client.post("/api/v2/voice/single", headers=tenant.headers, json=body)


@pytest.fixture
def warm(client: TestClient, tenant: Tenant, voice_mp3: bytes) -> str:
    """A voice that one accepted call request has used (and so cached)."""
    voice_id = upload(client, tenant, voice_mp3)
    assert call(client, tenant, voice_id).status_code == 200
    return voice_id


def test_a_warm_request_reads_no_settings(
    client: TestClient, tenant: Tenant, warm: str, services: Services, monkeypatch: Any
) -> None:
    reads: list[str] = []
    for name in ("project_for_token", "get_voice", "list_dialers"):
        original = getattr(Store, name)

        def counted(self: Store, *args: Any, _name: str = name, _f: Any = original) -> Any:
            reads.append(_name)
            return _f(self, *args)

        monkeypatch.setattr(Store, name, counted)
    response = call(client, tenant, warm)
    assert response.status_code == 200
    assert reads == []
    assert services.store.count_calls() == {"WAITING": 2}


def test_a_revoked_token_is_refused_at_once(
    client: TestClient, tenant: Tenant, warm: str, services: Services
) -> None:
    assert services.store.revoke_token(token_prefix(tenant.token)) == 1
    response = call(client, tenant, warm)
    assert response.status_code == 401
    assert response.json()["message"] == "Authorization: unknown or revoked token"
    assert services.store.count_calls() == {"WAITING": 1}


def test_a_deleted_voice_is_refused_at_once(
    client: TestClient, tenant: Tenant, warm: str, voice_mp3: bytes, services: Services
) -> None:
    voice_id = upload(client, tenant, voice_mp3)
    placed = call(client, tenant, voice_id).json()["result"]
    # a voice that a live call plays cannot be deleted: cancel the call first
    services.store.cancel_call(tenant.project.id, placed["id"])
    assert services.store.delete_voice(tenant.project.id, voice_id) is True
    response = call(client, tenant, voice_id)
    assert response.status_code == 400
    assert response.json()["message"] == "voiceId: no such voice"
    assert call(client, tenant, warm).status_code == 200


def test_an_enabled_dialer_is_usable_at_once(
    client: TestClient, tenant: Tenant, warm: str, services: Services
) -> None:
    services.store.add_dialer(new_dialer("late", "sandbox", "Late", {}))
    assert call(client, tenant, warm, serverId="late").status_code == 200
    assert services.store.set_dialer_enabled("late", False)
    refused = call(client, tenant, warm, serverId="late")
    assert refused.status_code == 400
    assert refused.json()["message"] == "serverId: no enabled dialer 'late'"
    assert services.store.set_dialer_enabled("late", True)
    assert call(client, tenant, warm, serverId="late").status_code == 200


def test_a_changed_project_counts_at_once(
    client: TestClient, tenant: Tenant, warm: str, services: Services
) -> None:
    services.store.update_project(tenant.project.id, allowed_regions=["AE"])
    refused = call(client, tenant, warm)
    assert refused.status_code == 400
    assert refused.json()["message"].startswith("phoneNumber:")
    services.store.update_project(tenant.project.id, allowed_regions=["IR"])
    assert call(client, tenant, warm).status_code == 200


def test_a_raised_rate_limit_counts_at_once(
    client: TestClient, tenant: Tenant, warm: str, services: Services
) -> None:
    services.store.update_project(tenant.project.id, rate_limit=1)
    statuses = [call(client, tenant, warm).status_code for _ in range(3)]
    assert statuses[0] == 200 and 429 in statuses
    services.store.update_project(tenant.project.id, rate_limit=1000)
    assert call(client, tenant, warm).status_code == 200


def test_a_revoked_token_gets_401_before_a_malformed_body_is_judged(
    client: TestClient, tenant: Tenant, warm: str, services: Services
) -> None:
    assert services.store.revoke_token(token_prefix(tenant.token)) == 1
    response = client.post("/api/v2/voice/single", headers=tenant.headers, json={"phoneNumber": 5})
    assert response.status_code == 401
    assert response.json()["error"] == "Unauthorized"
