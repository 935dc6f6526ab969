"""Sign-in, sessions, CSRF, throttling and the security headers, in-process."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.console.conftest import PASSWORD, Browser, csrf_of
from voxcall.calls import sign_in_throttle as throttle
from voxcall.console.web import SECURITY_HEADERS
from voxcall.domain.projects import Project
from voxcall.runtime import Services


def test_pages_need_a_session(app_client: TestClient) -> None:
    for path in ("/", "/overview", "/calls", "/send", "/voices", "/developers", "/billing"):
        answer = app_client.get(path, follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (303, "/sign-in"), path


def test_sign_in_sets_a_strict_cookie_and_sign_out_ends_the_session(
    app_client: TestClient, acme: Project, console_services: Services
) -> None:
    browser = Browser(app_client)
    token = csrf_of(app_client.get("/sign-in").text)
    answer = app_client.post(
        "/sign-in",
        data={"csrf": token, "login": "owner@acme.test", "password": PASSWORD},
        follow_redirects=False,
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/")
    cookie = answer.headers.get_list("set-cookie")[0]
    assert cookie.startswith("vx_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    session_token = app_client.cookies["vx_session"]
    assert console_services.users.session(session_token) is not None
    assert app_client.get("/", follow_redirects=False).headers["location"] == "/overview"

    browser.csrf = csrf_of(app_client.get("/overview").text)
    assert browser.post("/sign-out").status_code == 303
    assert console_services.users.session(session_token) is None  # ended on the server
    app_client.cookies.set("vx_session", session_token)  # a copy of the cookie is no use
    assert app_client.get("/overview", follow_redirects=False).status_code == 303


def test_a_secure_cookie_over_https(console_services: Services, acme: Project) -> None:
    from voxcall.api.app import create_app

    with TestClient(create_app(console_services, run_worker=False), base_url="https://x") as c:
        token = csrf_of(c.get("/sign-in").text)
        answer = c.post(
            "/sign-in",
            data={"csrf": token, "login": "owner@acme.test", "password": PASSWORD},
            follow_redirects=False,
        )
        assert "Secure" in answer.headers.get_list("set-cookie")[0]


def test_wrong_passwords_and_forms_without_their_token(
    app_client: TestClient, acme: Project
) -> None:
    browser = Browser(app_client)
    assert browser.sign_in("owner@acme.test", "wrong password") == 401
    assert browser.sign_in("nobody@acme.test") == 401
    # The sign-in form's token must match its cookie.
    answer = app_client.post(
        "/sign-in",
        data={"csrf": "forged", "login": "owner@acme.test", "password": PASSWORD},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert browser.sign_in("owner@acme.test") == 303
    for path in ("/sign-out", "/send", "/voices/tts", "/developers/tokens", "/language"):
        refused = app_client.post(path, data={"csrf": "forged"}, follow_redirects=False)
        assert refused.status_code == 403, path
        assert app_client.post(path, data={}, follow_redirects=False).status_code == 403
    assert app_client.get("/overview").status_code == 200  # still signed in


def test_failed_sign_ins_are_slowed_per_account_and_per_address(
    app_client: TestClient, acme: Project
) -> None:
    browser = Browser(app_client)
    for _ in range(throttle.FREE_FAILURES):
        assert browser.sign_in("owner@acme.test", "wrong password") == 401
    assert browser.sign_in("owner@acme.test") == 429  # even the right password waits
    assert browser.sign_in("member@acme.test") == 429  # the same address waits too


@pytest.mark.parametrize("path", ["/sign-in", "/static/console.css", "/no-such-page"])
def test_security_headers_on_console_answers(app_client: TestClient, path: str) -> None:
    answer = app_client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers[name] == value
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy


def test_security_headers_on_pages_of_a_signed_in_user(owner: Browser) -> None:
    for path in ("/overview", "/calls", "/send", "/voices", "/developers", "/billing"):
        answer = owner.client.get(path)
        assert answer.status_code == 200
        assert answer.headers["x-frame-options"] == "DENY", path
        assert "<script>" not in answer.text and " style=" not in answer.text  # no inline


def test_the_api_keeps_its_own_headers(app_client: TestClient) -> None:
    assert "content-security-policy" not in app_client.get("/health").headers
    assert "content-security-policy" not in app_client.get("/docs").headers
