"""(ext) GET /health, for load balancers and process supervisors: 200 while this process can
accept requests, 503 `Unavailable` while it cannot: the database does not answer, its SQLite
file was removed or replaced under the process, or the data folder cannot take one more voice of
the largest size (full, read-only, failing). No token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from voxcall.api.deps import ServicesDep
from voxcall.api.openapi import operation
from voxcall.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", **operation(Health, auth=False))
async def health(services: ServicesDep) -> dict[str, Any]:
    await run_in_threadpool(services.store.ping)
    await run_in_threadpool(services.voices.check_writable)
    return {"result": {"status": "ok"}, "error": None}
