"""The operator's Projects: every project with its balance; create one; a project's page to
top it up (with a reason, in its ledger), set its rate limit, allowed countries, default
dialer and default calling window, and add or remove its users."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from voxcall.api.deps import ServicesDep
from voxcall.billing.money import parse_toman
from voxcall.calls.errors import AdminRefused
from voxcall.calls.projects import ProjectService
from voxcall.calls.windows import InvalidWindow, Window
from voxcall.console.auth import OperatorDep, Viewer, checked_form
from voxcall.console.views import DONE, found
from voxcall.console.web import PageNotFound, render
from voxcall.domain.projects import Project
from voxcall.domain.users import Role

router = APIRouter(include_in_schema=False)
_REGION = re.compile(r"[A-Z]{2}")


def operator_page(
    request: Request, template: str, viewer: Viewer, nav: str, **context: Any
) -> Response:
    done = request.query_params.get("done")
    return render(
        request,
        template,
        {
            "viewer": viewer,
            "csrf": viewer.csrf,
            "nav": nav,
            "done": DONE.get(done or ""),
            **context,
        },
        status=400 if context.get("error") else 200,
    )


@router.get("/operator")
def operator_home(_: OperatorDep) -> Response:
    return RedirectResponse("/operator/projects", status_code=303)


def _projects_page(
    request: Request, viewer: Viewer, services: ServicesDep, error: str | None = None
) -> Response:
    return operator_page(
        request, "operator_projects.html", viewer, "projects",
        projects=services.projects.list(), error=error,
    )  # fmt: skip


@router.get("/operator/projects")
def projects(request: Request, viewer: OperatorDep, services: ServicesDep) -> Response:
    return _projects_page(request, viewer, services)


def _whole(text: str, low: int, high: int) -> int:
    if not text.strip().isdigit() or not low <= int(text) <= high:
        raise AdminRefused(f"must be a whole number from {low} to {high}")
    return int(text)


def _toman(text: str) -> int:
    try:
        return parse_toman(text.strip() or "0")
    except ValueError:
        raise AdminRefused("amount: Toman, as in 1000 or 12.5") from None


@router.post("/operator/projects")
async def create(request: Request, viewer: OperatorDep, services: ServicesDep) -> Response:
    form = await checked_form(request, viewer.csrf)
    name = str(form.get("name", "")).strip()
    try:
        if not 1 <= len(name) <= 100:
            raise AdminRefused("name: 1 to 100 characters")
        project = await run_in_threadpool(
            services.projects.create,
            name,
            rate_limit=_whole(str(form.get("rate_limit", "")), 1, 100_000),
            opening_milli=_toman(str(form.get("opening", ""))),
        )
    except AdminRefused as exc:
        return await run_in_threadpool(_projects_page, request, viewer, services, str(exc))
    return RedirectResponse(f"/operator/projects/{project.id}?done=saved", status_code=303)


def _project(services: ServicesDep, project_id: str) -> Project:
    with found():
        return services.projects.get(project_id)


def _project_page(
    request: Request,
    viewer: Viewer,
    services: ServicesDep,
    project_id: str,
    error: str | None = None,
) -> Response:
    project = _project(services, project_id)
    return operator_page(
        request,
        "operator_project.html",
        viewer,
        "projects",
        project=project,
        window=ProjectService.window(project),
        users=services.users.users(project.id),
        dialers=services.dialers.list(),
        ledger=services.reports.ledger(project, None, 20),
        roles=list(Role),
        error=error,
    )


@router.get("/operator/projects/{project_id}")
def project_page(
    project_id: str, request: Request, viewer: OperatorDep, services: ServicesDep
) -> Response:
    return _project_page(request, viewer, services, project_id)


@router.post("/operator/projects/{project_id}/{action}")
async def change(
    project_id: str, action: str, request: Request, viewer: OperatorDep, services: ServicesDep
) -> Response:
    form = await checked_form(request, viewer.csrf)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    project = await run_in_threadpool(_project, services, project_id)
    change = CHANGES.get(action)
    if change is None:
        raise PageNotFound
    try:
        done = await run_in_threadpool(change, services, project, fields)
    except AdminRefused as exc:
        return await run_in_threadpool(
            _project_page, request, viewer, services, project_id, str(exc)
        )
    return RedirectResponse(f"/operator/projects/{project.id}?done={done}", status_code=303)


def _top_up(services: ServicesDep, project: Project, fields: dict[str, str]) -> str:
    reason = fields.get("reason", "").strip()
    if not reason:
        raise AdminRefused("reason: say why (it is kept in the ledger)")
    try:
        services.accounts.top_up(project, _toman(fields.get("amount", "")), note=reason)
    except ValueError as exc:  # the service's rule: a top-up is positive
        raise AdminRefused(str(exc)) from None
    return "topped-up"


def _settings(services: ServicesDep, project: Project, fields: dict[str, str]) -> str:
    regions = [r.strip().upper() for r in fields.get("regions", "").split(",") if r.strip()]
    if not regions or not all(_REGION.fullmatch(r) for r in regions):
        raise AdminRefused("allowed countries: two-letter codes separated by commas, as in IR")
    services.projects.update(
        project,
        rate_limit=_whole(fields.get("rate_limit", ""), 1, 100_000),
        allowed_regions=regions,
        default_dialer=fields.get("default_dialer", ""),
    )
    return "saved"


def _window(services: ServicesDep, project: Project, fields: dict[str, str]) -> str:
    """The project's default calling window, in the CLI's form; empty: none."""
    text = fields.get("window", "").strip()
    if not text:
        services.projects.update(project, clear_window=True)
        return "saved"
    try:
        window = Window.parse(text)
    except InvalidWindow as exc:
        raise AdminRefused(str(exc)) from None
    services.projects.update(project, window=window)
    return "saved"


def _add_user(services: ServicesDep, project: Project, fields: dict[str, str]) -> str:
    role = fields.get("role", "")
    if role not in {r.value for r in Role}:
        raise AdminRefused("role: owner or member")
    password = fields.get("password", "")
    if len(password) < 8:
        raise AdminRefused("password: at least 8 characters")
    services.users.add_user(project.id, fields.get("email", ""), Role(role), password)
    return "user-added"


def _remove_user(services: ServicesDep, project: Project, fields: dict[str, str]) -> str:
    email = fields.get("email", "")
    if not any(u.email == email for u in services.users.users(project.id)):
        raise PageNotFound  # not a user of this project
    services.users.remove_user(email)
    return "user-removed"


CHANGES = {
    "top-up": _top_up,
    "settings": _settings,
    "window": _window,
    "users": _add_user,
    "remove-user": _remove_user,
}
