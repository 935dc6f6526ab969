"""The do-not-call list through the API (api.md §9): adding in any written form, looking up,
paging, removing, and the 400 `DoNotCall` of single, batch and TTS calls to a listed number;
one-time codes ignore the project's list, not the operator's."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.test_calls import upload
from tests.conftest import Tenant, make_tenant
from voxcall.runtime import Services

LISTED = "09121234567"


@pytest.fixture
def voice_id(client: TestClient, tenant: Tenant, voice_mp3: bytes) -> str:
    return upload(client, tenant, voice_mp3)


def _add(client: TestClient, tenant: Tenant, numbers: list[str]) -> Any:
    return client.post("/api/v2/dnc", headers=tenant.headers, json={"phoneNumbers": numbers})


def test_add_counts_added_listed_and_invalid(client: TestClient, tenant: Tenant) -> None:
    first = _add(client, tenant, ["0912 123 4567", "+98-912-123-4568", "abc"])
    assert first.json() == {
        "result": {"added": 2, "alreadyListed": 0, "invalid": 1},
        "error": None,
    }
    again = _add(client, tenant, ["۰۹۱۲۱۲۳۴۵۶۷", "00989121234568", "9121234569"])
    assert again.json()["result"] == {"added": 1, "alreadyListed": 2, "invalid": 0}


def test_lookup_page_and_remove(client: TestClient, tenant: Tenant, services: Services) -> None:
    _add(client, tenant, ["09121234569", LISTED, "+12025550123"])
    found = client.get(
        "/api/v2/dnc", headers=tenant.headers, params={"phoneNumber": "+989121234567"}
    ).json()["result"]
    assert found["phoneNumber"] == LISTED and found["listed"] is True
    assert isinstance(found["addedAt"], int)
    page = client.get("/api/v2/dnc", headers=tenant.headers, params={"limit": 2}).json()
    assert [e["phoneNumber"] for e in page["result"]] == ["+12025550123", LISTED]
    rest = client.get("/api/v2/dnc", headers=tenant.headers, params={"after": LISTED}).json()[
        "result"
    ]
    assert [e["phoneNumber"] for e in rest] == ["09121234569"]
    removed = client.delete("/api/v2/dnc/9121234567", headers=tenant.headers)
    assert removed.json() == {"result": None, "error": None}
    gone = client.delete(f"/api/v2/dnc/{LISTED}", headers=tenant.headers)
    assert (gone.status_code, gone.json()["error"]) == (404, "NotFound")
    after = client.get("/api/v2/dnc", headers=tenant.headers, params={"phoneNumber": LISTED})
    assert after.json()["result"] == {"phoneNumber": LISTED, "listed": False, "addedAt": None}
    other = make_tenant(services, "other")
    theirs = client.get("/api/v2/dnc", headers=other.headers).json()["result"]
    assert theirs == []


def test_unknown_query_parameters_are_refused(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/api/v2/dnc", headers=tenant.headers, params={"limt": 5})
    assert response.status_code == 400
    assert response.json()["message"] == "limt: not a parameter of this operation"


def test_single_and_batch_to_a_listed_number_are_refused(
    client: TestClient, tenant: Tenant, voice_id: str, services: Services
) -> None:
    _add(client, tenant, [LISTED])
    single = client.post(
        "/api/v2/voice/single",
        headers=tenant.headers,
        json={"phoneNumber": "+989121234567", "voiceId": voice_id},
    )
    assert single.status_code == 400
    assert single.json() == {
        "result": None,
        "error": "DoNotCall",
        "message": f"phoneNumber: {LISTED} is on a do-not-call list",
    }
    batch = client.post(
        "/api/v2/voice/batch",
        headers=tenant.headers,
        json={"phoneNumbers": ["09121234560", "9121234567"], "voiceId": voice_id},
    )
    assert (batch.status_code, batch.json()["error"]) == (400, "DoNotCall")
    assert batch.json()["message"].startswith("phoneNumbers[1]: ")
    assert services.store.count_calls(project_id=tenant.project.id) == {}


def test_another_projects_list_does_not_apply(
    client: TestClient, tenant: Tenant, services: Services, voice_mp3: bytes
) -> None:
    _add(client, tenant, [LISTED])
    other = make_tenant(services, "other")
    body = {"phoneNumber": LISTED, "voiceId": upload(client, other, voice_mp3)}
    theirs = client.post("/api/v2/voice/single", headers=other.headers, json=body)
    assert theirs.status_code == 200, theirs.text


def test_tts_to_a_listed_number_is_refused_before_speech(
    client: TestClient, tenant: Tenant, services: Services
) -> None:
    _add(client, tenant, [LISTED])
    response = client.post(
        "/api/v2/voice/single/tts",
        headers=tenant.headers,
        json={"phoneNumber": LISTED, "text": "hello", "language": "en"},
    )
    assert (response.status_code, response.json()["error"]) == (400, "DoNotCall")
    assert services.voices.list(tenant.project) == []


def test_one_time_codes_ignore_the_projects_list_not_the_operators(
    client: TestClient, tenant: Tenant, services: Services
) -> None:
    _add(client, tenant, [LISTED])
    body = {"phoneNumber": LISTED, "text": "1234"}
    allowed = client.post("/api/v2/voice/otp", headers=tenant.headers, json=body)
    assert allowed.status_code == 200, allowed.text
    services.calls.dnc.add(None, [LISTED])
    refused = client.post("/api/v2/voice/otp", headers=tenant.headers, json=body)
    assert (refused.status_code, refused.json()["error"]) == (400, "DoNotCall")
