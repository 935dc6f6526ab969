"""The web console (console.md): server-rendered pages for project users, on the API's port.

HTTP only, like `voxcall.api`: each view module is an APIRouter over the services of
`voxcall.calls`; templates and static files live beside the code. `install` adds it to the
app; adding a page is adding a module to VIEWS and its templates.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from voxcall.api.deps import VoxcallApp
from voxcall.console import auth
from voxcall.console.views import (
    billing,
    calls,
    campaigns,
    developers,
    dialers,
    dnc,
    home,
    overview,
    projects,
    send,
    users,
    voices,
)
from voxcall.console.web import STATIC, PageNotFound, SecurityHeaders, SignInRequired, render

VIEWS = (
    home, overview, calls, send, campaigns, voices, developers, billing, projects, dialers,
    dnc, users,
)  # fmt: skip


def install(app: VoxcallApp) -> None:
    app.state.console_zone = ZoneInfo(app.services.settings.timezone)
    app.include_router(auth.router)
    for view in VIEWS:
        app.include_router(view.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _: SignInRequired) -> Response:
        if request.headers.get("hx-request"):  # a live fragment: reload into the sign-in page
            return Response(status_code=204, headers={"HX-Redirect": "/sign-in"})
        return RedirectResponse("/sign-in", status_code=303)

    @app.exception_handler(PageNotFound)
    async def _not_found(request: Request, _: PageNotFound) -> Response:
        return render(request, "not_found.html", {"viewer": None}, status=404)

    @app.exception_handler(auth.CsrfRefused)
    async def _csrf(request: Request, _: auth.CsrfRefused) -> Response:
        return render(request, "refused.html", {"viewer": None}, status=403)

    app.add_middleware(SecurityHeaders)
