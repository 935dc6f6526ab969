"""A dialer server: one trunk voxcall places calls through, as the operator configured it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from voxcall.domain.money import FREE, Tariff


@dataclass(frozen=True, slots=True)
class DialerConfig:
    id: str
    name: str
    driver: str
    options: dict[str, object]
    channels: int
    cps: float
    retry_interval: int
    ring_timeout: int
    enabled: bool
    is_default: bool
    tariff: Tariff = FREE


def claimable(wanted: int, *, channels: int, busy: int, per_window: int, recent: int) -> int:
    """How many of `wanted` attempts a dialer may start now: no more than its free channels
    (`busy` of `channels` are in use) and what is left of its calls-per-second budget
    (`recent` of the window's `per_window` started already); never below 0."""
    return max(0, min(wanted, channels - busy, per_window - recent))


def cps_budget(cps: float) -> tuple[float, int]:
    """A calls-per-second limit as (window seconds, attempts a window may start): claims at
    `now` count the attempts started after `now - window`, so every window of that length,
    however placed, holds at most that many (a sliding window: no burst on top of the rate).
    A fractional limit rounds down to whole calls per second; below 1, one call per 1/cps s.
    """
    if cps >= 1:
        return 1.0, math.floor(cps)
    return 1.0 / cps, 1
