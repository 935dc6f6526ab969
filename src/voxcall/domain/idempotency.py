"""Idempotency keys: a request replayed under the same key gets the first answer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IdempotentReplay:
    """What an Idempotency-Key already stands for."""

    state: str  # new | pending | done | conflict
    status_code: int | None = None
    response: str | None = None
