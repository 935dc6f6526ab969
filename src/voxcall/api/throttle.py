"""Requests per second per project: a token bucket each, kept in this process."""

from __future__ import annotations

from dataclasses import dataclass, field

from voxcall.domain.projects import Project


@dataclass(slots=True)
class TokenBucket:
    rate: float  # tokens added per second
    capacity: float  # the largest burst
    tokens: float = field(init=False)
    updated: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    def _refill(self, now: float) -> None:
        if self.updated is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def take(self, now: float, n: int = 1) -> bool:
        self._refill(now)
        if self.tokens < n:
            return False
        self.tokens -= n
        return True

    def wait_time(self, now: float, n: int = 1) -> float:
        """Seconds until `n` tokens are there."""
        self._refill(now)
        return max(0.0, (n - self.tokens) / self.rate)


class RateLimiter:
    """A bucket per project, refilled at the project's rate (a changed rate starts afresh)."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}

    def wait(self, project: Project, now: float) -> float | None:
        """None when the request may go now, else the seconds until it could."""
        bucket = self._buckets.get(project.id)
        if bucket is None or bucket.rate != project.rate_limit:
            bucket = TokenBucket(rate=project.rate_limit, capacity=project.rate_limit)
            self._buckets[project.id] = bucket
        if bucket.take(now):
            return None
        return bucket.wait_time(now)
