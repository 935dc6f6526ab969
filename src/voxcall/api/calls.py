"""Call endpoints (api.md §3)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from voxcall.api.auth import current_project
from voxcall.api.body import read_json
from voxcall.api.schemas import SingleCall, balance_json, call_json, server_json
from voxcall.store.records import Project

router = APIRouter(prefix="/api/v2/voice")
ProjectDep = Annotated[Project, Depends(current_project)]


def ok(result: Any) -> dict[str, Any]:
    return {"result": result, "error": None}


@router.post("/single")
async def single(request: Request, project: ProjectDep) -> dict[str, Any]:
    body = await read_json(request, SingleCall)
    service = request.app.state.services.calls
    calls = await run_in_threadpool(
        service.place, project, [body.phoneNumber], body.voiceId, body.options()
    )
    return ok(call_json(calls[0]))


@router.get("/status/{call_id}")
async def status(request: Request, call_id: str, project: ProjectDep) -> dict[str, Any]:
    call = await run_in_threadpool(request.app.state.services.calls.status, project, call_id)
    return ok(call_json(call, with_e164=True))


@router.post("/cancel/{call_id}")
async def cancel(request: Request, call_id: str, project: ProjectDep) -> dict[str, Any]:
    call = await run_in_threadpool(request.app.state.services.calls.cancel, project, call_id)
    return ok(call_json(call, with_e164=True))


@router.get("/servers")
async def servers(request: Request, project: ProjectDep) -> dict[str, Any]:
    found = await run_in_threadpool(request.app.state.services.calls.servers, project)
    return ok([server_json(s) for s in found])


account_router = APIRouter(prefix="/api/v2/account")


@account_router.get("/balance")
async def balance(request: Request, project: ProjectDep) -> dict[str, Any]:
    """(ext) The project's balance, what open calls hold of it, and what is left."""
    current = await run_in_threadpool(request.app.state.services.calls.account, project)
    return ok(balance_json(current))
