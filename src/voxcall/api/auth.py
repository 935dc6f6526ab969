"""Who is calling: the bearer token's project, and its request rate."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from voxcall.api.deps import RateLimiterDep, ServicesDep
from voxcall.api.errors import ApiError
from voxcall.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from voxcall.api.throttle import RateLimiter
from voxcall.domain.projects import Project
from voxcall.store.store import Store
from voxcall.tokens import hash_token


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _token(request: Request) -> str:
    token = bearer_token(request)
    if token is None:
        raise ApiError(401, "Unauthorized", "Authorization: a Bearer token is required")
    return token


async def authenticate(request: Request, store: Store) -> Project:
    """The token's project, read from the database; 401 if there is none."""
    project: Project | None = await run_in_threadpool(
        store.project_for_token, hash_token(_token(request))
    )
    if project is None:
        raise ApiError(401, "Unauthorized", "Authorization: unknown or revoked token")
    return project


def _admit(limiter: RateLimiter, project: Project) -> None:
    """429 with Retry-After when the project is over its request rate."""
    wait = limiter.wait(project, time.monotonic())
    if wait is not None:
        raise ApiError(
            429,
            "TooManyRequests",
            f"rate: over {project.rate_limit} requests per second",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )


async def current_project(
    request: Request, services: ServicesDep, limiter: RateLimiterDep
) -> Project:
    """FastAPI dependency: the authenticated, rate-checked project of this request."""
    project = await authenticate(request, services.store)
    _admit(limiter, project)
    return project


@dataclass(frozen=True, slots=True)
class Caller:
    project: Project
    # Set when `project` came from the settings cache at this version: the write of the
    # request confirms it (see voxcall.store.settings_cache).
    settings_version: int | None = None


async def current_caller(
    request: Request, services: ServicesDep, limiter: RateLimiterDep
) -> Caller:
    """FastAPI dependency for call requests: `current_project`, from the settings cache when
    it holds the token (no database read). Anything the cache could have got wrong is
    checked again from the database before the request is answered (`place_calls`).

    A request with an Idempotency-Key is authenticated from the database at once: its key
    is claimed for the project before the calls are written.
    """
    cached = services.store.settings.project(hash_token(_token(request)))
    if cached is not None and IDEMPOTENCY_HEADER not in request.headers:
        project, version = cached
        if limiter.wait(project, time.monotonic()) is None:
            return Caller(project, version)
        # Over the cached rate, which may be an old one: ask the database.
    return Caller(await current_project(request, services, limiter))
