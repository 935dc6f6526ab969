"""Idempotency keys: a request replayed under the same key gets the first answer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IdempotentReplay:
    """What an Idempotency-Key already stands for."""

    state: str  # new | pending | done | conflict
    status_code: int | None = None
    response: str | None = None


KEY_LIFETIME = 86_400.0  # seconds a key stands for its request: a repeat within 24 h (api.md §3)


def key_is_spent(
    created_at: float, answered: bool, now: float, *, lifetime: float, stale_after: float
) -> bool:
    """Whether a stored key no longer stands for its request, so a new one may take it:
    older than `lifetime`, or left without an answer longer than `stale_after` by a process
    that died (its request committed nothing)."""
    expired = created_at < now - lifetime
    abandoned = not answered and created_at < now - stale_after
    return expired or abandoned
