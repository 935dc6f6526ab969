"""The project user's pages in-process: what they show, escaping, another project's ids
(404 like unknown ones), owners only where it says so, keyset pages and the CSV exports."""

from __future__ import annotations

import csv
import io
import re
import time
from zoneinfo import ZoneInfo

import pytest

from tests.console.conftest import PASSWORD, Browser
from tests.webhooks.outbox import final_calls
from voxcall.calls.dialers import new_dialer
from voxcall.calls.service import CallOptions
from voxcall.console import i18n
from voxcall.domain.calls import CallStatus
from voxcall.domain.projects import Project
from voxcall.domain.users import Role
from voxcall.domain.webhooks import (
    KEPT_FIRST_REQUESTS,
    KEPT_LAST_REQUESTS,
    WebhookDelivery,
    WebhookOutcome,
)
from voxcall.runtime import Services
from voxcall.tokens import token_prefix

XSS = "<script>alert(1)</script>"


def _voice(services: Services, project: Project, mp3: bytes, name: str = "welcome") -> str:
    return services.voices.upload(project, mp3, name=name, filename="v.mp3").id


def test_user_text_is_escaped_everywhere(
    owner: Browser, acme: Project, console_services: Services, voice_mp3: bytes
) -> None:
    services = console_services
    voice = _voice(services, acme, voice_mp3, name=XSS)
    services.projects.set_webhook(acme, f"https://example.com/{XSS}")
    services.users.add_user(acme.id, f"{XSS}@acme.test", Role.MEMBER, PASSWORD)
    call = services.calls.place(acme, ["09121234567"], voice, CallOptions())[0]
    services.store.credit(acme.id, 1000, kind="adjustment", note=XSS)
    evil = services.projects.create(XSS, rate_limit=1)
    services.users.add_operator(XSS, PASSWORD)
    pages = [
        "/overview", "/calls", f"/calls/{call.id}", "/send", "/voices", "/developers",
        "/billing", f"/calls?number={XSS}",
    ]  # fmt: skip
    for path in pages:
        text = owner.client.get(path).text
        assert XSS not in text and "<script>alert" not in text, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in owner.client.get("/voices").text
    operator = Browser(owner.client.__class__(owner.client.app))
    assert operator.sign_in(XSS) == 303
    text = operator.client.get("/operator").text
    assert evil.name not in text and "&lt;script&gt;" in text


def test_another_projects_ids_are_not_found_like_unknown_ones(
    owner: Browser, acme: Project, console_services: Services, voice_mp3: bytes
) -> None:
    services = console_services
    other = services.projects.create("other", rate_limit=100, opening_milli=10**7)
    voice = _voice(services, other, voice_mp3)
    call = services.calls.place(other, ["09121234567"], voice, CallOptions())[0]
    unknown = "0" * 32
    for path in (f"/calls/{call.id}", f"/voices/{voice}/audio"):
        theirs = owner.client.get(path)
        nothing = owner.client.get(path.replace(call.id, unknown).replace(voice, unknown))
        assert theirs.status_code == nothing.status_code == 404, path
        assert theirs.text == nothing.text
    for path in (f"/voices/{voice}/delete", f"/developers/deliveries/{unknown}/resend"):
        assert owner.post(path).status_code == 404
    assert services.voices.get(other, voice).id == voice  # not deleted
    assert call.id not in owner.client.get(f"/calls?campaign={call.campaign_id or ''}").text
    rows = list(csv.reader(io.StringIO(owner.client.get("/calls.csv").text)))
    assert rows == [rows[0]]  # only the header: acme has no calls


def test_members_do_not_see_the_developers_page(
    owner: Browser, acme: Project, console_services: Services
) -> None:
    member = Browser(owner.client.__class__(owner.client.app))
    assert member.sign_in("member@acme.test") == 303
    assert 'href="/developers"' not in member.client.get("/overview").text
    assert member.client.get("/developers").status_code == 404
    assert member.post("/developers/tokens").status_code == 404
    assert 'href="/developers"' in owner.client.get("/overview").text


def test_developers_show_a_new_token_once_and_revoke_it(
    owner: Browser, acme: Project, console_services: Services
) -> None:
    shown = owner.post("/developers/tokens")
    token = re.search(r'id="new-token">(vx_[^<]+)<', shown.text)
    assert token is not None
    assert console_services.store.project_for_token(_hash(token.group(1))) is not None
    page = owner.client.get("/developers").text
    assert token.group(1) not in page
    # the project's first token may sort either side of it (same second): revoke this one
    revoke = f"/developers/tokens/{token_prefix(token.group(1))}/revoke"
    assert revoke in page
    assert owner.post(revoke).status_code == 303
    assert console_services.store.project_for_token(_hash(token.group(1))) is None
    secret = owner.post("/developers/webhook", url="https://hooks.example.com/x")
    assert re.search(r'id="new-secret">[^<]{16,}<', secret.text)
    assert console_services.projects.get(acme.id).webhook_url == "https://hooks.example.com/x"


def _hash(token: str) -> str:
    from voxcall.tokens import hash_token

    return hash_token(token)


def _leased_event(services: Services, project: Project) -> tuple[str, WebhookDelivery]:
    """A final call of `project` and its webhook event, leased for delivery."""
    store = services.store
    store.add_dialer(new_dialer("d1", "sandbox", "D1", {}, channels=10, cps=10.0))
    services.projects.set_webhook(project, "https://hooks.example.com/x")
    (call,) = final_calls(store, project, [CallStatus.NORMAL])
    (event,) = store.lease_webhooks(time.time(), limit=1, lease=30.0, per_project=1)
    return call, event


@pytest.mark.parametrize("language", ["en", "fa"])
def test_a_calls_page_lists_its_webhook_requests(
    owner: Browser, acme: Project, console_services: Services, language: str
) -> None:
    store = console_services.store
    call, event = _leased_event(console_services, acme)
    sent = 1_780_000_000.0  # 2026-05-28 20:26:40 UTC, 1405/03/07 in Tehran
    store.webhook_outcomes(
        [WebhookOutcome(event.id, sent, sent + 5, 5.0, None, "connection failed: refused", sent)]
    )
    (event,) = store.lease_webhooks(time.time(), limit=1, lease=30.0, per_project=1)
    store.webhook_outcomes([WebhookOutcome(event.id, sent + 60, sent + 61, 0.0423, 503, None, 0)])
    owner.client.cookies.set("vx_lang", language)

    page = owner.client.get(f"/calls/{call}").text
    requests = page[page.index("<h3>") :]
    rows = re.findall(r"<tr>\s*<td>(.*?)</td><td class=\"num\">(.*?)</td>", requests)
    if language == "en":
        assert rows == [("2026-05-28 23:56:40", "-"), ("2026-05-28 23:57:40", "503")]
        assert '<td class="num">5,000</td><td dir="ltr">connection failed: refused</td>' in page
        assert '<td class="num">42</td><td dir="ltr"></td>' in page
    else:
        assert rows == [("۱۴۰۵/۰۳/۰۷ ۲۳:۵۶:۴۰", "-"), ("۱۴۰۵/۰۳/۰۷ ۲۳:۵۷:۴۰", "۵۰۳")]
    # The developers page: the last request's status code beside its error.
    developers = owner.client.get("/developers").text
    assert ("503" if language == "en" else "۵۰۳") in developers and "HTTP 503" in developers


@pytest.mark.parametrize("language", ["en", "fa"])
def test_a_calls_page_says_how_many_webhook_requests_were_not_kept(
    owner: Browser, acme: Project, console_services: Services, language: str
) -> None:
    store = console_services.store
    call, event = _leased_event(console_services, acme)
    kept = KEPT_FIRST_REQUESTS + KEPT_LAST_REQUESTS
    owner.client.cookies.set("vx_lang", language)

    def record(first: int, count: int) -> list[str]:
        """Record `count` failed requests, 1 ms, 2 ms..., and the rows of the page's table."""
        store.webhook_outcomes(
            [
                WebhookOutcome(event.id, n, n, (n + 1) / 1000, 503, retry_at=n + 1)
                for n in range(first, first + count)
            ]
        )
        page = owner.client.get(f"/calls/{call}").text
        return re.findall(r"<tr>\s*<td(?: colspan=\"4\")?>(.*?)</td>", page[page.index("<h3>") :])

    assert record(0, kept) == [_sent(language, n) for n in range(kept)]
    rows = record(kept, 1)
    gap = (
        "… 1 earlier request not kept"
        if language == "en"
        else "… یک درخواست پیشین نگه داشته نشده است"
    )
    assert rows == [
        *(_sent(language, n) for n in range(KEPT_FIRST_REQUESTS)),
        gap,
        *(_sent(language, n) for n in range(KEPT_FIRST_REQUESTS + 1, kept + 1)),
    ]
    rows = record(kept + 1, 86)
    gap = (
        "… 87 earlier requests not kept"
        if language == "en"
        else "… ۸۷ درخواست پیشین نگه داشته نشده است"
    )
    assert rows[KEPT_FIRST_REQUESTS] == gap and len(rows) == kept + 1
    assert rows[-1] == _sent(language, kept + 86)


def _sent(language: str, epoch: int) -> str:
    """When a request was sent, as the call page writes it (in the project's zone)."""
    return i18n.when(language, epoch, ZoneInfo("Asia/Tehran"), seconds=True)


def test_send_places_calls_and_refuses_what_the_api_refuses(
    owner: Browser, acme: Project, console_services: Services, voice_mp3: bytes
) -> None:
    voice = _voice(console_services, acme, voice_mp3)
    one = owner.post("/send", numbers="09121234567", voice_id=voice, retry_count="2")
    location = one.headers["location"]
    call = console_services.calls.status(acme, location.removeprefix("/calls/"))
    assert (call.national_number, call.retry_count) == ("09121234567", 2)
    many = owner.post("/send", numbers="09121234567\n09351234567, 09131234567", voice_id=voice)
    campaign = many.headers["location"].removeprefix("/calls?campaign=")
    assert len(console_services.calls.campaign(acme, campaign)) == 3
    too_many = "\n".join(f"0912{i:07d}" for i in range(101))
    refused = owner.post("/send", numbers=too_many, voice_id=voice)
    assert refused.status_code == 400
    assert "At most 100 numbers at once." in refused.text
    bad = owner.post("/send", numbers="12", voice_id=voice)
    assert bad.status_code == 400 and "phoneNumber" in bad.text


def test_calls_are_paged_by_key_and_exported_as_filtered(
    owner: Browser, acme: Project, console_services: Services, voice_mp3: bytes
) -> None:
    voice = _voice(console_services, acme, voice_mp3)
    numbers = [f"0912{i:07d}" for i in range(120)]
    console_services.calls.place(acme, numbers[:100], voice, CallOptions(), batch=True)
    console_services.calls.place(acme, numbers[100:], voice, CallOptions(), batch=True)
    seen: list[str] = []
    path: str | None = "/calls"
    while path:
        page = owner.client.get(path).text
        seen += re.findall(r'<a href="/calls/(\w{32})">', page)
        after = re.search(r'href="(/calls\?[^"]*after=[^"]+)" rel="next"', page)
        path = after.group(1).replace("&amp;", "&") if after else None
    assert len(seen) == len(set(seen)) == 120
    rows = list(csv.DictReader(io.StringIO(owner.client.get("/calls.csv").text)))
    assert [r["id"] for r in rows] == seen  # newest first, like the pages
    for form in (numbers[7], "+98" + numbers[7][1:], numbers[7][1:]):  # any form finds it
        one = owner.client.get("/calls.csv", params={"number": form}).text
        assert [r["phoneNumber"] for r in csv.DictReader(io.StringIO(one))] == [numbers[7]]


def test_billing_shows_the_running_balance(
    owner: Browser, acme: Project, console_services: Services
) -> None:
    console_services.accounts.top_up(acme, 2_500_000, note="gift")
    page = owner.client.get("/billing").text
    assert "12,500" in page and "gift" in page
    rows = list(csv.DictReader(io.StringIO(owner.client.get("/billing.csv").text)))
    assert [(r["kind"], r["balance"]) for r in rows] == [("topup", "12500.0"), ("topup", "10000.0")]


@pytest.mark.parametrize("language", ["en", "fa"])
def test_every_page_in_both_languages(
    owner: Browser, acme: Project, console_services: Services, voice_mp3: bytes, language: str
) -> None:
    voice = _voice(console_services, acme, voice_mp3)
    call = console_services.calls.place(acme, ["09121234567"], voice, CallOptions())[0]
    owner.client.cookies.set("vx_lang", language)
    for path in (
        "/overview",
        "/calls",
        f"/calls/{call.id}",
        "/send",
        "/voices",
        "/developers",
        "/billing",
    ):
        text = owner.client.get(path).text
        assert f'<html lang="{language}" dir="{"rtl" if language == "fa" else "ltr"}">' in text
        if language == "fa":
            assert re.search(r"[0-9]{4}[-/][0-9]{2}", text) is None, path  # no Latin dates
    owner.client.cookies.set("vx_lang", "fa")
    assert "۰۹۱۲۱۲۳۴۵۶۷" in owner.client.get("/calls").text
    assert '<td class="num">۱</td>' in owner.client.get("/overview").text  # one WAITING
    assert "۱۰٬۰۰۰" in owner.client.get("/billing").text  # the opening balance
    jalali = re.search(r"۱۴[۰-۹]{2}/[۰-۹]{2}/[۰-۹]{2}", owner.client.get(f"/calls/{call.id}").text)
    assert jalali is not None  # a Solar Hijri year (14xx), Persian digits


def test_accept_language_then_the_switch(owner: Browser) -> None:
    owner.client.headers["accept-language"] = "fa-IR,fa;q=0.9,en;q=0.5"
    assert 'dir="rtl"' in owner.client.get("/overview").text
    assert owner.post("/language", language="en", next="/calls").headers["location"] == "/calls"
    assert 'dir="ltr"' in owner.client.get("/overview").text
    assert owner.post("/language", language="fa", next="//evil.example").headers["location"] == "/"


def test_a_voice_larger_than_a_json_body_uploads(
    owner: Browser, acme: Project, console_services: Services
) -> None:
    from tests.audio.samples import encode, tone

    big = encode(tone(40.0, 440.0, rate=44100, channels=1), 44100, 1, "wav")
    assert len(big) > 2 * 1024 * 1024  # over the JSON limit, under the voice limit
    answer = owner.client.post(
        "/voices",
        data={"csrf": owner.csrf, "name": "long"},
        files={"file": ("long.wav", big, "audio/wav")},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert [v.name for v in console_services.voices.list(acme)] == ["long"]
