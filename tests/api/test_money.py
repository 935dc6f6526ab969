"""Money through the API: reservations at acceptance, the price of a call, the balance."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api.test_calls import upload
from tests.audio.samples import encode, tone
from tests.billing.invariants import check_money
from tests.conftest import Tenant
from voxcall.api.app import create_app
from voxcall.billing.money import parse_toman
from voxcall.calls.dialers import new_dialer
from voxcall.domain.money import Tariff
from voxcall.runtime import Services


@pytest.fixture
def priced(services: Services) -> Services:
    """Issue 4's example: 600 Toman a minute in 30-second increments."""
    services.store.set_dialer_enabled("sandbox", False)
    tariff = Tariff(parse_toman("600"), billing_increment=30)
    services.store.add_dialer(new_dialer("tehran", "sandbox", "Tehran", {}, tariff=tariff))
    return services


@pytest.fixture
def live_client(priced: Services) -> Iterator[TestClient]:
    """The app with its scheduler (sandbox 100 times faster)."""
    with TestClient(create_app(priced), raise_server_exceptions=False) as client:
        yield client


def balance(client: TestClient, tenant: Tenant) -> dict[str, float]:
    response = client.get("/api/v2/account/balance", headers=tenant.headers)
    assert response.status_code == 200
    result: dict[str, float] = response.json()["result"]
    return result


def test_a_three_second_call_costs_300(
    live_client: TestClient, priced: Services, tenant: Tenant
) -> None:
    priced.store.credit(tenant.project.id, parse_toman("1000"), kind="topup", note="t")
    voice = upload(live_client, tenant, encode(tone(3.0, rate=8000, channels=1), 8000, 1, "wav"))
    body = {"phoneNumber": "09121234567", "voiceId": voice}
    call = live_client.post("/api/v2/voice/single", headers=tenant.headers, json=body).json()
    assert call["result"]["price"] == 0.0
    assert balance(live_client, tenant) == {
        "balance": 1000.0,
        "reserved": 300.0,
        "available": 700.0,
    }
    deadline = time.monotonic() + 20
    while True:
        status = live_client.get(
            f"/api/v2/voice/status/{call['result']['id']}", headers=tenant.headers
        ).json()["result"]
        if status["status"] != "WAITING":
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert (status["status"], status["billSec"], status["price"]) == ("NORMAL", 3, -300.0)
    assert balance(live_client, tenant) == {"balance": 700.0, "reserved": 0.0, "available": 700.0}
    check_money(priced.store)


def test_unanswered_calls_cost_nothing(
    live_client: TestClient, priced: Services, tenant: Tenant
) -> None:
    priced.store.credit(tenant.project.id, parse_toman("600"), kind="topup", note="t")
    voice = upload(live_client, tenant, encode(tone(3.0, rate=8000, channels=1), 8000, 1, "wav"))
    ids = []
    for number in ("09121230001", "09121230003"):
        body = {"phoneNumber": number, "voiceId": voice, "retryCount": 0}
        response = live_client.post("/api/v2/voice/single", headers=tenant.headers, json=body)
        ids.append(response.json()["result"]["id"])
    deadline = time.monotonic() + 20
    while priced.store.count_calls().get("WAITING"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    for call_id in ids:
        status = live_client.get(f"/api/v2/voice/status/{call_id}", headers=tenant.headers)
        assert status.json()["result"]["price"] == 0.0
    assert balance(live_client, tenant) == {"balance": 600.0, "reserved": 0.0, "available": 600.0}


def test_insufficient_balance_queues_nothing(
    client: TestClient, priced: Services, tenant: Tenant
) -> None:
    priced.store.credit(tenant.project.id, parse_toman("500"), kind="topup", note="t")
    voice = upload(client, tenant, encode(tone(3.0, rate=8000, channels=1), 8000, 1, "wav"))
    body = {"phoneNumber": "09121234567", "voiceId": voice}
    first = client.post("/api/v2/voice/single", headers=tenant.headers, json=body)
    assert first.status_code == 200
    second = client.post("/api/v2/voice/single", headers=tenant.headers, json=body)
    assert second.status_code == 402
    assert second.json() == {
        "result": None,
        "error": "InsufficientBalance",
        "message": "balance: 300 Toman must be available for 1 call(s)",
    }
    assert priced.store.count_calls() == {"WAITING": 1}
    assert balance(client, tenant) == {"balance": 500.0, "reserved": 300.0, "available": 200.0}


def test_the_operators_margin_is_reserved(
    client: TestClient, priced: Services, tenant: Tenant
) -> None:
    """Per-second billing shows the margin: a 3 s voice on a trunk with a 10 s margin holds
    the price of 13 s."""
    dialer = priced.store.get_dialer("tehran")
    assert dialer is not None
    tariff = Tariff(parse_toman("60"), billing_increment=1, reserve_margin=10)
    priced.store.update_dialer(dataclasses.replace(dialer, tariff=tariff))
    priced.store.credit(tenant.project.id, parse_toman("20"), kind="topup", note="t")
    voice = upload(client, tenant, encode(tone(3.0, rate=8000, channels=1), 8000, 1, "wav"))
    body = {"phoneNumber": "09121234567", "voiceId": voice}
    assert client.post("/api/v2/voice/single", headers=tenant.headers, json=body).status_code == 200
    assert balance(client, tenant) == {"balance": 20.0, "reserved": 13.0, "available": 7.0}
    second = client.post("/api/v2/voice/single", headers=tenant.headers, json=body)
    assert second.status_code == 402
    assert second.json()["message"] == "balance: 13 Toman must be available for 1 call(s)"
