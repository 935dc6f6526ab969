"""The ASGI application: routes, error envelope, limits, and the scheduler's lifetime."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import FastAPI

from voxcall.api import calls, errors, files
from voxcall.api.auth import RateLimiter
from voxcall.api.limits import BodyLimit
from voxcall.calls.scheduler import Scheduler
from voxcall.calls.service import CallService, VoiceService
from voxcall.config import Settings
from voxcall.store.files import VoiceFiles
from voxcall.store.store import Store


@dataclass(slots=True)
class Services:
    store: Store
    calls: CallService
    voices: VoiceService
    scheduler: Scheduler
    rate_limiter: RateLimiter


def build_services(settings: Settings) -> Services:
    settings.prepare()
    store = Store.open(settings.database_url, create=settings.embedded)
    voice_files = VoiceFiles(settings.voices_dir)
    scheduler = Scheduler(store, voice_files, sandbox_speed=settings.sandbox_speed)
    return Services(
        store=store,
        calls=CallService(store, on_new_calls=scheduler.wake),
        voices=VoiceService(store, voice_files),
        scheduler=scheduler,
        rate_limiter=RateLimiter(),
    )


def create_app(services: Services, *, run_scheduler: bool = True) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(services.scheduler.run()) if run_scheduler else None
        try:
            yield
        finally:
            if task is not None:
                await services.scheduler.stop()
                await task

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
