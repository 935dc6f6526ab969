"""A dialer server: one trunk voxcall places calls through, as the operator configured it."""

from __future__ import annotations

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
