"""Batch calls and campaigns."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.test_calls import upload
from tests.conftest import Tenant, make_tenant
from voxcall.runtime import Services


@pytest.fixture
def voice_id(client: TestClient, tenant: Tenant, voice_mp3: bytes) -> str:
    return upload(client, tenant, voice_mp3)


def test_batch_in_request_order_with_one_campaign(
    client: TestClient, tenant: Tenant, voice_id: str, services: Services
) -> None:
    numbers = ["09121230001", "+989121230002", "9121230003", "02112345678"]
    response = client.post(
        "/api/v2/voice/batch",
        headers=tenant.headers,
        json={"phoneNumbers": numbers, "voiceId": voice_id, "retryCount": "0"},
    )
    assert response.status_code == 200
    calls = response.json()["result"]
    assert [c["phoneNumber"] for c in calls] == [
        "09121230001",
        "09121230002",
        "09121230003",
        "02112345678",
    ]
    campaign = calls[0]["campaignId"]
    assert len(campaign) == 32 and {c["campaignId"] for c in calls} == {campaign}
    assert len({c["id"] for c in calls}) == 4
    listed = client.get(f"/api/v2/voice/campaign/{campaign}", headers=tenant.headers).json()
    assert [c["id"] for c in listed["result"]] == [c["id"] for c in calls]
    other = make_tenant(services, "other")
    foreign = client.get(f"/api/v2/voice/campaign/{campaign}", headers=other.headers)
    assert (foreign.status_code, foreign.json()["error"]) == (404, "NotFound")


def test_a_batch_of_one_is_still_a_campaign(
    client: TestClient, tenant: Tenant, voice_id: str
) -> None:
    body = {"phoneNumbers": ["09121234567"], "voiceId": voice_id}
    (call,) = client.post("/api/v2/voice/batch", headers=tenant.headers, json=body).json()["result"]
    assert call["campaignId"] is not None


def test_batch_is_all_or_nothing(
    client: TestClient, tenant: Tenant, voice_id: str, services: Services
) -> None:
    body = {
        "phoneNumbers": ["09121234567", "09121234568", "12", "09121234569"],
        "voiceId": voice_id,
    }
    response = client.post("/api/v2/voice/batch", headers=tenant.headers, json=body)
    assert response.status_code == 400
    assert response.json() == {
        "result": None,
        "error": "InvalidPhoneNumber",
        "message": "phoneNumbers[2]: not a valid number",
    }
    assert services.store.count_calls() == {}


@pytest.mark.parametrize(
    ("numbers", "message"),
    [
        ([], "phoneNumbers: must hold 1 to 100 numbers"),
        (["09121234567"] * 101, "phoneNumbers: must hold 1 to 100 numbers"),
        ("09121234567", "phoneNumbers: input should be a valid list"),
        ([9121234567], "phoneNumbers.0: input should be a valid string"),
    ],
)
def test_batch_shape(
    client: TestClient, tenant: Tenant, voice_id: str, numbers: object, message: str
) -> None:
    body = {"phoneNumbers": numbers, "voiceId": voice_id}
    response = client.post("/api/v2/voice/batch", headers=tenant.headers, json=body)
    assert response.status_code == 400
    assert response.json() == {"result": None, "error": "InvalidRequest", "message": message}


def test_hundred_numbers(client: TestClient, tenant: Tenant, voice_id: str) -> None:
    numbers = [f"0912123{i:04d}" for i in range(100)]
    body = {"phoneNumbers": numbers, "voiceId": voice_id}
    response = client.post("/api/v2/voice/batch", headers=tenant.headers, json=body)
    assert response.status_code == 200
    assert [c["phoneNumber"] for c in response.json()["result"]] == numbers
