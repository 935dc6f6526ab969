"""Do-not-call lists (api.md §9): a project user's list at /dnc and the operator's, which
stops every project's calls, at /operator/dnc. Search one number, add numbers typed or
uploaded in a list file, remove one, and the list a page at a time (keyset, by number)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from voxcall.api.deps import ServicesDep
from voxcall.calls.dnc_lists import DncAdded, DncService
from voxcall.calls.errors import RequestRefused
from voxcall.console.auth import MemberDep, OperatorDep, checked_form
from voxcall.console.views import page
from voxcall.console.views.projects import operator_page
from voxcall.console.web import PageNotFound
from voxcall.domain.projects import Project

router = APIRouter(include_in_schema=False)
PAGE = 50
MAX_TYPED = 1000  # numbers typed at once; more come as a file
MAX_LIST_BYTES = 10 * 1024 * 1024
_SEPARATORS = re.compile(r"[\r\n,;]+")  # not spaces: "0912 123 4567" is one number
Render = Callable[..., Response]
ACTIONS = ("add", "upload", "remove")


def _list_page(
    request: Request,
    dnc: DncService,
    project: Project | None,
    render: Render,
    *,
    added: DncAdded | None = None,
    error: str | None = None,
) -> Response:
    query = request.query_params
    number = query.get("number", "").strip()
    found = None
    try:
        if number:
            found = dnc.lookup(project, number)
        entries = dnc.page(project, after=query.get("after") or None, limit=PAGE)
    except RequestRefused as exc:
        error, entries = exc.message, dnc.page(project, after=None, limit=PAGE)
    response = render(
        "dnc.html",
        base="/dnc" if project else "/operator/dnc",
        number=number,
        found=found,
        entries=entries,
        older=entries[-1].phone_number if len(entries) == PAGE else None,
        added=added,
        error=error,
    )
    if error:
        response.status_code = 400
    return response


async def _change(
    request: Request,
    csrf: str,
    dnc: DncService,
    project: Project | None,
    render: Render,
    action: str,
) -> Response:
    form = await checked_form(request, csrf)
    if action not in ACTIONS:
        await form.close()
        raise PageNotFound
    try:
        if action == "add":
            typed = [n.strip() for n in _SEPARATORS.split(str(form.get("numbers", "")))]
            typed = [n for n in typed if n]
            if not 1 <= len(typed) <= MAX_TYPED:
                raise RequestRefused("Give 1 to 1000 numbers, or upload a list.")
            added = await run_in_threadpool(dnc.add, project, typed)
        elif action == "upload":
            upload = form.get("file")
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise RequestRefused("Choose a file.")
            added = await run_in_threadpool(
                lambda: dnc.add_file(project, upload.file, max_bytes=MAX_LIST_BYTES)
            )
        else:  # remove
            await run_in_threadpool(dnc.remove, project, str(form.get("number", "")))
            added = None
    except RequestRefused as exc:  # an unlisted number too (NotFound): not a missing page
        return await run_in_threadpool(_list_page, request, dnc, project, render, error=exc.message)
    finally:
        await form.close()
    return await run_in_threadpool(_list_page, request, dnc, project, render, added=added)


def _member_render(request: Request, member: MemberDep) -> Render:
    def render(template: str, **context: Any) -> Response:
        return page(request, template, member, "dnc", **context)

    return render


def _operator_render(request: Request, viewer: OperatorDep) -> Render:
    def render(template: str, **context: Any) -> Response:
        return operator_page(request, template, viewer, "dnc", **context)

    return render


@router.get("/dnc")
def project_list(request: Request, member: MemberDep, services: ServicesDep) -> Response:
    render = _member_render(request, member)
    return _list_page(request, services.calls.dnc, member.project, render)


@router.post("/dnc/{action}")
async def project_change(
    action: str, request: Request, member: MemberDep, services: ServicesDep
) -> Response:
    render = _member_render(request, member)
    dnc = services.calls.dnc
    return await _change(request, member.viewer.csrf, dnc, member.project, render, action)


@router.get("/operator/dnc")
def operator_list(request: Request, viewer: OperatorDep, services: ServicesDep) -> Response:
    return _list_page(request, services.calls.dnc, None, _operator_render(request, viewer))


@router.post("/operator/dnc/{action}")
async def operator_change(
    action: str, request: Request, viewer: OperatorDep, services: ServicesDep
) -> Response:
    render = _operator_render(request, viewer)
    return await _change(request, viewer.csrf, services.calls.dnc, None, render, action)
