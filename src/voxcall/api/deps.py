"""What the handlers are given, as typed FastAPI dependencies: the process's services and the
app's rate limiter, both held by the app that create_app builds.

The dependencies are coroutines so that FastAPI calls them on the loop, not in a thread.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from voxcall.api.openapi import Api
from voxcall.api.throttle import RateLimiter
from voxcall.runtime import Services


class VoxcallApp(Api):
    """The API, with the services its handlers use and the limiter of its request rates."""

    def __init__(self, services: Services, rate_limiter: RateLimiter, **options: Any) -> None:
        super().__init__(**options)
        self.services = services
        self.rate_limiter = rate_limiter


def _app(request: Request) -> VoxcallApp:
    app = request.app
    if not isinstance(app, VoxcallApp):
        raise TypeError(f"{type(app).__name__} is not an app made by create_app")
    return app


async def services(request: Request) -> Services:
    return _app(request).services


async def rate_limiter(request: Request) -> RateLimiter:
    return _app(request).rate_limiter


ServicesDep = Annotated[Services, Depends(services)]
RateLimiterDep = Annotated[RateLimiter, Depends(rate_limiter)]
