"""The campaign pages in-process: create from an uploaded list (what was skipped and why),
refusals naming the field, the live fragments, pause / resume / cancel behind CSRF, the
report CSV, another project's campaign answering 404, both languages."""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.console.conftest import Browser
from voxcall.calls.campaigns import CampaignFields
from voxcall.console.views.campaigns import BAD_KEYS
from voxcall.domain.interaction import Gather, MachineDetection
from voxcall.domain.projects import Project
from voxcall.runtime import Services

XSS = "<script>alert(1)</script>"
LIST = "phone\r\n09121234567\r\n0912 123 4567\r\nnot a number\r\n09351234567\r\n"


def _create(owner: Browser, voice: str, listing: str = LIST, **fields: str) -> str:
    answer = owner.client.post(
        "/campaigns",
        data={"csrf": owner.csrf, "name": "spring", "voice_id": voice, **fields},
        files={"file": ("list.csv", listing.encode(), "text/csv")},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(r"/campaigns/([0-9a-f]{32})", answer.headers["location"])
    assert found is not None
    return found.group(1)


@pytest.fixture
def voice(console_services: Services, acme: Project, voice_mp3: bytes) -> str:
    return console_services.voices.upload(acme, voice_mp3, name="v", filename="v.mp3").id


def test_a_campaign_from_an_uploaded_list(
    owner: Browser, acme: Project, console_services: Services, voice: str
) -> None:
    campaign_id = _create(
        owner,
        voice,
        name=XSS,
        window="sat-fri 00:00-24:00 Asia/Tehran",
        max_channels="3",
        calls_per_minute="60",
        retry_count="2",
        start_at="2030-01-01T09:30",
    )
    stored = console_services.campaigns.get(acme, campaign_id)
    assert (stored.total, stored.skips.duplicate, stored.skips.invalid) == (2, 1, 1)
    assert (stored.policy.max_channels, stored.policy.calls_per_minute) == (3, 60)
    assert stored.policy.retry_count == 2
    assert stored.policy.start_at == 1893477600  # 09:30 in Tehran: 06:00 UTC
    text = owner.client.get(f"/campaigns/{campaign_id}").text
    assert XSS not in text and "&lt;script&gt;" in text
    assert "SCHEDULED" in text and "sat-fri 00:00-24:00 Asia/Tehran" in text
    rejected = re.findall(r'<td class="num">(\d+)</td><td dir="ltr">([^<]*)</td>', text)
    assert rejected == [("3", "0912 123 4567"), ("4", "not a number")]
    listed = owner.client.get("/campaigns").text
    assert f'href="/campaigns/{campaign_id}"' in listed and 'hx-get="/campaigns/live"' in listed
    live = owner.client.get("/campaigns/live").text
    assert live.startswith('<div id="campaigns"') and "<html" not in live
    fragment = owner.client.get(f"/campaigns/{campaign_id}/live").text
    assert 'data-share="0.0"' in fragment and "hx-trigger" in fragment


def test_keys_and_answering_machines(
    owner: Browser, acme: Project, console_services: Services, voice: str
) -> None:
    fields = {"max_digits": "2", "gather_timeout": "8", "finish_on_key": "#", "repeat_key": "*"}
    campaign_id = _create(owner, voice, machine_detection="humansOnly", **fields)
    policy = console_services.campaigns.get(acme, campaign_id).policy
    assert (policy.gather, policy.machine_detection) == (
        Gather(2, 8.0, "#", "*"),
        MachineDetection.HUMANS_ONLY,
    )
    policy = console_services.campaigns.get(acme, _create(owner, voice)).policy
    assert (policy.gather, policy.machine_detection) == (None, MachineDetection.OFF)
    form = owner.client.get("/campaigns/new").text
    assert 'name="max_digits"' in form and 'value="humansOnly"' in form


@pytest.mark.parametrize(
    ("fields", "refusal"),
    [
        ({"name": " "}, "Name: 1 to 100 characters."),
        ({"window": "sat-wed 09:00-09:00 Asia/Tehran"}, "window.end: must differ from start"),
        ({"retry_count": "9"}, "Retries: 0 to 5, the interval 10 to 86400 s."),
        ({"max_channels": "0"}, "Channels: 1 to 100000; calls per minute: 1 to 1000000."),
        ({"start_at": "tomorrow"}, "Start and end: a date and a time."),
        ({"voice_id": "0" * 32}, "voiceId: no such voice"),
        ({"end_at": "2001-01-01T00:00"}, "endAt: must be later than startAt and now"),
        ({"max_digits": "17"}, BAD_KEYS),
        ({"max_digits": "2", "gather_timeout": "0"}, BAD_KEYS),
        ({"max_digits": "2", "finish_on_key": "#", "repeat_key": "#"}, BAD_KEYS),
        ({"max_digits": "2", "repeat_key": "x"}, BAD_KEYS),
        ({"machine_detection": "sometimes"}, "Answering machines: choose one of the options."),
    ],
)
def test_refusals_name_the_field_and_keep_the_form(
    owner: Browser, acme: Project, console_services: Services, voice: str,
    fields: dict[str, str], refusal: str,
) -> None:  # fmt: skip
    answer = owner.client.post(
        "/campaigns",
        data={"csrf": owner.csrf, "name": "kept", "voice_id": voice, **fields},
        files={"file": ("list.csv", LIST.encode(), "text/csv")},
    )
    assert answer.status_code == 400
    assert f'role="alert">{refusal}</p>' in answer.text
    assert console_services.campaigns.page(acme, limit=10, before=None) == []


def test_a_list_without_a_callable_number_or_without_a_file(
    owner: Browser, acme: Project, voice: str
) -> None:
    answer = owner.client.post(
        "/campaigns",
        data={"csrf": owner.csrf, "name": "empty", "voice_id": voice},
        files={"file": ("list.csv", b"phone\nabc\n", "text/csv")},
    )
    assert answer.status_code == 400 and "file: the list holds no number" in answer.text
    answer = owner.client.post("/campaigns", data={"csrf": owner.csrf, "name": "n"})
    assert answer.status_code == 400 and "Choose a file." in answer.text


def test_pause_resume_cancel_and_the_report(
    owner: Browser, acme: Project, console_services: Services, voice: str
) -> None:
    campaign_id = _create(owner, voice, start_at="2030-01-01T09:30")
    base = f"/campaigns/{campaign_id}"
    assert owner.client.post(f"{base}/pause", data={"csrf": "wrong"}).status_code == 403
    assert owner.post(f"{base}/pause").headers["location"] == f"{base}?done=paused"
    assert "Campaign paused." in owner.client.get(f"{base}?done=paused").text
    assert 'data-status="PAUSED"' in owner.client.get(f"{base}/live").text
    owner.post(f"{base}/resume")
    assert 'data-status="SCHEDULED"' in owner.client.get(f"{base}/live").text
    rows = list(csv.DictReader(io.StringIO(owner.client.get(f"{base}/report.csv").text)))
    assert [(r["phoneNumber"], r["status"]) for r in rows] == [
        ("09121234567", "WAITING"),
        ("09351234567", "WAITING"),
    ]
    owner.post(f"{base}/cancel")
    fragment = owner.client.get(f"{base}/live").text
    assert 'data-status="CANCELLED"' in fragment and "hx-trigger" not in fragment  # no more polls
    assert 'data-share="100.0"' in fragment
    rows = list(csv.DictReader(io.StringIO(owner.client.get(f"{base}/report.csv").text)))
    assert {r["status"] for r in rows} == {"EXPIRED"}
    assert owner.post(f"{base}/delete").status_code == 404


def test_another_projects_campaign_is_not_found(
    owner: Browser, acme: Project, console_services: Services, voice_mp3: bytes
) -> None:
    services = console_services
    other = services.projects.create("other", rate_limit=100, opening_milli=10**7)
    theirs_voice = services.voices.upload(other, voice_mp3, name="v", filename="v.mp3").id
    theirs = services.campaigns.create(
        other, CampaignFields(name="theirs", voice_id=theirs_voice), ["09121234567"]
    )
    for suffix in ("", "/live", "/report.csv"):
        mine = owner.client.get(f"/campaigns/{theirs.id}{suffix}")
        unknown = owner.client.get(f"/campaigns/{'0' * 32}{suffix}")
        assert mine.status_code == unknown.status_code == 404
        assert mine.text == unknown.text
    assert owner.post(f"/campaigns/{theirs.id}/cancel").status_code == 404
    assert services.campaigns.get(other, theirs.id).state.value == "active"
    assert owner.client.get("/campaigns?before=" + theirs.id).status_code == 404
    assert "theirs" not in owner.client.get("/campaigns").text


@pytest.mark.parametrize("language", ["en", "fa"])
def test_campaign_pages_in_both_languages(
    owner: Browser, acme: Project, voice: str, language: str
) -> None:
    campaign_id = _create(owner, voice)
    owner.client.cookies.set("vx_lang", language)
    for path in ("/campaigns", "/campaigns/new", f"/campaigns/{campaign_id}"):
        text = owner.client.get(path).text
        assert f'<html lang="{language}" dir="{"rtl" if language == "fa" else "ltr"}">' in text
        if language == "fa":
            assert re.search(r"[0-9]{4}[-/][0-9]{2}", text) is None, path
    if language == "fa":  # the list's two numbers, in Persian digits
        assert "(۰ / ۲)" in owner.client.get(f"/campaigns/{campaign_id}").text
