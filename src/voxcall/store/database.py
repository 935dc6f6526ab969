"""Engine creation: SQLite tuned for a durable single-writer queue, or PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection

READ_ONLY = "voxcall_read_only"
_LOCK_WAIT = "voxcall_lock_wait"  # the busy_timeout set on a SQLite connection, in ms
# Seconds a transaction may wait for a locked or slow database (serve --db-timeout).
DB_TIMEOUT = 5.0


def millis(seconds: float) -> int:
    """Milliseconds for a database timeout setting: both take a 32-bit int, so inf (no bound)
    becomes the largest, about 24 days."""
    return int(min(seconds * 1000, 2**31 - 1))


def set_lock_wait(conn: Connection, seconds: float) -> None:
    """Let the next BEGIN on this SQLite connection wait at most `seconds` for the lock.

    In steps of 0.1 s, rounded down (never past the deadline), so that a writer that did not
    queue in-process finds it set already; and on the driver itself, since through SQLAlchemy
    a statement costs ten times more.
    """
    wait = millis(seconds) // 100 * 100
    if conn.connection.info.get(_LOCK_WAIT) != wait:
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.execute(f"PRAGMA busy_timeout={wait}")
        conn.connection.info[_LOCK_WAIT] = wait


def make_engine(url: str, timeout: float = DB_TIMEOUT) -> Engine:
    """An engine whose waits for a lock (and, on PostgreSQL, whose statements) last at most
    `timeout` seconds; a wait cut short raises OperationalError."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, timeout)
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        pool_timeout=min(timeout, threading.TIMEOUT_MAX),
        connect_args={
            "options": f"-c lock_timeout={millis(timeout)} -c statement_timeout={millis(timeout)}"
        },
    )


def _sqlite_engine(url: str, timeout: float) -> Engine:
    # A pool: opening a connection and setting its pragmas costs more than most queries here.
    engine = create_engine(
        url,
        pool_size=48,  # no fewer than the threads that use it: a new connection costs pragmas
        max_overflow=16,
        pool_pre_ping=False,
        pool_timeout=min(timeout, threading.TIMEOUT_MAX),
        connect_args={"check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so that BEGIN is ours (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a 200 response means the row is on disk, not just in the OS cache.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={millis(timeout)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A writer takes the lock up front: a deferred transaction that later upgrades to a
        # write can fail with SQLITE_BUSY without waiting for busy_timeout.
        # A reader runs single statements, each atomic on its own: no BEGIN, no COMMIT.
        if conn.get_execution_options().get(READ_ONLY):
            return
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
