"""`POST /dnc` with a multipart `file` (api.md §9): a CSV or text list read as a campaign's,
answered `{added, alreadyListed, invalid}` like the JSON form; a file that is not a list is
400 naming `file`, and nothing of it is listed; the body limit is a campaign list's."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Tenant


def _upload(client: TestClient, tenant: Tenant, content: bytes, **headers: str) -> Any:
    return client.post(
        "/api/v2/dnc",
        files={"file": ("dnc.csv", content, "text/csv")},
        headers=tenant.headers | headers,
    )


def _listed(client: TestClient, tenant: Tenant, number: str) -> bool:
    answer = client.get("/api/v2/dnc", headers=tenant.headers, params={"phoneNumber": number})
    listed: bool = answer.json()["result"]["listed"]
    return listed


def test_a_file_is_listed_and_counted_as_json_is(client: TestClient, tenant: Tenant) -> None:
    text = (
        "\ufeffname,mobile\r\nAli,۰۹۱۲۱۲۳۴۵۶۷\r\nSara,0935 123 4567\r\nBad,12\r\n"
        "Ali,09121234567\r\n"  # a repeat: counted once
    )
    answer = _upload(client, tenant, text.encode())
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "result": {"added": 2, "alreadyListed": 0, "invalid": 1},
        "error": None,
    }
    assert _listed(client, tenant, "+989121234567") and _listed(client, tenant, "09351234567")
    again = _upload(client, tenant, "+989351234567\n09191234567\n".encode("utf-16"))
    assert again.json()["result"] == {"added": 1, "alreadyListed": 1, "invalid": 0}


def test_a_hundred_thousand_rows(client: TestClient, tenant: Tenant) -> None:
    text = "".join(f"0912{i:07d}\n" for i in range(100_000)).encode()
    answer = _upload(client, tenant, text)
    assert answer.json()["result"] == {"added": 100_000, "alreadyListed": 0, "invalid": 0}
    assert _listed(client, tenant, "09120099999")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file: the list holds no number"),
        (
            "09129999999\n09121234567\n".encode("utf-16-le"),
            "file: line 1: holds a NUL character (UTF-16 text needs its byte order mark)",
        ),
        (b"09129999999\n\xff\n", "file: line 2: not UTF-8 text (invalid start byte)"),
    ],
)
def test_a_bad_file_is_refused_naming_the_field(
    client: TestClient, tenant: Tenant, content: bytes, message: str
) -> None:
    answer = _upload(client, tenant, content)
    assert answer.status_code == 400
    assert answer.json() == {"result": None, "error": "InvalidRequest", "message": message}
    assert not _listed(client, tenant, "09129999999")


def test_a_form_without_a_file(client: TestClient, tenant: Tenant) -> None:
    answer = client.post(
        "/api/v2/dnc", headers=tenant.headers, files={"list": ("x.csv", b"09121234567\n")}
    )
    assert answer.status_code == 400
    assert answer.json()["message"] == "file: required"


def test_a_file_may_pass_the_json_limit(client: TestClient, tenant: Tenant) -> None:
    # a campaign list's limit (50 MiB), not the 1 MiB of a JSON body
    content = b"09121234567\n" + b"\n" * (2 * 1024 * 1024)
    answer = _upload(client, tenant, content)
    assert answer.json()["result"] == {"added": 1, "alreadyListed": 0, "invalid": 0}
