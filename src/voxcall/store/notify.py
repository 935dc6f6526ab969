"""PostgreSQL LISTEN/NOTIFY: API nodes announce new calls, workers wake at once.

Polling stays the fallback: a lost notification delays a call by one poll interval at most.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

CHANNEL = "voxcall_calls"
log = logging.getLogger("voxcall.store")


def announce(conn: Connection) -> None:
    """Inside a transaction: wake the workers when it commits (PostgreSQL only)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"NOTIFY {CHANNEL}")


def conninfo(url: str) -> str:
    """libpq's form of a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def listen(url: str, on_notify: Callable[[], None]) -> None:
    """Call `on_notify` for each notification until cancelled; reconnect on failure."""
    delay = 0.5
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                conninfo(url), autocommit=True
            ) as conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                delay = 0.5
                on_notify()  # whatever was announced while we were not listening
                async for _ in conn.notifies():
                    on_notify()
        except (psycopg.Error, OSError) as exc:
            log.warning("LISTEN connection lost (%s); polling until it is back", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
