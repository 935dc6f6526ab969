"""Campaign endpoints (api.md §8) over HTTP: creating from JSON and from a file, reading,
pages, pause, resume, cancel, the calls and the report. The releaser runs by hand here (the
app's worker is off), one round at a time."""

from __future__ import annotations

import csv
import io
import time
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from tests.conftest import Tenant, make_tenant
from voxcall.api.campaign_schemas import Window
from voxcall.calls import campaigns as campaigns_module
from voxcall.calls.windows import Window as CallingWindow
from voxcall.domain.voices import Voice
from voxcall.runtime import Services

FOREIGN = "+14155552671"  # a valid US number: the project may call only IR


@pytest.fixture
def voice_id(services: Services, tenant: Tenant) -> str:
    voice = Voice(uuid.uuid4().hex, tenant.project.id, "v", "wav", 1, 2.0, int(time.time()))
    services.store.add_voice(voice)
    return voice.id


def _post(client: TestClient, tenant: Tenant, body: dict[str, Any]) -> Any:
    return client.post("/api/v2/campaign", json=body, headers=tenant.headers)


def _numbers(n: int) -> list[str]:
    return [f"0912{i:07d}" for i in range(n)]


def test_create_from_json_skips_and_counts(
    client: TestClient, tenant: Tenant, voice_id: str
) -> None:
    numbers = ["09121234567", "nonsense", "+989121234567", FOREIGN, "09351234567"]
    answer = _post(client, tenant, {"name": "spring", "voiceId": voice_id, "phoneNumbers": numbers})
    assert answer.status_code == 200, answer.text
    campaign = answer.json()["result"]
    assert len(campaign["id"]) == 32
    assert campaign["status"] == "RUNNING"
    assert campaign["total"] == 2
    assert campaign["counts"] == {
        "WAITING": 2,
        "NORMAL": 0,
        "NO_ANSWER": 0,
        "USER_BUSY": 0,
        "EXPIRED": 0,
        "ERROR": 0,
        "UNKNOWN": 0,
    }
    assert campaign["skipped"] == {"invalid": 1, "notAllowed": 1, "duplicate": 1, "doNotCall": 0}
    assert campaign["rejected"] == [
        {"line": 2, "value": "nonsense", "reason": "invalid"},
        {"line": 3, "value": "+989121234567", "reason": "duplicate"},
        {"line": 4, "value": FOREIGN, "reason": "notAllowed"},
    ]
    assert campaign["price"] == 0.0
    assert campaign["endAt"] - campaign["startAt"] == 7 * 86400
    assert campaign["startedAt"] is None and campaign["finishedAt"] is None
    got = client.get(f"/api/v2/campaign/{campaign['id']}", headers=tenant.headers).json()
    assert got == {"result": campaign, "error": None}


def test_create_from_a_file(client: TestClient, tenant: Tenant, voice_id: str) -> None:
    rows = "\ufeffname,mobile\r\nAli,۰۹۱۲۱۲۳۴۵۶۷\r\n\r\nSara,0935 123 4567\r\nBad,12\r\n"
    answer = client.post(
        "/api/v2/campaign",
        data={
            "name": "from a file",
            "voiceId": voice_id,
            "maxChannels": "3",
            "window": '{"days": ["sat", "sun"], "start": "09:00", "end": "20:00",'
            ' "timezone": "Asia/Tehran"}',
        },
        files={"file": ("list.csv", rows.encode(), "text/csv")},
        headers=tenant.headers,
    )
    assert answer.status_code == 200, answer.text
    campaign = answer.json()["result"]
    assert campaign["total"] == 2
    assert campaign["maxChannels"] == 3
    assert campaign["window"]["timezone"] == "Asia/Tehran"
    assert campaign["rejected"] == [{"line": 5, "value": "12", "reason": "invalid"}]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"voiceId": "v", "phoneNumbers": ["09121234567"]}, "name: required"),
        ({"name": "x", "phoneNumbers": ["09121234567"]}, "voiceId: required (or a text to speak)"),
        ({"name": "x", "voiceId": "v", "phoneNumbers": []}, "phoneNumbers: must hold 1 to"),
        (
            {"name": "x", "voiceId": "VOICE", "phoneNumbers": ["nope", FOREIGN]},
            "phoneNumbers: the list holds no number that can be called",
        ),
        (
            {"name": "x", "voiceId": "VOICE", "phoneNumbers": ["09121234567"], "endAt": 5},
            "endAt: must be later than startAt and now",
        ),
        (
            {"name": "x", "voiceId": "VOICE", "phoneNumbers": ["09121234567"], "maxChannels": 0},
            "maxChannels: must be between 1 and 100000",
        ),
    ],
)
def test_refusals_name_the_field(
    client: TestClient, tenant: Tenant, voice_id: str, body: dict[str, Any], message: str
) -> None:
    if body.get("voiceId") == "VOICE":
        body = body | {"voiceId": voice_id}
    answer = _post(client, tenant, body)
    assert answer.status_code == 400
    assert answer.json()["error"] == "InvalidRequest"
    assert answer.json()["message"].startswith(message)


def test_an_unknown_voice_is_refused(client: TestClient, tenant: Tenant) -> None:
    answer = _post(
        client, tenant, {"name": "x", "voiceId": uuid.uuid4().hex, "phoneNumbers": _numbers(1)}
    )
    assert (answer.status_code, answer.json()["error"]) == (400, "InvalidVoice")


def test_pages_newest_first_and_other_projects_see_nothing(
    client: TestClient, services: Services, tenant: Tenant, voice_id: str
) -> None:
    ids = [
        _post(
            client, tenant, {"name": f"c{i}", "voiceId": voice_id, "phoneNumbers": _numbers(2)}
        ).json()["result"]["id"]
        for i in range(3)
    ]
    first = client.get("/api/v2/campaign?limit=2", headers=tenant.headers).json()["result"]
    assert [c["id"] for c in first] == [ids[2], ids[1]]
    rest = client.get(f"/api/v2/campaign?before={ids[1]}", headers=tenant.headers).json()
    assert [c["id"] for c in rest["result"]] == [ids[0]]
    other = make_tenant(services, "other")
    assert client.get("/api/v2/campaign", headers=other.headers).json()["result"] == []
    for path in ("", "/calls", "/report.csv"):
        answer = client.get(f"/api/v2/campaign/{ids[0]}{path}", headers=other.headers)
        assert (answer.status_code, answer.json()["error"]) == (404, "NotFound")
    answer = client.post(f"/api/v2/campaign/{ids[0]}/cancel", headers=other.headers)
    assert answer.status_code == 404
    bad = client.get("/api/v2/campaign?limit=101", headers=tenant.headers)
    assert bad.json()["message"].startswith("limit: ")


def test_released_calls_pages_and_the_batch_view(
    client: TestClient, services: Services, tenant: Tenant, voice_id: str
) -> None:
    body = {"name": "c", "voiceId": voice_id, "phoneNumbers": _numbers(30), "maxChannels": 7}
    campaign = _post(client, tenant, body).json()["result"]
    assert services.releaser.release_round(time.time()) == 7
    path = f"/api/v2/campaign/{campaign['id']}"
    page = client.get(f"{path}/calls?limit=5", headers=tenant.headers).json()["result"]
    assert [c["phoneNumber"] for c in page] == _numbers(5)
    assert {c["campaignId"] for c in page} == {campaign["id"]}
    more = client.get(f"{path}/calls?after={page[-1]['id']}", headers=tenant.headers).json()
    assert [c["phoneNumber"] for c in more["result"]] == _numbers(7)[5:]
    finals = client.get(f"{path}/calls?status=NORMAL", headers=tenant.headers).json()
    assert finals["result"] == []
    batch_view = client.get(f"/api/v2/voice/campaign/{campaign['id']}", headers=tenant.headers)
    assert [c["id"] for c in batch_view.json()["result"]] == [
        c["id"] for c in page + more["result"]
    ]
    status = client.get(f"/api/v2/voice/status/{page[0]['id']}", headers=tenant.headers).json()
    assert status["result"]["campaignId"] == campaign["id"]
    got = client.get(path, headers=tenant.headers).json()["result"]
    assert got["startedAt"] is not None and got["counts"]["WAITING"] == 30


def test_pause_resume_cancel(
    client: TestClient, services: Services, tenant: Tenant, voice_id: str
) -> None:
    body = {"name": "c", "voiceId": voice_id, "phoneNumbers": _numbers(20), "maxChannels": 5}
    campaign_id = _post(client, tenant, body).json()["result"]["id"]
    path = f"/api/v2/campaign/{campaign_id}"
    paused = client.post(f"{path}/pause", headers=tenant.headers).json()["result"]
    assert paused["status"] == "PAUSED"
    assert services.releaser.release_round(time.time()) == 0
    resumed = client.post(f"{path}/resume", headers=tenant.headers).json()["result"]
    assert resumed["status"] == "RUNNING"
    assert services.releaser.release_round(time.time()) == 5
    cancelled = client.post(f"{path}/cancel", headers=tenant.headers).json()["result"]
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["counts"]["EXPIRED"] == 20 and cancelled["finishedAt"] is not None
    again = client.post(f"{path}/resume", headers=tenant.headers).json()["result"]
    assert again["status"] == "CANCELLED"
    assert services.releaser.release_round(time.time()) == 0


def test_report_has_every_number_in_list_order(
    client: TestClient, services: Services, tenant: Tenant, voice_id: str
) -> None:
    body = {"name": "c", "voiceId": voice_id, "phoneNumbers": _numbers(2500), "maxChannels": 3}
    campaign_id = _post(client, tenant, body).json()["result"]["id"]
    services.releaser.release_round(time.time())
    answer = client.get(f"/api/v2/campaign/{campaign_id}/report.csv", headers=tenant.headers)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == [
        "phoneNumber",
        "status",
        "statusCode",
        "attempts",
        "billSec",
        "price",
        "requestDate",
        "executionDate",
        "answeredBy",
        "digits",
    ]
    assert [r[0] for r in rows[1:]] == _numbers(2500)
    assert {r[1] for r in rows[1:]} == {"WAITING"}
    assert int(rows[1][6]) > 0 and rows[4][6] == "0"  # released, then not yet


def test_nothing_is_released_outside_the_window(
    client: TestClient, services: Services, tenant: Tenant, voice_id: str
) -> None:
    hour = time.gmtime().tm_hour
    every_day = ["sat", "sun", "mon", "tue", "wed", "thu", "fri"]

    def window(start: int, end: int) -> dict[str, Any]:
        return {
            "days": every_day,
            "start": f"{start % 24:02d}:00",
            "end": f"{end % 24:02d}:00",
            "timezone": "UTC",
        }

    body = {"name": "c", "voiceId": voice_id, "phoneNumbers": _numbers(3)}
    closed = _post(client, tenant, body | {"window": window(hour + 2, hour + 3)}).json()
    assert closed["result"]["status"] == "OUTSIDE_WINDOW"
    assert services.releaser.release_round(time.time()) == 0
    opened = _post(client, tenant, body | {"window": window(hour, hour + 2)}).json()
    assert opened["result"]["status"] == "RUNNING"
    assert services.releaser.release_round(time.time()) == 3
    same = _post(client, tenant, body | {"window": window(hour, hour)})
    assert same.json()["message"] == "window.end: must differ from start"


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("09:00", "09:00", "window.end: must differ from start"),
        ("24:00", "06:00", "window.start: must be 00:00 to 23:59"),
        ("9:00", "20:00", "window.start: must be a time of day, 00:00 to 24:00"),
        ("09:00", "24:30", "window.end: must be a time of day, 00:00 to 24:00"),
    ],
)
def test_a_window_is_checked_by_the_rule_the_releaser_keeps(
    client: TestClient, tenant: Tenant, voice_id: str, start: str, end: str, message: str
) -> None:
    window = {"days": ["sat"], "start": start, "end": end, "timezone": "UTC"}
    body = {"name": "c", "voiceId": voice_id, "phoneNumbers": _numbers(1), "window": window}
    answer = _post(client, tenant, body)
    assert (answer.status_code, answer.json()["message"]) == (400, message)
    # the model itself refuses it, before any service is asked
    with pytest.raises(ValidationError):
        Window.model_validate(window)


def test_a_window_may_end_at_midnight(client: TestClient, tenant: Tenant, voice_id: str) -> None:
    window = {"days": ["sat"], "start": "00:00", "end": "24:00", "timezone": "UTC"}
    body = {"name": "c", "voiceId": voice_id, "phoneNumbers": _numbers(1), "window": window}
    answer = _post(client, tenant, body)
    assert answer.status_code == 200
    assert answer.json()["result"]["window"] == window


@pytest.mark.parametrize("in_memory", [200_000, 0], ids=["read-whole", "looked-up"])
def test_numbers_on_a_do_not_call_list_are_skipped(
    client: TestClient,
    services: Services,
    tenant: Tenant,
    voice_id: str,
    in_memory: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(campaigns_module, "DNC_IN_MEMORY", in_memory)
    now = int(time.time())
    services.store.add_dnc(tenant.project.id, ["+989121234567"], now)  # the project's list
    services.store.add_dnc(None, ["+989351234567"], now)  # the operator's, for everyone
    numbers = ["0912 123 4567", "09121111111", "۰۹۳۵۱۲۳۴۵۶۷", "09121111111"]
    answer = _post(client, tenant, {"name": "c", "voiceId": voice_id, "phoneNumbers": numbers})
    campaign = answer.json()["result"]
    assert campaign["total"] == 1
    assert campaign["skipped"] == {"invalid": 0, "notAllowed": 0, "duplicate": 1, "doNotCall": 2}
    assert campaign["rejected"] == [
        {"line": 1, "value": "0912 123 4567", "reason": "doNotCall"},
        {"line": 3, "value": "۰۹۳۵۱۲۳۴۵۶۷", "reason": "doNotCall"},
        {"line": 4, "value": "09121111111", "reason": "duplicate"},
    ]


def _every_day(start: int, end: int) -> CallingWindow:
    return CallingWindow.parse(f"mon-sun {start % 24:02d}:00-{end % 24:02d}:00 UTC")


def test_a_campaign_without_a_window_is_outside_its_projects(
    client: TestClient, services: Services, tenant: Tenant, voice_id: str
) -> None:
    hour = time.gmtime().tm_hour
    services.projects.update(tenant.project, window=_every_day(hour + 2, hour + 3))
    body = {"name": "c", "voiceId": voice_id, "phoneNumbers": _numbers(3)}
    closed = _post(client, tenant, body).json()["result"]
    assert closed["status"] == "OUTSIDE_WINDOW"
    assert services.releaser.release_round(time.time()) == 0
    own = _every_day(hour, hour + 2).to_json()
    opened = _post(client, tenant, body | {"window": own}).json()["result"]
    assert opened["status"] == "RUNNING"  # its own window, not the project's
    got = client.get(f"/api/v2/campaign/{closed['id']}", headers=tenant.headers)
    assert got.json()["result"]["status"] == "OUTSIDE_WINDOW"


def test_a_holiday_holds_a_campaign_outside_its_window(
    client: TestClient, services: Services, tenant: Tenant, voice_id: str
) -> None:
    services.holidays.add(time.strftime("%Y-%m-%d", time.gmtime()))
    hour = time.gmtime().tm_hour
    window = _every_day(hour, hour + 2).to_json()
    body = {"name": "c", "voiceId": voice_id, "phoneNumbers": _numbers(3), "window": window}
    campaign = _post(client, tenant, body).json()["result"]
    assert campaign["status"] == "OUTSIDE_WINDOW"
    assert services.releaser.release_round(time.time()) == 0
