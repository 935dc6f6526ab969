"""Where a signed-in visitor lands: a project user's overview, or the operator's home."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from voxcall.api.deps import ServicesDep
from voxcall.console.auth import ViewerDep
from voxcall.console.web import PageNotFound, render

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(viewer: ViewerDep) -> Response:
    return RedirectResponse("/overview" if viewer.user else "/operator", status_code=303)


@router.get("/operator")
def operator(request: Request, viewer: ViewerDep, services: ServicesDep) -> Response:
    if viewer.session.operator is None:
        raise PageNotFound
    return render(
        request,
        "operator.html",
        {
            "viewer": viewer,
            "csrf": viewer.csrf,
            "nav": "operator",
            "done": None,
            "projects": services.projects.list(),
        },
    )
