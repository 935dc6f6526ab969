"""Who is looking at a console page: the session cookie, its CSRF token, sign-in (slowed
after repeated failures), sign-out and the choice of language."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from voxcall.api.deps import ServicesDep
from voxcall.calls.errors import NotFound
from voxcall.console import i18n
from voxcall.console.web import (
    LANGUAGE_COOKIE,
    PageNotFound,
    SignInRequired,
    language_of,
    render,
)
from voxcall.domain.projects import Project
from voxcall.domain.users import ProjectUser, Session

SESSION_COOKIE = "vx_session"
ANONYMOUS_CSRF_COOKIE = "vx_csrf"  # the sign-in form's token, before there is a session
YEAR = 365 * 24 * 3600

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class Viewer:
    """A signed-in session; `project` is set for a project user."""

    session: Session
    project: Project | None

    @property
    def csrf(self) -> str:
        return self.session.csrf_token

    @property
    def user(self) -> ProjectUser | None:
        return self.session.user


@dataclass(frozen=True, slots=True)
class Member:
    """A project user with their project, as it is now."""

    user: ProjectUser
    project: Project
    viewer: Viewer


def set_cookie(request: Request, response: Response, name: str, value: str, **kw: int) -> None:
    """Every console cookie: HttpOnly, SameSite=Lax, Secure when served over HTTPS."""
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
        **kw,  # type: ignore[arg-type]
    )


def _viewer(request: Request, services: ServicesDep) -> Viewer:
    token = request.cookies.get(SESSION_COOKIE)
    session = services.users.session(token) if token else None
    if session is None:
        raise SignInRequired
    project = None
    if session.user is not None:
        try:
            project = services.projects.get(session.user.project_id)
        except NotFound:
            raise SignInRequired from None
    return Viewer(session, project)


ViewerDep = Annotated[Viewer, Depends(_viewer)]


def _member(viewer: ViewerDep) -> Member:
    if viewer.user is None or viewer.project is None:
        raise PageNotFound  # the operator's pages are elsewhere
    return Member(viewer.user, viewer.project, viewer)


MemberDep = Annotated[Member, Depends(_member)]


def _owner(member: MemberDep) -> Member:
    if not member.user.is_owner:
        raise PageNotFound
    return member


OwnerDep = Annotated[Member, Depends(_owner)]


def _operator(viewer: ViewerDep) -> Viewer:
    if viewer.session.operator is None:
        raise PageNotFound  # a project user's pages are elsewhere
    return viewer


OperatorDep = Annotated[Viewer, Depends(_operator)]


class CsrfRefused(Exception):
    """A form that changes something came without the token of its session."""


async def checked_form(request: Request, expected: str) -> FormData:
    """The posted form, if it carries the token `expected`; CsrfRefused otherwise."""
    form = await request.form(max_part_size=11 * 1024 * 1024)
    given = form.get("csrf")
    if not isinstance(given, str) or not secrets.compare_digest(given, expected):
        raise CsrfRefused
    return form


def _anonymous_csrf(request: Request) -> str:
    return request.cookies.get(ANONYMOUS_CSRF_COOKIE) or secrets.token_urlsafe(32)


def _sign_in_page(
    request: Request, csrf: str, *, error: str | None = None, status: int = 200
) -> Response:
    response = render(
        request,
        "sign_in.html",
        {"viewer": None, "csrf": csrf, "error": error},
        status=status,
    )
    set_cookie(request, response, ANONYMOUS_CSRF_COOKIE, csrf)
    return response


@router.get("/sign-in")
async def sign_in_form(request: Request) -> Response:
    return _sign_in_page(request, _anonymous_csrf(request))


@router.post("/sign-in")
async def sign_in(request: Request, services: ServicesDep) -> Response:
    csrf = request.cookies.get(ANONYMOUS_CSRF_COOKIE, "")
    form = await checked_form(request, csrf) if csrf else None
    if form is None:
        raise CsrfRefused
    login, password = str(form.get("login", "")), str(form.get("password", ""))
    throttle = services.sign_ins
    address = request.client.host if request.client else "-"
    wait = await run_in_threadpool(throttle.wait, login, address)
    language = language_of(request)
    if wait > 0:
        message = i18n.gettext(language, "Too many failed sign-ins. Try again in {seconds} s.")
        seconds = i18n.number(language, max(1, round(wait)))
        return _sign_in_page(request, csrf, error=message.format(seconds=seconds), status=429)
    signed_in = await run_in_threadpool(services.users.sign_in, login, password)
    if signed_in is None:
        await run_in_threadpool(throttle.failed, login, address)
        error = i18n.gettext(language, "Wrong username, email or password.")
        return _sign_in_page(request, csrf, error=error, status=401)
    await run_in_threadpool(throttle.succeeded, login)
    response = RedirectResponse("/", status_code=303)
    set_cookie(request, response, SESSION_COOKIE, signed_in.token)
    response.delete_cookie(ANONYMOUS_CSRF_COOKIE, path="/")
    return response


@router.post("/sign-out")
async def sign_out(request: Request, viewer: ViewerDep, services: ServicesDep) -> Response:
    await checked_form(request, viewer.csrf)
    token = request.cookies.get(SESSION_COOKIE, "")
    await run_in_threadpool(services.users.sign_out, token)
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/language")
async def choose_language(request: Request, services: ServicesDep) -> Response:
    """Switch the language; signed in or not, the form carries the page's CSRF token."""
    form = await request.form()
    token = request.cookies.get(SESSION_COOKIE)
    session = await run_in_threadpool(services.users.session, token) if token else None
    expected = session.csrf_token if session else request.cookies.get(ANONYMOUS_CSRF_COOKIE, "")
    given = form.get("csrf")
    if not expected or not isinstance(given, str) or not secrets.compare_digest(given, expected):
        raise CsrfRefused
    language = str(form.get("language", ""))
    back = str(form.get("next", "/"))
    if not back.startswith("/") or back.startswith("//"):
        back = "/"
    response = RedirectResponse(back, status_code=303)
    if language in i18n.LANGUAGES:
        set_cookie(request, response, LANGUAGE_COOKIE, language, max_age=YEAR)
    return response
