"""(ext) GET /health, for load balancers and process supervisors: 200 while this process can
reach the database (so can accept calls), 503 `Unavailable` while it cannot. No token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from voxcall.api.openapi import operation
from voxcall.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", **operation(Health, auth=False))
async def health(request: Request) -> dict[str, Any]:
    await run_in_threadpool(request.app.state.services.store.ping)
    return {"result": {"status": "ok"}, "error": None}
