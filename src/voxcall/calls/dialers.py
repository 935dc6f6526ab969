"""Dialer servers (trunks): their limits, their tariff and their driver's options."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass

from voxcall.calls.errors import AdminRefused
from voxcall.domain.dialers import DialerConfig
from voxcall.domain.money import FREE, Tariff
from voxcall.store.database import Conflict
from voxcall.store.store import Store

DIALER_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")  # what an operator may name a dialer


def new_dialer(
    dialer_id: str,
    driver: str,
    name: str,
    options: dict[str, object],
    *,
    channels: int = 10,
    cps: float = 10.0,
    retry_interval: int = 60,
    ring_timeout: int = 45,
    is_default: bool = False,
    tariff: Tariff = FREE,
) -> DialerConfig:
    """An enabled dialer with the defaults an operator gets when giving nothing else."""
    return DialerConfig(
        id=dialer_id,
        name=name,
        driver=driver,
        options=options,
        channels=channels,
        cps=cps,
        retry_interval=retry_interval,
        ring_timeout=ring_timeout,
        enabled=True,
        is_default=is_default,
        tariff=tariff,
    )


@dataclass(frozen=True, slots=True)
class DialerChanges:
    """What to change in a dialer; None keeps the current value."""

    name: str | None = None
    channels: int | None = None
    cps: float | None = None
    retry_interval: int | None = None
    ring_timeout: int | None = None
    make_default: bool = False
    price_per_minute: int | None = None  # milli-Toman
    billing_increment: int | None = None
    connect_fee: int | None = None  # milli-Toman
    reserve_margin: int | None = None
    bye_tail: int | None = None  # sip only
    amd: Mapping[str, int] | None = None  # sip only: thresholds to change, the rest kept


def _checked_options(driver: str, options: Mapping[str, object]) -> dict[str, object]:
    """The options as the driver reads them back, with its defaults filled in; a value it
    refuses is refused here, when the operator gives it, rather than at the first call."""
    if driver != "sip":
        return dict(options)
    from voxcall.dialers.sip.driver import SipTrunkConfig

    try:
        return SipTrunkConfig.from_options(options).to_options()
    except ValueError as exc:
        raise AdminRefused(str(exc)) from None


class DialerService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, dialer: DialerConfig) -> DialerConfig:
        """Add `dialer`, its options checked by its driver; returns it as stored."""
        dialer = dataclasses.replace(
            dialer, options=_checked_options(dialer.driver, dialer.options)
        )
        try:
            self.store.add_dialer(dialer)
        except Conflict:
            raise AdminRefused(f"a dialer {dialer.id!r} exists") from None
        return dialer

    def get(self, dialer_id: str) -> DialerConfig:
        dialer = self.store.get_dialer(dialer_id)
        if dialer is None:
            raise AdminRefused(f"no dialer {dialer_id!r}")
        return dialer

    def list(self) -> list[DialerConfig]:
        return self.store.list_dialers()

    def update(self, current: DialerConfig, changes: DialerChanges) -> DialerConfig:
        """`current` with `changes`; calls accepted from now on use the new values."""
        options = current.options
        if changes.bye_tail is not None:
            options = _checked_options(current.driver, {**options, "bye_tail": changes.bye_tail})
        if changes.amd:
            thresholds = options.get("amd")
            kept = dict(thresholds) if isinstance(thresholds, Mapping) else {}
            options = _checked_options(current.driver, {**options, "amd": {**kept, **changes.amd}})
        tariff = current.tariff
        updated = dataclasses.replace(
            current,
            name=changes.name or current.name,
            channels=changes.channels or current.channels,
            cps=changes.cps or current.cps,
            retry_interval=changes.retry_interval or current.retry_interval,
            ring_timeout=changes.ring_timeout or current.ring_timeout,
            is_default=changes.make_default or current.is_default,
            tariff=Tariff(
                price_per_minute=_given(changes.price_per_minute, tariff.price_per_minute),
                billing_increment=changes.billing_increment or tariff.billing_increment,
                connect_fee=_given(changes.connect_fee, tariff.connect_fee),
                reserve_margin=_given(changes.reserve_margin, tariff.reserve_margin),
            ),
            options=options,
        )
        self.store.update_dialer(updated)
        return updated

    def set_enabled(self, dialer_id: str, enabled: bool) -> None:
        """Place new attempts on the dialer, or stop (live ones finish)."""
        if not self.store.set_dialer_enabled(dialer_id, enabled):
            raise AdminRefused(f"no dialer {dialer_id!r}")


def _given(value: int | None, current: int) -> int:
    return current if value is None else value
