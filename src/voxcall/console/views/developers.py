"""Developers (owners only): API tokens (a new one shown once), the webhook URL and its
secret (rotate), recent deliveries with a resend button, and the API's documentation."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from voxcall.api.deps import ServicesDep
from voxcall.calls.errors import AdminRefused
from voxcall.console.auth import Member, OwnerDep, checked_form
from voxcall.console.views import found, page
from voxcall.runtime import Services

router = APIRouter(include_in_schema=False)


def _page(
    request: Request,
    member: Member,
    services: Services,
    *,
    token: str | None = None,
    secret: str | None = None,
    error: str | None = None,
) -> Response:
    response = page(
        request,
        "developers.html",
        member,
        "developers",
        tokens=services.reports.tokens(member.project),
        deliveries=services.reports.deliveries(member.project),
        new_token=token,
        new_secret=secret,
        error=error,
    )
    if error:
        response.status_code = 400
    return response


@router.get("/developers")
def developers(request: Request, member: OwnerDep, services: ServicesDep) -> Response:
    return _page(request, member, services)


@router.post("/developers/tokens")
async def new_token(request: Request, member: OwnerDep, services: ServicesDep) -> Response:
    await checked_form(request, member.viewer.csrf)
    token = await run_in_threadpool(services.projects.issue_token, member.project)
    return await run_in_threadpool(lambda: _page(request, member, services, token=token))


@router.post("/developers/tokens/{prefix}/revoke")
async def revoke(
    prefix: str, request: Request, member: OwnerDep, services: ServicesDep
) -> Response:
    await checked_form(request, member.viewer.csrf)
    owned = {t.prefix for t in await run_in_threadpool(services.reports.tokens, member.project)}
    if prefix not in owned:
        return await run_in_threadpool(
            lambda: _page(request, member, services, error="No such token.")
        )
    try:
        await run_in_threadpool(services.projects.revoke_token, prefix)
    except AdminRefused as exc:
        refused = exc.message
        return await run_in_threadpool(lambda: _page(request, member, services, error=refused))
    return RedirectResponse("/developers?done=revoked", status_code=303)


@router.post("/developers/webhook")
async def webhook(request: Request, member: OwnerDep, services: ServicesDep) -> Response:
    """Set the webhook URL (or rotate its secret: the same URL again); empty removes it."""
    form = await checked_form(request, member.viewer.csrf)
    url = str(form.get("url", "")).strip()
    if not url:
        await run_in_threadpool(services.projects.clear_webhook, member.project)
        return RedirectResponse("/developers?done=webhook-removed", status_code=303)
    if not url.startswith(("https://", "http://")) or len(url) > 2000:
        return await run_in_threadpool(
            lambda: _page(request, member, services, error="The URL must start with https://.")
        )
    secret = await run_in_threadpool(services.projects.set_webhook, member.project, url)
    member = Member(member.user, services.projects.get(member.project.id), member.viewer)
    return await run_in_threadpool(lambda: _page(request, member, services, secret=secret))


@router.post("/developers/deliveries/{event_id}/resend")
async def resend(
    event_id: str, request: Request, member: OwnerDep, services: ServicesDep
) -> Response:
    await checked_form(request, member.viewer.csrf)
    with found():
        await run_in_threadpool(services.reports.redeliver, member.project, event_id)
    return RedirectResponse("/developers?done=resent", status_code=303)
