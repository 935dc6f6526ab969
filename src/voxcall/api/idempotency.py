"""Idempotency-Key on POST (api.md §3): a repeat returns the first response, never a second call.

The key is claimed before the work starts, so a concurrent repeat waits for the first request
instead of racing it. Calls and their response commit in one transaction (see
`Store.insert_calls`), so a crash leaves either both or a stale claim that a retry takes over.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from voxcall.api.errors import ApiError, client_error_response
from voxcall.calls.errors import RequestRefused
from voxcall.domain.idempotency import KEY_LIFETIME
from voxcall.domain.projects import Project
from voxcall.store.store import Store

HEADER = "idempotency-key"
WAIT_FOR_FIRST = 30.0  # seconds a repeat waits for the first request to finish
STALE_AFTER = 120.0  # a claim older than this with no response was left by a dead process


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= 128 or not all(" " <= c <= "~" for c in key):
        raise ApiError(
            400, "InvalidRequest", "Idempotency-Key: must be 1 to 128 printable characters"
        )
    return key


Work = Callable[[str | None], Awaitable[dict[str, Any]]]


async def respond_once(request: Request, store: Store, project: Project, work: Work) -> Response:
    """Run `work` (given the key, or None) unless this key already has a response."""
    key = idempotency_key(request)
    if key is None:
        return JSONResponse(await work(None))
    body = await request.body()
    digest = hashlib.sha256(
        request.method.encode() + b" " + request.url.path.encode() + b"\n" + body
    ).hexdigest()
    deadline = time.monotonic() + WAIT_FOR_FIRST
    while True:
        replay = await run_in_threadpool(
            store.begin_idempotent,
            project.id,
            key,
            digest,
            time.time(),
            lifetime=KEY_LIFETIME,
            stale_after=STALE_AFTER,
        )
        if replay.state == "conflict":
            raise ApiError(
                409,
                "IdempotencyConflict",
                "Idempotency-Key: already used with a different request",
            )
        if replay.state == "done":
            assert replay.status_code is not None  # a done key holds its response
            return Response(
                replay.response, status_code=replay.status_code, media_type="application/json"
            )
        if replay.state == "new":
            break
        if time.monotonic() > deadline:
            raise ApiError(
                409,
                "IdempotencyConflict",
                "Idempotency-Key: the first request with this key is still in progress",
            )
        await asyncio.sleep(0.05)

    try:
        response: Response = JSONResponse(await work(key))
    except (ApiError, RequestRefused, RequestValidationError) as exc:
        failed = client_error_response(exc)
        if failed is None:  # ours, not the client's: let a retry run again
            await run_in_threadpool(store.forget_idempotent, project.id, key)
            raise
        response = failed
    except BaseException:
        await run_in_threadpool(store.forget_idempotent, project.id, key)
        raise
    await run_in_threadpool(
        store.complete_idempotent,
        project.id,
        key,
        response.status_code,
        bytes(response.body).decode(),
    )
    return response
