"""Users (owners only): the project's users with their role and when they were last seen;
add one with an initial password, change a role, remove one (never the last owner)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from voxcall.api.deps import ServicesDep
from voxcall.calls.errors import AdminRefused
from voxcall.console.auth import Member, OwnerDep, checked_form
from voxcall.console.views import found, page
from voxcall.console.views.projects import _add_user
from voxcall.domain.users import Role
from voxcall.runtime import Services

router = APIRouter(include_in_schema=False)


def _page(
    request: Request, member: Member, services: Services, error: str | None = None
) -> Response:
    project_id = member.project.id
    response = page(
        request,
        "users.html",
        member,
        "users",
        users=services.users.users(project_id),
        roles=list(Role),
        error=error,
    )
    if error:
        response.status_code = 400
    return response


async def _refused(
    request: Request, member: Member, services: Services, refused: AdminRefused
) -> Response:
    return await run_in_threadpool(_page, request, member, services, str(refused))


@router.get("/users")
def users(request: Request, member: OwnerDep, services: ServicesDep) -> Response:
    return _page(request, member, services)


@router.post("/users")
async def add(request: Request, member: OwnerDep, services: ServicesDep) -> Response:
    form = await checked_form(request, member.viewer.csrf)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        done = await run_in_threadpool(_add_user, services, member.project, fields)
    except AdminRefused as exc:
        return await _refused(request, member, services, exc)
    return RedirectResponse(f"/users?done={done}", status_code=303)


@router.post("/users/{user_id}/role")
async def change_role(
    user_id: str, request: Request, member: OwnerDep, services: ServicesDep
) -> Response:
    form = await checked_form(request, member.viewer.csrf)
    try:
        role = Role(str(form.get("role", "")))
        with found():
            await run_in_threadpool(services.users.set_role, member.project.id, user_id, role)
    except ValueError:
        return await run_in_threadpool(
            lambda: _page(request, member, services, "role: owner or member")
        )
    except AdminRefused as exc:
        return await _refused(request, member, services, exc)
    return RedirectResponse("/users?done=saved", status_code=303)


@router.post("/users/{user_id}/remove")
async def remove(
    user_id: str, request: Request, member: OwnerDep, services: ServicesDep
) -> Response:
    await checked_form(request, member.viewer.csrf)
    try:
        with found():
            await run_in_threadpool(services.users.remove_from_project, member.project.id, user_id)
    except AdminRefused as exc:
        return await _refused(request, member, services, exc)
    return RedirectResponse("/users?done=user-removed", status_code=303)
