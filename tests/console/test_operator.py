"""The operator's pages in-process: projects (create, top up with a reason, settings, users),
dialers (live channels, add, edit, disable), system; only the operator sees them, every
change behind CSRF, both languages."""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient

from tests.console.conftest import PASSWORD, Browser
from voxcall.calls.dialers import new_dialer
from voxcall.calls.service import CallOptions
from voxcall.domain.money import Tariff
from voxcall.domain.projects import Project
from voxcall.runtime import Services

XSS = "<script>alert(1)</script>"


@pytest.fixture
def operator(app_client: TestClient, console_services: Services) -> Browser:
    console_services.users.add_operator("admin", PASSWORD)
    browser = Browser(app_client)
    assert browser.sign_in("admin") == 303
    return browser


def test_a_projects_page_lists_the_dialers_tariffs(
    operator: Browser, acme: Project, console_services: Services
) -> None:
    console_services.store.add_dialer(
        new_dialer("trunk", "sandbox", XSS, {}, tariff=Tariff(12_000, 30, 2_000))
    )
    page = operator.client.get(f"/operator/projects/{acme.id}").text
    row = re.search(r'<a href="/operator/dialers/trunk">(.*?)</tr>', page, re.S)
    assert row is not None
    assert "&lt;script&gt;" in row.group(1) and XSS not in page
    assert re.findall(r'<td class="num">([^<]*)</td>', row.group(1)) == ["12", "30", "2"]


def test_projects_create_top_up_settings(
    operator: Browser, acme: Project, console_services: Services
) -> None:
    services = console_services
    assert 'href="/operator/projects"' in operator.client.get("/").text  # lands on projects
    answer = operator.post("/operator/projects", name=XSS, rate_limit="5", opening="1000")
    assert answer.status_code == 303
    project = services.projects.named(XSS)
    assert answer.headers["location"] == f"/operator/projects/{project.id}?done=saved"
    assert (project.rate_limit, project.balance_milli) == (5, 1_000_000)
    listed = operator.client.get("/operator/projects").text
    assert XSS not in listed and "&lt;script&gt;" in listed and "acme" in listed
    again = operator.post("/operator/projects", name="acme", rate_limit="5")
    assert again.status_code == 400 and "a project named &#39;acme&#39; exists" in again.text

    base = f"/operator/projects/{acme.id}"
    assert operator.post(f"{base}/top-up", amount="2500.5", reason=XSS).status_code == 303
    assert services.accounts.balance(acme).balance_milli == 10**7 + 2_500_500
    page = operator.client.get(f"{base}?done=topped-up").text
    assert "Balance topped up." in page and "12,500" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the reason, in the ledger
    refused = operator.post(f"{base}/top-up", amount="10", reason=" ")
    assert refused.status_code == 400 and "reason: say why" in refused.text
    assert operator.post(f"{base}/top-up", amount="-1", reason="x").status_code == 400
    zero = operator.post(f"{base}/top-up", amount="0", reason="x")
    assert zero.status_code == 400 and "amount: a top-up must be positive" in zero.text

    saved = operator.post(
        f"{base}/settings", rate_limit="20", regions="ir, af", default_dialer="sandbox"
    )
    assert saved.status_code == 303
    now = services.projects.get(acme.id)
    assert (now.rate_limit, now.allowed_regions, now.default_dialer_id) == (
        20,
        ("IR", "AF"),
        "sandbox",
    )
    assert operator.post(f"{base}/settings", rate_limit="20", regions="Iran").status_code == 400
    assert operator.post(f"{base}/rename", name="x").status_code == 404
    assert operator.post(f"/operator/projects/{'0' * 32}/top-up", amount="1").status_code == 404
    assert (
        operator.client.post(f"{base}/top-up", data={"amount": "1", "reason": "x"}).status_code
        == 403
    )


def test_project_users_added_and_removed(
    operator: Browser, acme: Project, console_services: Services
) -> None:
    services = console_services
    base = f"/operator/projects/{acme.id}"
    added = operator.post(f"{base}/users", email="New@Acme.test", role="member", password=PASSWORD)
    assert added.status_code == 303
    assert "new@acme.test" in operator.client.get(base).text
    user = Browser(TestClient(operator.client.app))
    assert user.sign_in("new@acme.test") == 303
    assert user.client.get("/operator/projects").status_code == 404  # not the operator's
    assert user.client.get("/operator/system").status_code == 404
    assert (
        operator.post(
            f"{base}/users", email="x@acme.test", role="god", password=PASSWORD
        ).status_code
        == 400
    )
    assert (
        operator.post(
            f"{base}/users", email="y@acme.test", role="member", password="short"
        ).status_code
        == 400
    )
    other = services.projects.create("other", rate_limit=1)
    assert (
        operator.post(
            f"/operator/projects/{other.id}/remove-user", email="new@acme.test"
        ).status_code
        == 404
    )
    assert operator.post(f"{base}/remove-user", email="new@acme.test").status_code == 303
    emails = {u.email for u in services.users.users(acme.id)}
    assert emails == {"owner@acme.test", "member@acme.test"}
    assert operator.client.get("/overview").status_code == 404  # a project user's page


def test_dialers_live_add_edit_disable(
    operator: Browser, acme: Project, console_services: Services, voice_mp3: bytes
) -> None:
    services = console_services
    voice = services.voices.upload(acme, voice_mp3, name="v", filename="v.mp3").id
    services.calls.place(acme, ["09121234567"], voice, CallOptions())
    (dialer,) = services.dialers.list()
    (claimed,) = services.store.claim_due(dialer, 1, time.time() + 1)
    live = operator.client.get("/operator/dialers/live").text
    assert live.startswith('<div id="dialers"') and 'data-busy="1"' in live and "1 / 10" in live
    assert 'hx-get="/operator/dialers/live"' in operator.client.get("/operator/dialers").text

    added = operator.post(
        "/operator/dialers", id="trunk-1", name=XSS, driver="sip", channels="30", cps="5",
        price_per_minute="600", trunk="sip:127.0.0.1:5060", username="vox", password="secret",
    )  # fmt: skip
    assert added.status_code == 303, added.text
    trunk = services.dialers.get("trunk-1")
    assert (trunk.channels, trunk.cps, trunk.tariff.price_per_minute) == (30, 5.0, 600_000)
    page = operator.client.get("/operator/dialers/trunk-1").text
    assert "secret" not in page and "127.0.0.1" in page and XSS not in page
    for wrong in ({"id": "Bad Id"}, {"id": "x", "driver": "pigeon"}, {"id": "x", "channels": "0"}):
        answer = operator.post("/operator/dialers", **{"driver": "sandbox", **wrong})
        assert answer.status_code == 400, wrong
    assert operator.post("/operator/dialers", id="trunk-1", driver="sandbox").status_code == 400

    edited = operator.post("/operator/dialers/trunk-1", channels="40", price_per_minute="34.2")
    assert edited.status_code == 303
    trunk = services.dialers.get("trunk-1")
    assert (trunk.channels, trunk.tariff.price_per_minute, trunk.name) == (40, 34_200, XSS)
    assert operator.post("/operator/dialers/trunk-1", cps="fast").status_code == 400
    assert operator.post("/operator/dialers/trunk-1/enabled", enabled="0").status_code == 303
    assert not services.dialers.get("trunk-1").enabled
    assert operator.post("/operator/dialers/nope/enabled", enabled="1").status_code == 404
    assert operator.client.get("/operator/dialers/nope").status_code == 404
    assert claimed.call.id  # the live call held a channel throughout


def test_system_shows_the_queue_workers_and_database(
    operator: Browser, acme: Project, console_services: Services, voice_mp3: bytes
) -> None:
    services = console_services
    voice = services.voices.upload(acme, voice_mp3, name="v", filename="v.mp3").id
    services.calls.place(acme, ["09121234567", "09121234568"], voice, CallOptions(), batch=True)
    services.store.register_worker("w1", host="node-1", pid=4242, now=1000.0)
    text = operator.client.get("/operator/system").text
    assert "sqlite" in text and "answering" in text and "node-1" in text
    cells = re.findall(r'<td class="num">([^<]*)</td>', text)
    # one-time codes, single, batch, campaign, dialing, webhooks
    assert cells[:6] == ["0", "0", "2", "0", "0", "0"]


@pytest.mark.parametrize("language", ["en", "fa"])
def test_operator_pages_in_both_languages(operator: Browser, acme: Project, language: str) -> None:
    operator.client.cookies.set("vx_lang", language)
    for path in (
        "/operator/projects", f"/operator/projects/{acme.id}", "/operator/dialers",
        "/operator/dialers/sandbox", "/operator/system",
    ):  # fmt: skip
        text = operator.client.get(path).text
        assert f'<html lang="{language}" dir="{"rtl" if language == "fa" else "ltr"}">' in text
        if language == "fa":
            assert re.search(r"[0-9]{4}[-/][0-9]{2}", text) is None, path


def test_a_projects_default_calling_window_is_shown_and_set(
    operator: Browser, acme: Project, console_services: Services
) -> None:
    base = f"/operator/projects/{acme.id}"
    assert 'name="window" dir="ltr" value=""' in operator.client.get(base).text
    saved = operator.post(f"{base}/window", window="sat-wed 09:00-20:00 Asia/Tehran")
    assert saved.status_code == 303
    window = console_services.projects.window(console_services.projects.get(acme.id))
    assert str(window) == "sat-wed 09:00-20:00 Asia/Tehran"
    page = operator.client.get(base).text
    assert 'name="window" dir="ltr" value="sat-wed 09:00-20:00 Asia/Tehran"' in page
    refused = operator.post(f"{base}/window", window=f"sat-wed 09:00-20:00 {XSS}")
    assert refused.status_code == 400
    assert "window.timezone: unknown time zone" in refused.text and XSS not in refused.text
    assert operator.post(f"{base}/window", window=" ").status_code == 303
    assert console_services.projects.get(acme.id).window is None
    stolen = operator.client.post(f"{base}/window", data={"window": "sat 09:00-10:00 UTC"})
    assert stolen.status_code == 403  # no CSRF token
    assert console_services.projects.get(acme.id).window is None


@pytest.mark.parametrize("language", ["en", "fa"])
def test_public_holidays_listed_added_and_removed(
    operator: Browser, console_services: Services, language: str
) -> None:
    operator.client.cookies.set("vx_lang", language)
    assert operator.post("/operator/holidays/add", day="2027-03-21").status_code == 303
    assert operator.post("/operator/holidays/add", day="2027-03-20").status_code == 303
    assert [day.isoformat() for day, _ in console_services.holidays.list()] == [
        "2027-03-20",
        "2027-03-21",
    ]
    page = operator.client.get("/operator/system").text
    shown = re.findall(r"<tr>\s*<td>([^<]*)</td>", page)
    # Nowruz 1406 begins on 2027-03-21 (1405/12/29 the day before)
    assert shown == (
        ["۱۴۰۵/۱۲/۲۹", "۱۴۰۶/۰۱/۰۱"] if language == "fa" else ["2027-03-20", "2027-03-21"]
    )
    assert 'name="day" value="2027-03-21"' in page
    bad = operator.post("/operator/holidays/add", day=XSS)
    assert bad.status_code == 400 and "is not a date" in bad.text and XSS not in bad.text
    assert operator.post("/operator/holidays/remove", day="2027-03-20").status_code == 303
    missing = operator.post("/operator/holidays/remove", day="2027-03-20")
    assert missing.status_code == 400 and "2027-03-20 is not a holiday" in missing.text
    assert [day.isoformat() for day, _ in console_services.holidays.list()] == ["2027-03-21"]
    assert operator.post("/operator/holidays/rename", day="2027-03-21").status_code == 404
    stolen = operator.client.post("/operator/holidays/remove", data={"day": "2027-03-21"})
    assert stolen.status_code == 403
    assert len(console_services.holidays.list()) == 1


def test_only_the_operator_sets_windows_and_holidays(
    owner: Browser, acme: Project, console_services: Services
) -> None:
    answer = owner.post("/operator/holidays/add", day="2027-03-21")
    assert answer.status_code == 404 and console_services.holidays.list() == []
    answer = owner.post(f"/operator/projects/{acme.id}/window", window="sat 09:00-10:00 UTC")
    assert answer.status_code == 404 and console_services.projects.get(acme.id).window is None
