"""The do-not-call pages in-process: a project user's list (search, add typed or uploaded,
remove, keyset pages) stops that project's calls only; the operator's list, at its own page,
stops every project's; refusals are shown on the page; only the operator reaches theirs."""

from __future__ import annotations

import pytest

from tests.console.conftest import Browser
from tests.console.test_operator import operator  # noqa: F401 (a fixture)
from voxcall.calls.errors import DoNotCall
from voxcall.calls.service import CallOptions
from voxcall.domain.projects import Project
from voxcall.runtime import Services


def _voice(services: Services, project: Project, mp3: bytes) -> str:
    return services.voices.upload(project, mp3, name="v", filename="v.mp3").id


def test_a_project_users_list(
    owner: Browser, acme: Project, console_services: Services, voice_mp3: bytes
) -> None:
    services = console_services
    added = owner.post("/dnc/add", numbers="09121234567, 0912 123 4567\nnonsense")
    assert added.status_code == 200
    assert "Added: 1 · Already listed: 0 · Invalid: 1" in added.text  # one number, twice
    again = owner.post("/dnc/add", numbers="+989121234567")
    assert "Added: 0 · Already listed: 1 · Invalid: 0" in again.text
    upload = owner.client.post(
        "/dnc/upload",
        data={"csrf": owner.csrf},
        files={"file": ("l.csv", "mobile\n+989351234567\n۰۹۱۹۱۲۳۴۵۶۷\n".encode(), "text/csv")},
    )
    assert "Added: 2 · Already listed: 0 · Invalid: 0" in upload.text
    page = owner.client.get("/dnc").text
    assert page.index("09121234567") < page.index("09191234567") < page.index("09351234567")
    found = owner.client.get("/dnc?number=%2B989121234567").text
    assert 'data-listed="true"' in found
    assert 'data-listed="false"' in owner.client.get("/dnc?number=09121111111").text
    refused = owner.client.get("/dnc?number=abc")
    assert refused.status_code == 400 and "phoneNumber:" in refused.text

    voice = _voice(services, acme, voice_mp3)
    with pytest.raises(DoNotCall):
        services.calls.place(acme, ["09121234567"], voice, CallOptions())
    other = services.projects.create("other", rate_limit=100, opening_milli=10**7)
    services.calls.place(other, ["09121234567"], _voice(services, other, voice_mp3), CallOptions())
    assert services.calls.dnc.page(other, after=None, limit=10) == []

    assert owner.post("/dnc/remove", number="09121234567").status_code == 200
    assert "09121234567" not in owner.client.get("/dnc").text
    again = owner.post("/dnc/remove", number="09121234567")
    assert again.status_code == 400 and "phoneNumber: not listed" in again.text
    assert owner.post("/dnc/add", numbers=" ").status_code == 400
    assert owner.post("/dnc/purge").status_code == 404
    assert owner.client.post("/dnc/add", data={"numbers": "09121234567"}).status_code == 403
    assert owner.client.get("/operator/dnc").status_code == 404


def test_pages_of_a_long_list(owner: Browser, acme: Project, console_services: Services) -> None:
    numbers = [f"0912{i:07d}" for i in range(1, 61)]
    console_services.calls.dnc.add(acme, numbers)
    first = owner.client.get("/dnc").text
    assert numbers[49] in first and numbers[50] not in first
    assert 'href="/dnc?after=09120000050"' in first
    rest = owner.client.get("/dnc?after=09120000050").text
    assert numbers[50] in rest and numbers[59] in rest and numbers[49] not in rest


def test_the_operators_list_stops_every_project(
    operator: Browser,  # noqa: F811
    acme: Project,
    console_services: Services,
    voice_mp3: bytes,
) -> None:
    services = console_services
    assert "Added: 1" in operator.post("/operator/dnc/add", numbers="09121234567").text
    assert "09121234567" in operator.client.get("/operator/dnc").text
    assert services.calls.dnc.page(acme, after=None, limit=10) == []  # not acme's own list
    with pytest.raises(DoNotCall):
        services.calls.place(
            acme, ["09121234567"], _voice(services, acme, voice_mp3), CallOptions()
        )
    assert operator.client.get("/dnc").status_code == 404  # a project user's page
