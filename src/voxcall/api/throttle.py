"""A token bucket: requests per second for a project."""

from __future__ import annotations

from dataclasses import dataclass, field


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
