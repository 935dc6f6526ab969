"""The console's pages, one module per area; `page` renders one for a project user."""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from voxcall.calls.errors import NotFound
from voxcall.console.auth import Member
from voxcall.console.web import PageNotFound, render
from voxcall.domain.voices import Voice

# What a redirect after a change says on the page it lands on (?done=KEY).
DONE = {
    "deleted": "Deleted.",
    "uploaded": "Voice saved.",
    "revoked": "Token revoked.",
    "resent": "Delivery queued again.",
    "webhook-removed": "Webhook removed.",
    "paused": "Campaign paused.",
    "resumed": "Campaign resumed.",
    "cancelled": "Campaign cancelled.",
    "saved": "Saved.",
    "topped-up": "Balance topped up.",
    "user-added": "User added.",
    "user-removed": "User removed.",
}


def page(request: Request, template: str, member: Member, nav: str, **context: Any) -> HTMLResponse:
    done = DONE.get(request.query_params.get("done", ""))
    return render(
        request,
        template,
        {
            "viewer": member.viewer,
            "member": member,
            "project": member.project,
            "nav": nav,
            "csrf": member.viewer.csrf,
            "done": done,
            **context,
        },
    )


def voice_form(
    request: Request,
    template: str,
    member: Member,
    nav: str,
    voices: Sequence[Voice],
    defaults: Mapping[str, str],
    form: Mapping[str, str] | None,
    error: str | None,
) -> HTMLResponse:
    """A form that picks one of `voices` (send, a new campaign), filled again with what was
    typed, answering 400 when `error` says why it was refused."""
    filled = {**defaults, **(form or {})}
    response = page(request, template, member, nav, voices=voices, form=filled, error=error)
    if error:
        response.status_code = 400
    return response


@contextlib.contextmanager
def found() -> Iterator[None]:
    """`with found():` turns the services' NotFound into the console's 404 page."""
    try:
        yield
    except NotFound:
        raise PageNotFound from None


def csv_rows(header: list[str], rows: Iterator[list[Any]]) -> Iterator[str]:
    """CSV lines (RFC 4180, CRLF), each cell quoted when it must be; a cell that a
    spreadsheet would read as a formula is prefixed with an apostrophe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: list[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(
            ["'" + c if isinstance(c, str) and c[:1] in ("=", "+", "-", "@") else c for c in cells]
        )
        return buffer.getvalue()

    yield line(header)
    for row in rows:
        yield line(row)
