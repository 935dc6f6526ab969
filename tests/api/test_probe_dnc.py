"""Hostile probes of the do-not-call list (api.md §9): every written form of a number is one
entry, a malformed number or paging parameter is a 400 naming its parameter (never a 500), and
another project's entries are invisible."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant, make_tenant
from voxcall.runtime import Services


@pytest.mark.parametrize(
    "written",
    [
        "0912 123 4567",
        "0912-123-4567",
        "۰۹۱۲۱۲۳۴۵۶۷",
        "+989121234567",
        "00989121234567",
        "9121234567",
    ],
)
def test_every_written_form_is_one_entry(client: TestClient, tenant: Tenant, written: str) -> None:
    added = client.post(
        "/api/v2/dnc", json={"phoneNumbers": [written, "09121234567"]}, headers=tenant.headers
    )
    assert added.json()["result"] == {"added": 1, "alreadyListed": 0, "invalid": 0}
    looked_up = client.get("/api/v2/dnc", params={"phoneNumber": written}, headers=tenant.headers)
    assert looked_up.json()["result"]["listed"] is True
    assert client.delete(f"/api/v2/dnc/{written}", headers=tenant.headers).status_code == 200
    gone = client.delete("/api/v2/dnc/09121234567", headers=tenant.headers)
    assert gone.status_code == 404 and gone.json()["message"] == "phoneNumber: not listed"


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        ("after=x", "InvalidPhoneNumber", "after: may hold only digits and a leading '+'"),
        ("after=", "InvalidPhoneNumber", "after: not a phone number"),
        ("after=" + "9" * 5000, "InvalidPhoneNumber", "after: not a phone number"),
        ("phoneNumber=%00", "InvalidPhoneNumber", "phoneNumber: may hold only digits"),
        ("phoneNumber=", "InvalidPhoneNumber", "phoneNumber: not a phone number"),
        ("limit=0", "InvalidRequest", "limit: input should be greater than or equal to 1"),
        ("limit=1001", "InvalidRequest", "limit: input should be less than or equal to 1000"),
        ("limit=1e2", "InvalidRequest", "limit: input should be a valid integer"),
        ("page=2", "InvalidRequest", "page: not a parameter of this operation"),
    ],
)
def test_bad_query_parameters_are_named(
    client: TestClient, tenant: Tenant, query: str, code: str, message: str
) -> None:
    answer = client.get(f"/api/v2/dnc?{query}", headers=tenant.headers)
    assert (answer.status_code, answer.json()["error"]) == (400, code)
    assert answer.json()["message"].startswith(message)


@pytest.mark.parametrize(
    ("number", "status", "message"),
    [
        ("x", 400, "phoneNumber: may hold only digits and a leading '+'"),
        ("%00", 400, "phoneNumber: may hold only digits and a leading '+'"),
        ("0912", 400, "phoneNumber: not a valid number"),
        ("9" * 5000, 400, "phoneNumber: not a phone number"),
        ("09121234567", 404, "phoneNumber: not listed"),
    ],
)
def test_deleting_a_malformed_number_is_named(
    client: TestClient, tenant: Tenant, number: str, status: int, message: str
) -> None:
    answer = client.delete(f"/api/v2/dnc/{number}", headers=tenant.headers)
    assert answer.status_code == status
    assert answer.json()["message"].startswith(message)


@pytest.mark.parametrize(
    ("numbers", "message"),
    [
        ([], "phoneNumbers: list should have at least 1 item"),
        ([None], "phoneNumbers.0: input should be a valid string"),
        ("09121234567", "phoneNumbers: input should be a valid list"),
        (["09121234567"] * 10_001, "phoneNumbers: list should have at most 10000 items"),
    ],
)
def test_a_bad_json_list_is_refused(
    client: TestClient, tenant: Tenant, numbers: object, message: str
) -> None:
    answer = client.post("/api/v2/dnc", json={"phoneNumbers": numbers}, headers=tenant.headers)
    assert (answer.status_code, answer.json()["error"]) == (400, "InvalidRequest")
    assert answer.json()["message"].startswith(message)


def test_ten_thousand_numbers_and_the_invalid_are_counted(
    client: TestClient, tenant: Tenant
) -> None:
    numbers = [f"0912{i:07d}" for i in range(9_998)] + ["x", "\x00"]
    answer = client.post("/api/v2/dnc", json={"phoneNumbers": numbers}, headers=tenant.headers)
    assert answer.json()["result"] == {"added": 9_998, "alreadyListed": 0, "invalid": 2}


def test_another_projects_entries_are_invisible(
    client: TestClient, services: Services, tenant: Tenant
) -> None:
    client.post("/api/v2/dnc", json={"phoneNumbers": ["09351111111"]}, headers=tenant.headers)
    other = make_tenant(services, "other").headers
    entry = client.get("/api/v2/dnc", params={"phoneNumber": "09351111111"}, headers=other)
    assert entry.json()["result"] == {
        "phoneNumber": "09351111111",
        "listed": False,
        "addedAt": None,
    }
    assert client.get("/api/v2/dnc", headers=other).json()["result"] == []
    assert client.delete("/api/v2/dnc/09351111111", headers=other).status_code == 404
    mine = client.get("/api/v2/dnc", params={"phoneNumber": "09351111111"}, headers=tenant.headers)
    assert mine.json()["result"]["listed"] is True
