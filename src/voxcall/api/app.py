"""The ASGI application: routes, error envelope, limits, and (role `all`) the worker."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from voxcall import console
from voxcall.api import calls, campaigns, dnc, errors, files, health
from voxcall.api.deps import VoxcallApp
from voxcall.api.limits import BodyLimit
from voxcall.api.observe import RequestMetrics
from voxcall.api.throttle import RateLimiter
from voxcall.runtime import Services, worker


def create_app(services: Services, *, run_worker: bool = True) -> VoxcallApp:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not run_worker:
            yield
            return
        async with worker(services):
            yield

    app = VoxcallApp(
        services,
        RateLimiter(),
        title="voxcall",
        summary="Voice-message calls, wire-compatible with the Bitel REST API v2",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        generate_unique_id_function=lambda route: route.name,  # operation ids: single, ...
    )
    app.include_router(calls.router)
    app.include_router(calls.account_router)
    app.include_router(files.router)
    app.include_router(campaigns.router)
    app.include_router(dnc.router)
    app.include_router(health.router)
    errors.install(app)
    console.install(app)  # after the API's handlers: its own exceptions, its own pages
    app.add_middleware(BodyLimit)
    app.add_middleware(RequestMetrics, metrics=services.metrics)  # outermost: sees every answer
    return app
