"""Who is calling: the bearer token's project, and its request rate."""

from __future__ import annotations

import math
import time

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from voxcall.api.errors import ApiError
from voxcall.api.throttle import TokenBucket
from voxcall.store.records import Project
from voxcall.tokens import hash_token


class RateLimiter:
    """Requests per second per project, kept in this process."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}

    def check(self, project: Project, now: float) -> None:
        bucket = self._buckets.get(project.id)
        if bucket is None or bucket.rate != project.rate_limit:
            bucket = TokenBucket(rate=project.rate_limit, capacity=project.rate_limit)
            self._buckets[project.id] = bucket
        if not bucket.take(now):
            retry_after = max(1, math.ceil(bucket.wait_time(now)))
            raise ApiError(
                429,
                "TooManyRequests",
                f"rate: over {project.rate_limit} requests per second",
                headers={"Retry-After": str(retry_after)},
            )


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def current_project(request: Request) -> Project:
    """FastAPI dependency: the authenticated, rate-checked project of this request."""
    token = bearer_token(request)
    if token is None:
        raise ApiError(401, "Unauthorized", "Authorization: a Bearer token is required")
    services = request.app.state.services
    project: Project | None = await run_in_threadpool(
        services.store.project_for_token, hash_token(token)
    )
    if project is None:
        raise ApiError(401, "Unauthorized", "Authorization: unknown or revoked token")
    services.rate_limiter.check(project, time.monotonic())
    return project
