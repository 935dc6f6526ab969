"""Where a signed-in visitor lands: a project user's overview, or the operator's projects."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from voxcall.console.auth import ViewerDep

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(viewer: ViewerDep) -> Response:
    return RedirectResponse("/overview" if viewer.user else "/operator/projects", status_code=303)
