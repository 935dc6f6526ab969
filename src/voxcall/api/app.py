"""The ASGI application: routes, error envelope, limits, and (role `all`) the worker."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from voxcall.api import calls, errors, files
from voxcall.api.limits import BodyLimit
from voxcall.runtime import Services, worker


def create_app(services: Services, *, run_worker: bool = True) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not run_worker:
            yield
            return
        async with worker(services):
            yield

    app = FastAPI(
        title="voxcall",
        summary="Voice-message calls, wire-compatible with the Bitel REST API v2",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.services = services
    app.include_router(calls.router)
    app.include_router(calls.account_router)
    app.include_router(files.router)
    errors.install(app)
    app.add_middleware(BodyLimit)
    return app
