"""`gather` and `machineDetection` on campaigns over HTTP (api.md §8, §11): taken from JSON
and from multipart form fields, refused field by field as on the call endpoints, shown by
`GET /campaign/{id}`, and counted in what each released call reserves."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.test_campaigns import voice_id
from tests.api.test_money import priced
from tests.conftest import Tenant
from voxcall.billing.money import parse_toman
from voxcall.domain.interaction import Gather, MachineDetection
from voxcall.runtime import Services

__all__ = ["priced", "voice_id"]  # fixtures

GATHER = {"maxDigits": 4, "timeout": "10", "finishOnKey": "#", "repeatKey": "*"}
SHOWN = {"maxDigits": 4, "timeout": 10, "finishOnKey": "#", "repeatKey": "*"}


def _json(client: TestClient, tenant: Tenant, **fields: Any) -> Any:
    body = {"name": "keys", "phoneNumbers": ["09121234567"], **fields}
    return client.post("/api/v2/campaign", json=body, headers=tenant.headers)


def _multipart(client: TestClient, tenant: Tenant, **fields: str) -> Any:
    return client.post(
        "/api/v2/campaign",
        data={"name": "keys", **fields},
        files={"file": ("list.txt", b"09121234567\n09351234567\n", "text/plain")},
        headers=tenant.headers,
    )


def test_a_json_campaign_keeps_and_shows_them(
    client: TestClient, tenant: Tenant, services: Services, voice_id: str
) -> None:
    answer = _json(client, tenant, voiceId=voice_id, gather=GATHER, machineDetection="voicemail")
    assert answer.status_code == 200, answer.text
    campaign = answer.json()["result"]
    assert (campaign["gather"], campaign["machineDetection"]) == (SHOWN, "voicemail")
    got = client.get(f"/api/v2/campaign/{campaign['id']}", headers=tenant.headers).json()
    assert got == {"result": campaign, "error": None}
    stored = services.store.get_campaign(tenant.project.id, campaign["id"])
    assert stored is not None
    assert stored.policy.gather == Gather(4, 10.0, "#", "*")
    assert stored.policy.machine_detection is MachineDetection.VOICEMAIL


def test_without_them_a_campaign_asks_for_neither(
    client: TestClient, tenant: Tenant, voice_id: str
) -> None:
    campaign = _json(client, tenant, voiceId=voice_id).json()["result"]
    assert (campaign["gather"], campaign["machineDetection"]) == (None, "off")


def test_a_file_campaign_takes_them_as_form_fields(
    client: TestClient, tenant: Tenant, voice_id: str
) -> None:
    fields = {"voiceId": voice_id, "gather": json.dumps(GATHER), "machineDetection": "humansOnly"}
    answer = _multipart(client, tenant, **fields)
    assert answer.status_code == 200, answer.text
    campaign = answer.json()["result"]
    assert (campaign["total"], campaign["gather"]) == (2, SHOWN)
    assert campaign["machineDetection"] == "humansOnly"


# The CLI's `campaign create` refuses the same with the same messages (tests/cli).
REFUSALS = [
    ({"gather": {}}, "gather.maxDigits: required"),
    ({"gather": {"maxDigits": 0}}, "gather.maxDigits: must be between 1 and 16"),
    ({"gather": {"maxDigits": "17"}}, "gather.maxDigits: must be between 1 and 16"),
    ({"gather": {"maxDigits": 2, "timeout": 31}}, "gather.timeout: must be between 1 and 30"),
    (
        {"gather": {"maxDigits": 2, "finishOnKey": "##"}},
        "gather.finishOnKey: must be one of 0 1 2 3 4 5 6 7 8 9 * # A B C D",
    ),
    (
        {"gather": {"maxDigits": 2, "finishOnKey": "#", "repeatKey": "#"}},
        "gather: repeatKey must differ from finishOnKey",
    ),
    ({"gather": [1]}, "gather: must be an object"),
    (
        {"machineDetection": "sometimes"},
        "machineDetection: input should be 'off', 'detect', 'voicemail' or 'humansOnly'",
    ),
]


@pytest.mark.parametrize(("fields", "message"), REFUSALS)
def test_json_refusals_name_the_field(
    client: TestClient, tenant: Tenant, voice_id: str, fields: dict[str, Any], message: str
) -> None:
    answer = _json(client, tenant, voiceId=voice_id, **fields)
    assert answer.status_code == 400
    assert answer.json() == {"result": None, "error": "InvalidRequest", "message": message}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        *(
            ({k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}, message)
            for fields, message in REFUSALS
        ),
        ({"gather": "maxDigits=2"}, "gather: must be a JSON object"),
    ],
)
def test_form_refusals_name_the_field(
    client: TestClient, tenant: Tenant, voice_id: str, fields: dict[str, str], message: str
) -> None:
    answer = _multipart(client, tenant, voiceId=voice_id, **fields)
    assert answer.status_code == 400
    assert answer.json() == {"result": None, "error": "InvalidRequest", "message": message}


def test_each_released_call_reserves_its_longest_call(
    client: TestClient, priced: Services, tenant: Tenant, voice_id: str
) -> None:
    # 600 Toman a minute in 30 s increments; the voice is 2 s. Alone a call reserves one
    # increment (300); with gather {maxDigits 4, timeout 10, repeat} it may last
    # 4 * 2 + 7 * 10 = 78 s, and humansOnly waits up to 6 s for the decision first:
    # 84 s and the 1 s margin, 3 increments (900).
    priced.store.credit(tenant.project.id, parse_toman("5000"), kind="topup", note="t")
    plain = _json(client, tenant, voiceId=voice_id).json()["result"]
    keys = _json(
        client, tenant, voiceId=voice_id, gather=GATHER, machineDetection="humansOnly"
    ).json()["result"]
    reserved = {}
    for campaign in (plain, keys):
        stored = priced.store.get_campaign(tenant.project.id, campaign["id"])
        assert stored is not None
        reserved[campaign["id"]] = stored.policy.reservation_milli
    assert (reserved[plain["id"]], reserved[keys["id"]]) == (parse_toman("300"), parse_toman("900"))
