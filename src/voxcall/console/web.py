"""What every console page shares: the templates (autoescaped, one environment per
language), the security headers, and the refusals that end a request as a page."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voxcall.billing.money import toman
from voxcall.console import i18n

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
# Paths that are the API's: its answers keep their own headers (the docs page has inline
# script). Everything else on the port is the console's.
API_PATHS = ("/api/", "/openapi.json", "/docs", "/health")
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
}


class SecurityHeaders:
    """Set the console's security headers on every answer outside the API's paths."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.raw = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(API_PATHS):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.raw]
            await send(message)

        await self.app(scope, receive, with_headers)


class PageNotFound(Exception):
    """No such page for this viewer: another project's id answers this too."""


class SignInRequired(Exception):
    """No live session: the browser goes to the sign-in page."""


@functools.cache
def environment(language: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: i18n.gettext(language, message),
        lambda singular, plural, n: i18n.gettext(language, singular if n == 1 else plural),
        newstyle=True,
    )
    # Translates text chosen at run time (a status, a refusal); unlike `_`, what it returns
    # is escaped like any value, since such text may quote what a user typed.
    env.filters["t"] = functools.partial(i18n.gettext, language)
    env.filters["num"] = functools.partial(i18n.number, language)
    env.filters["toman"] = lambda milli: i18n.number(language, toman(milli), 0)
    env.filters["percent"] = functools.partial(i18n.percent, language)
    env.filters["digits"] = functools.partial(i18n.digits, language)
    env.globals["language"] = language
    env.globals["direction"] = "rtl" if language in i18n.RTL else "ltr"
    return env


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
) -> HTMLResponse:
    """The page `template` in the request's language, for `context`'s viewer (None: nobody
    signed in)."""
    language = language_of(request)
    zone: ZoneInfo = request.app.state.console_zone
    env = environment(language)
    defaults: dict[str, Any] = {
        "viewer": None,
        "csrf": "",
        "project": None,
        "nav": "",
        "done": None,
    }
    page = env.get_template(template).render(
        request=request,
        zone=zone,
        when=lambda epoch, seconds=False: i18n.when(language, epoch, zone, seconds=seconds),
        day=lambda epoch: i18n.day(language, epoch, zone),
        calendar_day=functools.partial(i18n.calendar_day, language),
        **{**defaults, **context},
    )
    return HTMLResponse(page, status_code=status)


LANGUAGE_COOKIE = "vx_lang"


def language_of(request: Request) -> str:
    """The language the visitor chose (a cookie), else the browser's first choice."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in i18n.LANGUAGES:
        return chosen
    return i18n.negotiate(request.headers.get("accept-language"))
