"""The Users page: an owner lists, adds, re-roles and removes the project's users; a member
and another project's user ids find nothing (404); every change needs the form's token; the
project always keeps an owner."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.console.conftest import PASSWORD, Browser
from voxcall.domain.projects import Project
from voxcall.domain.users import ProjectUser, Role
from voxcall.runtime import Services

XSS = "<script>alert(1)</script>"


def _user(services: Services, project: Project, email: str) -> ProjectUser:
    return next(u for u in services.users.users(project.id) if u.email == email)


def test_an_owner_adds_re_roles_and_removes_users(
    owner: Browser, acme: Project, console_services: Services
) -> None:
    services = console_services
    listed = owner.client.get("/users")
    assert listed.status_code == 200
    assert "member@acme.test" in listed.text and "owner@acme.test" in listed.text
    added = owner.post("/users", email="New@Acme.test", role="member", password=PASSWORD)
    assert added.status_code == 303 and added.headers["location"] == "/users?done=user-added"
    new = _user(services, acme, "new@acme.test")
    assert new.role is Role.MEMBER
    assert Browser(TestClient(owner.client.app)).sign_in("new@acme.test") == 303

    assert owner.post(f"/users/{new.id}/role", role="owner").status_code == 303
    assert _user(services, acme, "new@acme.test").role is Role.OWNER
    page = owner.client.get("/users").text
    row = re.search(r"<tr>\s*<td dir=\"ltr\">new@acme.test</td>.*?</tr>", page, re.S)
    assert row is not None and '<option value="owner" selected>' in row.group(0)

    assert owner.post(f"/users/{new.id}/remove").status_code == 303
    assert [u.email for u in services.users.users(acme.id)] == [
        "member@acme.test",
        "owner@acme.test",
    ]
    refused = owner.post("/users", email="short@acme.test", role="member", password="short")
    assert refused.status_code == 400 and "at least 8 characters" in refused.text
    refused = owner.post(f"/users/{new.id}/role", role="admin")
    assert refused.status_code == 400


def _last_seen_cell(html: str, email: str) -> str:
    row = re.search(rf'<tr>\s*<td dir="ltr">{re.escape(email)}</td>.*?</tr>', html, re.S)
    assert row is not None
    cells = re.findall(r"<td>([^<]*)</td>", row.group(0))
    return cells[-1].strip()


def test_last_seen_outlives_the_session(
    owner: Browser, acme: Project, console_services: Services
) -> None:
    """The owner's list and the operator's project page show when a user was last seen,
    kept on the user: a member who never signed in shows none, one who signed out keeps it."""
    assert _last_seen_cell(owner.client.get("/users").text, "member@acme.test") == "-"
    browser = Browser(TestClient(owner.client.app))
    assert browser.sign_in("member@acme.test") == 303
    assert browser.post("/sign-out").status_code == 303
    seen = _user(console_services, acme, "member@acme.test").last_seen_at
    assert seen is not None
    shown = _last_seen_cell(owner.client.get("/users").text, "member@acme.test")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", shown)
    console_services.users.add_operator("root", PASSWORD)
    operator = Browser(TestClient(owner.client.app))
    assert operator.sign_in("root") == 303
    project_page = operator.client.get(f"/operator/projects/{acme.id}").text
    row = re.search(r'<td dir="ltr">member@acme.test</td>.*?</tr>', project_page, re.S)
    assert row is not None and shown in row.group(0)


def test_the_last_owner_stays(owner: Browser, acme: Project, console_services: Services) -> None:
    services = console_services
    me = _user(services, acme, "owner@acme.test")
    for path, data in (
        (f"/users/{me.id}/role", {"role": "member"}),
        (f"/users/{me.id}/remove", {}),
    ):
        refused = owner.post(path, **data)
        assert refused.status_code == 400
        assert "A project keeps at least one owner." in refused.text
    assert _user(services, acme, "owner@acme.test").role is Role.OWNER
    # with a second owner, the first may step down to member (and then sees no Users page)
    second = _user(services, acme, "member@acme.test")
    assert owner.post(f"/users/{second.id}/role", role="owner").status_code == 303
    assert owner.post(f"/users/{me.id}/role", role="member").status_code == 303
    assert owner.client.get("/users").status_code == 404


def test_members_and_other_projects_users_are_not_found(
    owner: Browser, acme: Project, console_services: Services
) -> None:
    services = console_services
    member = Browser(TestClient(owner.client.app))
    assert member.sign_in("member@acme.test") == 303
    assert member.client.get("/users").status_code == 404
    assert 'href="/users"' not in member.client.get("/overview").text
    assert (
        member.post("/users", email="x@acme.test", role="owner", password=PASSWORD).status_code
        == 404
    )
    other = services.projects.create("other", rate_limit=100)
    theirs = services.users.add_user(other.id, "theirs@other.test", Role.OWNER, PASSWORD)
    for path, data in (
        (f"/users/{theirs.id}/role", {"role": "member"}),
        (f"/users/{theirs.id}/remove", {}),
    ):
        assert owner.post(path, **data).status_code == 404
        assert owner.post(path.replace(theirs.id, "0" * 32), **data).status_code == 404
    assert _user(services, other, "theirs@other.test").role is Role.OWNER
    assert "theirs@other.test" not in owner.client.get("/users").text


@pytest.mark.parametrize("path", ["/users", "/users/{id}/role", "/users/{id}/remove"])
def test_changes_need_the_forms_token(
    owner: Browser, acme: Project, console_services: Services, path: str
) -> None:
    member = _user(console_services, acme, "member@acme.test")
    data = {"email": "x@acme.test", "role": "owner", "password": PASSWORD}
    refused = owner.client.post(path.format(id=member.id), data=data, follow_redirects=False)
    assert refused.status_code == 403
    forged = owner.client.post(
        path.format(id=member.id), data={**data, "csrf": "forged"}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert [(u.email, u.role) for u in console_services.users.users(acme.id)] == [
        ("member@acme.test", Role.MEMBER),
        ("owner@acme.test", Role.OWNER),
    ]


def test_emails_are_escaped(owner: Browser, acme: Project) -> None:
    owner.post("/users", email=f"{XSS}@acme.test", role="member", password=PASSWORD)
    page = owner.client.get("/users").text
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;@acme.test" in page
