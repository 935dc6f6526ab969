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


def cps_budget(cps: float) -> tuple[float, int]:
    """A calls-per-second limit as (window seconds, attempts a window may start): claims at
    `now` count the attempts started after `now - window`, so every window of that length,
    however placed, holds at most that many (a sliding window: no burst on top of the rate).
    A fractional limit rounds down to whole calls per second; below 1, one call per 1/cps s.
    """
    if cps >= 1:
        return 1.0, math.floor(cps)
    return 1.0 / cps, 1
