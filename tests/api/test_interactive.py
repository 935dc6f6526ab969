"""api.md §11 through the app: `gather` and `machineDetection` on every call request, the
call object's `digits` and `answeredBy`, and the money a call with `gather` reserves."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.test_calls import place, voice_id
from tests.api.test_money import balance, priced
from tests.audio.samples import encode, tone
from tests.conftest import Tenant
from voxcall.billing.money import parse_toman
from voxcall.domain.interaction import Gather, MachineDetection
from voxcall.runtime import Services

__all__ = ["priced", "voice_id"]  # fixtures

GATHER = {"maxDigits": 4, "timeout": "10", "finishOnKey": "#", "repeatKey": "*"}


def test_a_call_with_gather_and_detection(
    client: TestClient, tenant: Tenant, services: Services, voice_id: str
) -> None:
    body = {
        "phoneNumber": "09121234567",
        "voiceId": voice_id,
        "gather": GATHER,
        "machineDetection": "voicemail",
    }
    response = place(client, tenant, body)
    assert response.status_code == 200, response.text
    call = response.json()["result"]
    assert (call["status"], call["digits"], call["answeredBy"]) == ("WAITING", "", None)
    stored = services.store.get_call(tenant.project.id, call["id"])
    assert stored is not None
    assert stored.gather == Gather(4, 10.0, "#", "*")
    assert stored.machine_detection is MachineDetection.VOICEMAIL


def test_defaults(client: TestClient, tenant: Tenant, services: Services, voice_id: str) -> None:
    body = {"phoneNumber": "09121234567", "voiceId": voice_id, "gather": {"maxDigits": 1}}
    call = place(client, tenant, body).json()["result"]
    stored = services.store.get_call(tenant.project.id, call["id"])
    assert stored is not None
    assert stored.gather == Gather(1, 5.0)
    assert stored.machine_detection is MachineDetection.OFF


def test_batch_and_tts_take_them_too(client: TestClient, tenant: Tenant, voice_id: str) -> None:
    fields = {"gather": {"maxDigits": 1}, "machineDetection": "humansOnly"}
    numbers = ["09121234567", "09351234567"]
    batch = client.post(
        "/api/v2/voice/batch",
        headers=tenant.headers,
        json={"phoneNumbers": numbers, "voiceId": voice_id, **fields},
    )
    assert batch.status_code == 200, batch.text
    tts = client.post(
        "/api/v2/voice/single/tts",
        headers=tenant.headers,
        json={"phoneNumber": numbers[0], "text": "Press one.", "language": "en", **fields},
    )
    assert tts.status_code == 200, tts.text
    for call in [*batch.json()["result"], tts.json()["result"]]:
        assert (call["digits"], call["answeredBy"]) == ("", None)


def _with(**fields: Any) -> dict[str, Any]:
    return {"phoneNumber": "09121234567", "voiceId": "V", **fields}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_with(gather={}), "gather.maxDigits: required"),
        (_with(gather={"maxDigits": 0}), "gather.maxDigits: must be between 1 and 16"),
        (_with(gather={"maxDigits": "17"}), "gather.maxDigits: must be between 1 and 16"),
        (_with(gather={"maxDigits": 2, "timeout": 31}), "gather.timeout: must be between 1 and 30"),
        (
            _with(gather={"maxDigits": 2, "finishOnKey": "##"}),
            "gather.finishOnKey: must be one of 0 1 2 3 4 5 6 7 8 9 * # A B C D",
        ),
        (
            _with(gather={"maxDigits": 2, "repeatKey": "x"}),
            "gather.repeatKey: must be one of 0 1 2 3 4 5 6 7 8 9 * # A B C D",
        ),
        (
            _with(gather={"maxDigits": 2, "finishOnKey": "#", "repeatKey": "#"}),
            "gather: repeatKey must differ from finishOnKey",
        ),
        (_with(gather="yes"), "gather: must be an object"),
        (_with(gather=[1]), "gather: must be an object"),
        (
            _with(machineDetection="sometimes"),
            "machineDetection: input should be 'off', 'detect', 'voicemail' or 'humansOnly'",
        ),
    ],
)
def test_invalid_fields_are_named(
    client: TestClient, tenant: Tenant, voice_id: str, body: dict[str, Any], message: str
) -> None:
    body = {k: voice_id if v == "V" else v for k, v in body.items()}
    response = place(client, tenant, body)
    assert response.status_code == 400
    assert response.json() == {"result": None, "error": "InvalidRequest", "message": message}


def test_gather_reserves_the_longest_call(
    client: TestClient, priced: Services, tenant: Tenant
) -> None:
    # 600 Toman a minute in 30 s increments: a 3 s voice reserves one increment (300); with
    # gather {maxDigits 4, timeout 10, repeat} the call may last 4 * 3 + 7 * 10 = 82 s: 3
    # increments (900), plus the 1 s margin, still within them.
    priced.store.credit(tenant.project.id, parse_toman("5000"), kind="topup", note="t")
    audio = encode(tone(3.0, rate=8000, channels=1), 8000, 1, "wav")
    voice = client.post(
        "/api/v2/file/voice", headers=tenant.headers, files={"file": ("v.wav", audio)}
    ).json()["result"]["id"]
    plain = place(client, tenant, {"phoneNumber": "09121234567", "voiceId": voice})
    assert plain.status_code == 200
    assert balance(client, tenant)["reserved"] == 300.0
    body = {"phoneNumber": "09121234567", "voiceId": voice, "gather": GATHER}
    assert place(client, tenant, body).status_code == 200
    assert balance(client, tenant)["reserved"] == 300.0 + 900.0
