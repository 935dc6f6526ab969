"""Console fixtures: an app on a temporary SQLite store, a project with an owner and a
member, and browsers of the console (TestClient) signed in as each."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from voxcall.api.app import create_app
from voxcall.domain.projects import Project
from voxcall.domain.users import Role
from voxcall.runtime import Services

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


@dataclass
class Browser:
    """A TestClient with the console's cookies, and the token of its forms."""

    client: TestClient
    csrf: str = ""

    def sign_in(self, login: str, password: str = PASSWORD) -> int:
        token = csrf_of(self.client.get("/sign-in").text)
        answer = self.client.post(
            "/sign-in",
            data={"csrf": token, "login": login, "password": password},
            follow_redirects=False,
        )
        if answer.status_code == 303:
            self.csrf = csrf_of(self.client.get("/").text)
        return answer.status_code

    def post(self, path: str, **data: str) -> httpx.Response:
        return self.client.post(path, data={"csrf": self.csrf, **data}, follow_redirects=False)


@pytest.fixture
def console_services(services: Services) -> Services:
    # Cheap Argon2 parameters: these tests check the flow, not the cost.
    services.users.hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return services


@pytest.fixture
def acme(console_services: Services) -> Project:
    project = console_services.projects.create("acme", rate_limit=100, opening_milli=10**7)
    console_services.users.add_user(project.id, "owner@acme.test", Role.OWNER, PASSWORD)
    console_services.users.add_user(project.id, "member@acme.test", Role.MEMBER, PASSWORD)
    return project


@pytest.fixture
def app_client(console_services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(console_services, run_worker=False)) as client:
        yield client


@pytest.fixture
def owner(app_client: TestClient, acme: Project) -> Browser:
    browser = Browser(app_client)
    assert browser.sign_in("owner@acme.test") == 303
    return browser
