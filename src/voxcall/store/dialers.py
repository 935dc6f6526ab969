"""Dialer servers: the operator's trunks and their settings."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, insert, select, update

from voxcall.domain.calls import AttemptState
from voxcall.domain.dialers import DialerConfig
from voxcall.domain.money import Tariff
from voxcall.store import schema as t
from voxcall.store.database import Database, current_settings_version, settings_changed


class Dialers(Database):
    """The trunks calls are placed through, as the operator configured them."""

    def add_dialer(self, dialer: DialerConfig) -> None:
        with self._write() as conn:
            if dialer.is_default:
                conn.execute(update(t.dialers).values(is_default=False))
            conn.execute(
                insert(t.dialers).values(
                    **_dialer_settings(dialer),
                    id=dialer.id,
                    driver=dialer.driver,
                    created_at=int(time.time()),
                )
            )
            settings_changed(conn)

    def list_dialers(self, *, enabled_only: bool = False) -> list[DialerConfig]:
        query = select(t.dialers).order_by(t.dialers.c.created_at, t.dialers.c.id)
        if enabled_only:
            query = query.where(t.dialers.c.enabled.is_(True))
        with self._read() as conn:
            version = current_settings_version(conn)
            rows = conn.execute(query).all()
        dialers = [_dialer(r._mapping) for r in rows]
        if enabled_only:
            self.settings.keep_dialers(version, dialers)
        return dialers

    def get_dialer(self, dialer_id: str) -> DialerConfig | None:
        with self._read() as conn:
            row = conn.execute(select(t.dialers).where(t.dialers.c.id == dialer_id)).first()
        return _dialer(row._mapping) if row else None

    def update_dialer(self, dialer: DialerConfig) -> bool:
        """Replace a dialer's settings (not its id or driver)."""
        with self._write() as conn:
            if dialer.is_default:
                conn.execute(update(t.dialers).values(is_default=False))
            result = conn.execute(
                update(t.dialers)
                .where(t.dialers.c.id == dialer.id)
                .values(**_dialer_settings(dialer))
            )
            settings_changed(conn)
        return result.rowcount == 1

    def set_dialer_enabled(self, dialer_id: str, enabled: bool) -> bool:
        with self._write() as conn:
            result = conn.execute(
                update(t.dialers).where(t.dialers.c.id == dialer_id).values(enabled=enabled)
            )
            settings_changed(conn)
        return result.rowcount == 1

    def busy_channels(self) -> dict[str, int]:
        """Live attempts per dialer: the channels in use, counted by the database."""
        with self._read() as conn:
            rows = conn.execute(
                select(t.attempts.c.dialer_id, func.count())
                .where(t.attempts.c.state == AttemptState.DIALING.value)
                .group_by(t.attempts.c.dialer_id)
            ).all()
        return {dialer_id: count for dialer_id, count in rows}


def _dialer(m: Mapping[Any, Any]) -> DialerConfig:
    return DialerConfig(
        id=m["id"],
        name=m["name"],
        driver=m["driver"],
        options=json.loads(m["options"]),
        channels=m["channels"],
        cps=m["cps"],
        retry_interval=m["retry_interval"],
        ring_timeout=m["ring_timeout"],
        enabled=bool(m["enabled"]),
        is_default=bool(m["is_default"]),
        tariff=Tariff(
            price_per_minute=m["price_per_minute_milli"],
            billing_increment=m["billing_increment"],
            connect_fee=m["connect_fee_milli"],
            reserve_margin=m["reserve_margin"],
        ),
    )


def _dialer_settings(dialer: DialerConfig) -> dict[str, Any]:
    """The columns an operator sets (`dialer add` and `dialer update`)."""
    return {
        "name": dialer.name,
        "options": json.dumps(dialer.options),
        "channels": dialer.channels,
        "cps": dialer.cps,
        "retry_interval": dialer.retry_interval,
        "ring_timeout": dialer.ring_timeout,
        "price_per_minute_milli": dialer.tariff.price_per_minute,
        "billing_increment": dialer.tariff.billing_increment,
        "connect_fee_milli": dialer.tariff.connect_fee,
        "reserve_margin": dialer.tariff.reserve_margin,
        "enabled": dialer.enabled,
        "is_default": dialer.is_default,
    }
