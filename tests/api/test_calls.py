"""Call endpoints through the real app on SQLite (scheduler off: calls stay queued)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.calls.test_numbers import LETTERS
from tests.conftest import Tenant, make_tenant
from voxcall.calls.dialers import new_dialer
from voxcall.runtime import Services


def upload(client: TestClient, tenant: Tenant, data: bytes, name: str = "v.mp3") -> str:
    response = client.post(
        "/api/v2/file/voice", headers=tenant.headers, files={"file": (name, data)}
    )
    assert response.status_code == 200, response.text
    voice_id: str = response.json()["result"]["id"]
    return voice_id


@pytest.fixture
def voice_id(client: TestClient, tenant: Tenant, voice_mp3: bytes) -> str:
    return upload(client, tenant, voice_mp3)


def place(client: TestClient, tenant: Tenant, body: dict[str, Any]) -> Any:
    return client.post("/api/v2/voice/single", headers=tenant.headers, json=body)


def test_single_call_is_accepted_waiting(client: TestClient, tenant: Tenant, voice_id: str) -> None:
    before = int(time.time())
    response = place(client, tenant, {"phoneNumber": "+98 912 123 4567", "voiceId": voice_id})
    assert response.status_code == 200
    body = response.json()
    assert body["error"] is None
    call = body["result"]
    assert len(call["id"]) == 32 and all(c in "0123456789abcdef" for c in call["id"])
    assert call == {
        "id": call["id"],
        "phoneNumber": "09121234567",
        "status": "WAITING",
        "statusCode": 0,
        "billSec": 0,
        "requestDate": call["requestDate"],
        "executionDate": 0,
        "price": 0.0,
        "campaignId": None,
        "attempts": 0,
        "digits": "",
        "answeredBy": None,
    }
    assert before <= call["requestDate"] <= int(time.time())

    status = client.get(f"/api/v2/voice/status/{call['id']}", headers=tenant.headers).json()
    assert status["result"] == {**call, "e164": "+989121234567"}


def test_numeric_strings_are_numbers(client: TestClient, tenant: Tenant, voice_id: str) -> None:
    body = {"phoneNumber": "09121234567", "voiceId": voice_id, "retryCount": "3", "x": 1}
    assert place(client, tenant, body).status_code == 200


def _with(**fields: Any) -> dict[str, Any]:
    return {"phoneNumber": "09121234567", "voiceId": "V", **fields}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"voiceId": "V"}, "phoneNumber: required"),
        ({"phoneNumber": "09121234567"}, "voiceId: required"),
        (_with(phoneNumber=9121234567), "phoneNumber: input should be a valid string"),
        (_with(retryCount=6), "retryCount: must be between 0 and 5"),
        (_with(retryCount=-1), "retryCount: must be between 0 and 5"),
        (_with(retryCount=True), "retryCount: must be a number"),
        (_with(retryCount="two"), "retryCount: must be a number"),
        # Only plain digits, as /openapi.json says: pydantic alone would read these as 2.
        (_with(retryCount=" 2"), "retryCount: must be a number"),
        (_with(retryCount="+2"), "retryCount: must be a number"),
        (_with(retryCount="0_2"), "retryCount: must be a number"),
        (
            _with(retryCount=2.5),
            "retryCount: input should be a valid integer, got a number with a fractional part",
        ),
        (_with(retryInterval=5), "retryInterval: must be between 10 and 86400"),
        (_with(timeToLive=59), "timeToLive: must be between 60 and 604800"),
        (_with(serverId=7), "serverId: input should be a valid string"),
    ],
)
def test_invalid_request_names_the_field(
    client: TestClient, tenant: Tenant, voice_id: str, body: dict[str, Any], message: str
) -> None:
    body = {k: voice_id if v == "V" else v for k, v in body.items()}
    response = place(client, tenant, body)
    assert response.status_code == 400
    assert response.json() == {"result": None, "error": "InvalidRequest", "message": message}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "body: malformed JSON"),
        (b"[1, 2]", "body: must be a JSON object"),
        (b"\xff\xfe", "body: malformed JSON"),
        (b"", "body: malformed JSON"),
    ],
)
def test_malformed_bodies(client: TestClient, tenant: Tenant, raw: bytes, message: str) -> None:
    response = client.post(
        "/api/v2/voice/single",
        headers={**tenant.headers, "Content-Type": "application/json"},
        content=raw,
    )
    assert response.status_code == 400
    assert response.json() == {"result": None, "error": "InvalidRequest", "message": message}


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("0912", "phoneNumber: not a valid number"),
        ("hello", f"phoneNumber: {LETTERS}"),
        ("+14155552671", "phoneNumber: calls to US are not allowed for this project"),
    ],
)
def test_invalid_phone_number(
    client: TestClient, tenant: Tenant, voice_id: str, number: str, message: str
) -> None:
    response = place(client, tenant, {"phoneNumber": number, "voiceId": voice_id})
    assert response.status_code == 400
    assert response.json() == {"result": None, "error": "InvalidPhoneNumber", "message": message}


@pytest.mark.parametrize(
    "number",
    ["09121234567 ext 5", "09121234567x55", "09121234567;ext=555", "09121234567#9", "0912ABC4567"],
)
@pytest.mark.parametrize(
    ("path", "fields", "field"),
    [
        ("/api/v2/voice/single", {"voiceId": "V"}, "phoneNumber"),
        ("/api/v2/voice/batch", {"voiceId": "V"}, "phoneNumbers[1]"),
        ("/api/v2/voice/single/tts", {"text": "hello", "language": "en"}, "phoneNumber"),
        ("/api/v2/voice/batch/tts", {"text": "hello", "language": "en"}, "phoneNumbers[1]"),
        ("/api/v2/voice/otp", {"text": "4821", "language": "en"}, "phoneNumber"),
    ],
)
def test_extensions_and_letters_are_never_dialled(
    client: TestClient,
    tenant: Tenant,
    services: Services,
    voice_id: str,
    number: str,
    path: str,
    fields: dict[str, Any],
    field: str,
) -> None:
    """libphonenumber would dial "09121234567x55" as 0912123456755: refused, naming the field
    (and, in a batch, the element)."""
    body = {**fields, "voiceId": voice_id} if "voiceId" in fields else dict(fields)
    if field.startswith("phoneNumbers"):
        body["phoneNumbers"] = ["09121234567", number]
    else:
        body["phoneNumber"] = number
    response = client.post(path, headers=tenant.headers, json=body)
    assert response.status_code == 400
    assert response.json() == {
        "result": None,
        "error": "InvalidPhoneNumber",
        "message": f"{field}: {LETTERS}",
    }
    assert services.store.count_calls() == {}


def test_invalid_voice(
    client: TestClient, tenant: Tenant, services: Services, voice_id: str
) -> None:
    other = make_tenant(services, "other")
    for candidate in ("0" * 32, "not-an-id"):
        response = place(client, tenant, {"phoneNumber": "09121234567", "voiceId": candidate})
        assert response.status_code == 400
        assert response.json()["error"] == "InvalidVoice"
        assert response.json()["message"] == "voiceId: no such voice"
    # another project's voice answers exactly like one that does not exist
    response = place(client, other, {"phoneNumber": "09121234567", "voiceId": voice_id})
    assert response.json() == {
        "result": None,
        "error": "InvalidVoice",
        "message": "voiceId: no such voice",
    }


def test_invalid_server(
    client: TestClient, tenant: Tenant, services: Services, voice_id: str
) -> None:
    services.store.add_dialer(new_dialer("off", "sandbox", "Off", {}))
    services.store.set_dialer_enabled("off", False)
    for server in ("nope", "off"):
        body = {"phoneNumber": "09121234567", "voiceId": voice_id, "serverId": server}
        response = place(client, tenant, body)
        assert response.status_code == 400
        assert response.json() == {
            "result": None,
            "error": "InvalidServer",
            "message": f"serverId: no enabled dialer {server!r}",
        }


def test_status_of_unknown_or_foreign_call(
    client: TestClient, tenant: Tenant, services: Services, voice_id: str
) -> None:
    call = place(client, tenant, {"phoneNumber": "09121234567", "voiceId": voice_id}).json()
    other = make_tenant(services, "other")
    for headers, call_id in (
        (tenant.headers, "0" * 32),
        (tenant.headers, "not-a-call-id"),
        (other.headers, call["result"]["id"]),
    ):
        response = client.get(f"/api/v2/voice/status/{call_id}", headers=headers)
        assert response.status_code == 404
        assert response.json() == {
            "result": None,
            "error": "NotFound",
            "message": "id: no such call",
        }


def test_cancel_expires_a_queued_call(client: TestClient, tenant: Tenant, voice_id: str) -> None:
    call = place(client, tenant, {"phoneNumber": "09121234567", "voiceId": voice_id}).json()
    response = client.post(f"/api/v2/voice/cancel/{call['result']['id']}", headers=tenant.headers)
    assert response.status_code == 200
    assert response.json()["result"]["status"] == "EXPIRED"
    assert response.json()["result"]["statusCode"] == 10


def test_servers(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/api/v2/voice/servers", headers=tenant.headers)
    assert response.json() == {
        "result": [{"id": "sandbox", "name": "Sandbox", "channels": 10, "busyChannels": 0}],
        "error": None,
    }


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic abc", "Bearer vx_wrong", "Token x"],
)
def test_unauthorized(client: TestClient, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = client.get("/api/v2/voice/servers", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "Unauthorized"
    assert response.json()["result"] is None


def test_scheme_is_case_insensitive(client: TestClient, tenant: Tenant) -> None:
    response = client.get(
        "/api/v2/voice/servers", headers={"Authorization": f"bEaReR {tenant.token}"}
    )
    assert response.status_code == 200


def test_revoked_token(client: TestClient, tenant: Tenant, services: Services) -> None:
    from voxcall.tokens import token_prefix

    assert services.store.revoke_token(token_prefix(tenant.token)) == 1
    response = client.get("/api/v2/voice/servers", headers=tenant.headers)
    assert response.status_code == 401


def test_unknown_route_and_method(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/api/v2/nothing", headers=tenant.headers)
    assert (response.status_code, response.json()["error"]) == (404, "NotFound")
    response = client.get("/api/v2/voice/single", headers=tenant.headers)
    assert (response.status_code, response.json()["error"]) == (405, "MethodNotAllowed")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", f"/api/v2/file/voice/{'a' * 32}", "DELETE, GET"),
        ("PATCH", "/api/v2/file/voice", "GET, POST"),
        ("GET", "/api/v2/voice/single", "POST"),
        ("DELETE", f"/api/v2/voice/status/{'a' * 32}", "GET"),
    ],
)
def test_method_not_allowed_lists_every_allowed_method(
    client: TestClient, tenant: Tenant, method: str, path: str, allow: str
) -> None:
    response = client.request(method, path, headers=tenant.headers)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.json() == {
        "result": None,
        "error": "MethodNotAllowed",
        "message": f"method: {method} is not allowed on {path}",
    }


def test_json_body_over_one_mebibyte(client: TestClient, tenant: Tenant) -> None:
    body = b'{"phoneNumber": "' + b"1" * (1024 * 1024) + b'"}'
    response = client.post(
        "/api/v2/voice/single",
        headers={**tenant.headers, "Content-Type": "application/json"},
        content=body,
    )
    assert response.status_code == 413
    assert response.json()["error"] == "RequestTooLarge"

    def chunks() -> Any:  # no Content-Length: the limit holds while streaming
        yield b'{"phoneNumber": "'
        for _ in range(20):
            yield b"1" * 65536
        yield b'"}'

    response = client.post(
        "/api/v2/voice/single",
        headers={**tenant.headers, "Content-Type": "application/json"},
        content=chunks(),
    )
    assert response.status_code == 413
    assert response.json()["error"] == "RequestTooLarge"


def test_rate_limit(client: TestClient, services: Services) -> None:
    tenant = make_tenant(services, "slow")
    services.store.update_project(tenant.project.id, rate_limit=3)
    codes = [client.get("/api/v2/voice/servers", headers=tenant.headers) for _ in range(5)]
    assert [r.status_code for r in codes] == [200, 200, 200, 429, 429]
    assert codes[3].json() == {
        "result": None,
        "error": "TooManyRequests",
        "message": "rate: over 3 requests per second",
    }
    assert codes[3].headers["Retry-After"] == "1"
    # another project is not slowed down
    assert (
        client.get("/api/v2/voice/servers", headers=make_tenant(services, "b").headers).status_code
        == 200
    )


def test_store_unreachable_is_unavailable(
    client: TestClient, tenant: Tenant, services: Services, voice_id: str, tmp_path: Any
) -> None:
    from voxcall.store.database import make_engine

    services.store.engine = make_engine(f"sqlite:///{tmp_path}/gone/away.db")
    response = place(client, tenant, {"phoneNumber": "09121234567", "voiceId": voice_id})
    assert response.status_code == 503
    assert response.json()["error"] == "Unavailable"


def test_a_bug_is_an_internal_error_with_a_correlation_id(
    client: TestClient, tenant: Tenant, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(services.calls, "servers", broken)
    response = client.get("/api/v2/voice/servers", headers=tenant.headers)
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "InternalError" and body["result"] is None
    assert body["message"].startswith("internal error, correlation id ")
