"""The database layer every part of the store shares: the engine (SQLite tuned for a
durable single-writer queue, or PostgreSQL), the mapping of its errors to `StoreUnavailable`
and `Conflict`, one transaction per read or write, the group commit, and the settings version.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from sqlalchemy import Connection, Engine, create_engine, event, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from voxcall.store import migrate
from voxcall.store import schema as t
from voxcall.store.group_commit import GroupCommit
from voxcall.store.settings_cache import SettingsCache

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


class StoreUnavailable(Exception):
    """The database cannot be reached or written; nothing was changed."""


class Conflict(Exception):
    """A uniqueness rule refused the write (a name or id already taken)."""


def new_id() -> str:
    return uuid.uuid4().hex


class Database:
    """One database, and the transactions the store's aggregates run their statements in.

    Each aggregate of the store (projects, dialers, voices, the call queue, ...) is a
    subclass; `voxcall.store.store.Store` is all of them over one engine.
    """

    def __init__(self, engine: Engine, *, timeout: float = DB_TIMEOUT) -> None:
        self.engine = engine
        # A write waits at most this long for the database; then it is StoreUnavailable and
        # nothing of it is committed (a request answers 503, never a late 200).
        self.timeout = timeout
        self.clock: Callable[[], float] = time.monotonic
        # SQLite has one writer. Left to itself, a waiting writer polls the lock with sleeps
        # of up to 100 ms (busy_timeout); queueing on this lock instead wakes it at once.
        self._one_writer = threading.Lock() if engine.dialect.name == "sqlite" else None
        # PostgreSQL commits concurrent transactions together by itself; SQLite needs help.
        self._group = (
            GroupCommit(self._write, timeout, self._late, clock=lambda: self.clock())
            if engine.dialect.name == "sqlite"
            else None
        )
        self.settings = SettingsCache()
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        self._file = Path(database) if database and database != ":memory:" else None
        self._opened_file: tuple[int, int] | None = None  # (device, inode) once opened

    @classmethod
    def open(cls, url: str, *, create: bool = False, timeout: float = DB_TIMEOUT) -> Self:
        """Open a database at the schema this voxcall needs.

        `create` builds the schema in a database that has none yet (the embedded SQLite
        default); an existing database must be at the head revision (`voxcall db upgrade`).
        """
        store = cls(make_engine(url, timeout), timeout=timeout)
        try:
            with store._guard():
                if create and migrate.current_revision(store.engine) is None:
                    migrate.upgrade(store.engine)
                migrate.check(store.engine)
            if store._file is not None:
                store._opened_file = _file_identity(store._file)
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        self.engine.dispose()

    # -- transactions ---------------------------------------------------------------

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except IntegrityError as exc:
            raise Conflict(str(exc.orig)) from exc
        except PoolTimeout as exc:
            raise StoreUnavailable(
                f"no database connection was free for {self.timeout:g} s"
            ) from exc
        except OperationalError as exc:
            raise StoreUnavailable(str(exc.orig)) from exc
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise  # a programming error, not an outage
            raise StoreUnavailable(str(exc.orig)) from exc

    def _late(self) -> StoreUnavailable:
        return StoreUnavailable(f"the database stayed busy for {self.timeout:g} s")

    @contextmanager
    def _write(self, *, timeout: float | None = None) -> Iterator[Connection]:
        """A write transaction that must reach its commit within `timeout` seconds (the
        store's own timeout unless the caller knows its work takes longer)."""
        deadline = self.clock() + (self.timeout if timeout is None else timeout)
        with self._guard(), self._writer_lock(deadline), self.engine.connect() as conn:
            if self._one_writer is not None:  # SQLite: what is left for its busy wait
                set_lock_wait(conn, max(0.0, deadline - self.clock()))
            with conn.begin():
                yield conn
                # Checked before COMMIT, never after: past the deadline the transaction is
                # rolled back (503: nothing accepted); a commit once begun is answered as done.
                if self.clock() > deadline:
                    raise self._late()

    @contextmanager
    def _writer_lock(self, deadline: float) -> Iterator[None]:
        if self._one_writer is None:
            yield
            return
        wait = min(max(0.0, deadline - self.clock()), threading.TIMEOUT_MAX)
        if not self._one_writer.acquire(timeout=wait):
            raise self._late()
        try:
            yield
        finally:
            self._one_writer.release()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with (
            self._guard(),
            self.engine.connect().execution_options(**{READ_ONLY: True}) as conn,
            conn.begin(),
        ):
            yield conn

    def ping(self) -> None:
        """Return if the database answers; StoreUnavailable if not, or if the SQLite file
        opened at start is no longer the one at its path (removed, or replaced by a restore):
        connections opened from now on would write to another database than the open ones."""
        if self._file is not None and self._opened_file is not None:
            try:
                now = _file_identity(self._file)
            except OSError as exc:
                raise StoreUnavailable(f"{self._file}: {exc.strerror}; restart voxcall") from exc
            if now != self._opened_file:
                raise StoreUnavailable(
                    f"{self._file} was replaced while voxcall ran; restart voxcall"
                )
        with self._read() as conn:
            conn.exec_driver_sql("SELECT 1")


_SETTINGS_VERSION = select(t.settings_version.c.version)
_SETTINGS_MEMO = "voxcall_settings_version"  # in Connection.info: (transaction, version)


def current_settings_version(conn: Connection) -> int:
    """The settings version, read once per transaction: a group commit writes many requests
    in one, and nothing else can change the version while it holds the write lock."""
    transaction = conn.get_transaction()
    memo = conn.info.get(_SETTINGS_MEMO)
    if memo is not None and memo[0] is transaction:
        version: int = memo[1]
        return version
    version = conn.execute(_SETTINGS_VERSION).scalar_one()
    conn.info[_SETTINGS_MEMO] = (transaction, version)
    return version


def settings_changed(conn: Connection) -> None:
    """Inside the transaction of a change: cached settings are older than it from now on."""
    conn.execute(update(t.settings_version).values(version=t.settings_version.c.version + 1))
    conn.info.pop(_SETTINGS_MEMO, None)


def _file_identity(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_dev, stat.st_ino
