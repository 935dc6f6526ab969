"""The store: every read and write of voxcall's state, behind one narrow interface.

Each public method is one transaction. Writers that change a call check its current phase in
the WHERE clause, so a stale or duplicated update changes nothing instead of corrupting state.
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from voxcall.billing.money import toman
from voxcall.domain.calls import (
    AttemptRecord,
    AttemptState,
    Backlog,
    Call,
    CallStatus,
    ClaimedAttempt,
    NewCall,
    Phase,
)
from voxcall.domain.dialers import DialerConfig
from voxcall.domain.idempotency import IdempotentReplay
from voxcall.domain.money import LedgerEntry, Tariff
from voxcall.domain.projects import Project
from voxcall.domain.voices import Voice
from voxcall.domain.webhooks import WebhookDelivery, WebhookOutcome
from voxcall.store import migrate
from voxcall.store import schema as t
from voxcall.store.database import DB_TIMEOUT, READ_ONLY, make_engine, set_lock_wait
from voxcall.store.group_commit import GroupCommit
from voxcall.store.notify import announce
from voxcall.store.settings_cache import SettingsCache, StaleSettings


class StoreUnavailable(Exception):
    """The database cannot be reached or written; nothing was changed."""


class Conflict(Exception):
    """A uniqueness rule refused the write (a name or id already taken)."""


class InsufficientFunds(Exception):
    """The project's available balance cannot cover the reservation; nothing was written."""

    def __init__(self, needed_milli: int) -> None:
        super().__init__(f"{needed_milli} milli-Toman needed")
        self.needed_milli = needed_milli


class StorageQuotaExceeded(Exception):
    """The project's voice files would pass its storage quota; nothing was written."""

    def __init__(self, used: int, adding: int, quota: int) -> None:
        super().__init__(f"{used} + {adding} bytes over a quota of {quota}")
        self.used = used
        self.adding = adding
        self.quota = quota


def new_id() -> str:
    return uuid.uuid4().hex


class Store:
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
    def open(cls, url: str, *, create: bool = False, timeout: float = DB_TIMEOUT) -> Store:
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
    def _write(self) -> Iterator[Connection]:
        deadline = self.clock() + self.timeout
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

    # -- projects and tokens --------------------------------------------------------

    def create_project(
        self, name: str, *, rate_limit: int, allowed_regions: Sequence[str]
    ) -> Project:
        project = Project(
            id=new_id(),
            name=name,
            rate_limit=rate_limit,
            default_dialer_id=None,
            allowed_regions=tuple(allowed_regions),
            created_at=int(time.time()),
        )
        with self._write() as conn:
            conn.execute(
                insert(t.projects).values(
                    id=project.id,
                    name=project.name,
                    rate_limit=project.rate_limit,
                    default_dialer_id=None,
                    allowed_regions=",".join(project.allowed_regions),
                    balance_milli=0,
                    reserved_milli=0,
                    created_at=project.created_at,
                )
            )
        return project

    def list_projects(self) -> list[Project]:
        with self._read() as conn:
            rows = conn.execute(select(t.projects).order_by(t.projects.c.created_at)).all()
        return [_project(r._mapping) for r in rows]

    def project_by_name(self, name: str) -> Project | None:
        with self._read() as conn:
            row = conn.execute(select(t.projects).where(t.projects.c.name == name)).first()
        return _project(row._mapping) if row else None

    def update_project(
        self,
        project_id: str,
        *,
        rate_limit: int | None = None,
        default_dialer_id: str | None = None,
        clear_default_dialer: bool = False,
        allowed_regions: Sequence[str] | None = None,
        storage_quota: int | None = None,
    ) -> None:
        values: dict[str, Any] = {}
        if rate_limit is not None:
            values["rate_limit"] = rate_limit
        if storage_quota is not None:
            values["storage_quota"] = storage_quota
        if allowed_regions is not None:
            values["allowed_regions"] = ",".join(allowed_regions)
        if default_dialer_id is not None:
            values["default_dialer_id"] = default_dialer_id
        if clear_default_dialer:
            values["default_dialer_id"] = None
        if values:
            with self._write() as conn:
                conn.execute(update(t.projects).where(t.projects.c.id == project_id).values(values))
                _settings_changed(conn)

    def add_token(self, project_id: str, *, prefix: str, token_hash: str) -> None:
        with self._write() as conn:
            conn.execute(
                insert(t.api_tokens).values(
                    id=new_id(),
                    project_id=project_id,
                    prefix=prefix,
                    token_hash=token_hash,
                    created_at=int(time.time()),
                    revoked_at=None,
                )
            )

    def revoke_token(self, prefix: str, *, token_hash: str | None = None) -> int:
        """Revoke the live token with `prefix` (and `token_hash`, when given) if it is the
        only one. Returns how many live tokens matched: nothing is revoked unless it is 1."""
        live = and_(t.api_tokens.c.prefix == prefix, t.api_tokens.c.revoked_at.is_(None))
        if token_hash is not None:
            live = and_(live, t.api_tokens.c.token_hash == token_hash)
        with self._write() as conn:
            ids = conn.execute(select(t.api_tokens.c.id).where(live).limit(2)).scalars().all()
            if len(ids) == 1:
                conn.execute(
                    update(t.api_tokens)
                    .where(t.api_tokens.c.id == ids[0])
                    .values(revoked_at=int(time.time()))
                )
                _settings_changed(conn)
        return len(ids)

    def project_for_token(self, token_hash: str) -> Project | None:
        with self._read() as conn:
            version = _settings_version(conn)  # first: what follows is at least this new
            row = conn.execute(
                select(t.projects)
                .join(t.api_tokens, t.api_tokens.c.project_id == t.projects.c.id)
                .where(t.api_tokens.c.token_hash == token_hash, t.api_tokens.c.revoked_at.is_(None))
            ).first()
        if row is None:
            return None
        project = _project(row._mapping)
        self.settings.keep_project(version, token_hash, project)
        return project

    # -- dialers --------------------------------------------------------------------

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
            _settings_changed(conn)

    def list_dialers(self, *, enabled_only: bool = False) -> list[DialerConfig]:
        query = select(t.dialers).order_by(t.dialers.c.created_at, t.dialers.c.id)
        if enabled_only:
            query = query.where(t.dialers.c.enabled.is_(True))
        with self._read() as conn:
            version = _settings_version(conn)
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
            _settings_changed(conn)
        return result.rowcount == 1

    def set_dialer_enabled(self, dialer_id: str, enabled: bool) -> bool:
        with self._write() as conn:
            result = conn.execute(
                update(t.dialers).where(t.dialers.c.id == dialer_id).values(enabled=enabled)
            )
            _settings_changed(conn)
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

    def backlog(self) -> Backlog:
        """Calls queued and dialing, and webhook events waiting: counted from indexes."""
        calls = select(func.count()).select_from(t.calls)
        with self._read() as conn:
            queued = conn.execute(calls.where(t.calls.c.phase == Phase.QUEUED.value)).scalar_one()
            dialing = conn.execute(calls.where(t.calls.c.phase == Phase.DIALING.value)).scalar_one()
            pending = conn.execute(
                select(func.count()).where(
                    t.webhook_events.c.delivered_at.is_(None),
                    t.webhook_events.c.failed_at.is_(None),
                )
            ).scalar_one()
        return Backlog(queued, dialing, pending)

    # -- voices ---------------------------------------------------------------------

    def add_voice(self, voice: Voice) -> None:
        """Store a voice whose files are on disk; StorageQuotaExceeded if they do not fit."""
        with self._write() as conn:
            _insert_voice(conn, voice)

    def storage_used(self, project_id: str) -> int:
        """Bytes the project's live voices take on disk."""
        with self._read() as conn:
            return _storage_used(conn, project_id)

    def list_voices(self, project_id: str) -> list[Voice]:
        with self._read() as conn:
            rows = conn.execute(
                select(t.voices)
                .where(
                    t.voices.c.project_id == project_id,
                    t.voices.c.deleted_at.is_(None),
                    t.voices.c.kind != "otp",
                )
                .order_by(t.voices.c.created_at, t.voices.c.id)
            ).all()
        return [_voice(r._mapping) for r in rows]

    def get_voice(self, project_id: str, voice_id: str) -> Voice | None:
        with self._read() as conn:
            version = _settings_version(conn)
            row = conn.execute(
                select(t.voices).where(
                    t.voices.c.id == voice_id,
                    t.voices.c.project_id == project_id,
                    t.voices.c.deleted_at.is_(None),
                )
            ).first()
        if row is None:
            return None
        voice = _voice(row._mapping)
        self.settings.keep_voice(version, voice)
        return voice

    def voice_by_source(self, project_id: str, source_hash: str) -> Voice | None:
        """A synthesized voice already made from the same text and language."""
        with self._read() as conn:
            row = conn.execute(
                select(t.voices)
                .where(
                    t.voices.c.project_id == project_id,
                    t.voices.c.source_hash == source_hash,
                    t.voices.c.deleted_at.is_(None),
                )
                .limit(1)
            ).first()
        return _voice(row._mapping) if row else None

    def retire_code_voices(self) -> list[tuple[str, str]]:
        """Mark deleted every one-time-code voice no call that is not final uses: it holds a
        code nobody will hear again. Returns their (project id, voice id)."""
        in_use = exists().where(
            t.calls.c.voice_id == t.voices.c.id, t.calls.c.phase != Phase.FINAL.value
        )
        with self._write() as conn:
            rows = conn.execute(
                select(t.voices.c.project_id, t.voices.c.id).where(
                    t.voices.c.kind == "otp", t.voices.c.deleted_at.is_(None), ~in_use
                )
            ).all()
            if rows:
                conn.execute(
                    update(t.voices)
                    .where(t.voices.c.id.in_([r.id for r in rows]))
                    .values(deleted_at=int(time.time()))
                )
                _settings_changed(conn)
        return [(r.project_id, r.id) for r in rows]

    def live_voice_ids(self, project_id: str) -> set[str]:
        with self._read() as conn:
            rows = conn.execute(
                select(t.voices.c.id).where(
                    t.voices.c.project_id == project_id, t.voices.c.deleted_at.is_(None)
                )
            ).scalars()
            return set(rows)

    def delete_voice(self, project_id: str, voice_id: str) -> bool | None:
        """Mark a voice deleted. None: no such voice; False: a non-final call uses it."""
        with self._write() as conn:
            live = conn.execute(
                select(t.voices.c.id).where(
                    t.voices.c.id == voice_id,
                    t.voices.c.project_id == project_id,
                    t.voices.c.deleted_at.is_(None),
                )
            ).first()
            if live is None:
                return None
            in_use = conn.execute(
                select(t.calls.c.id)
                .where(t.calls.c.voice_id == voice_id, t.calls.c.phase != Phase.FINAL.value)
                .limit(1)
            ).first()
            if in_use is not None:
                return False
            conn.execute(
                update(t.voices)
                .where(t.voices.c.id == voice_id)
                .values(deleted_at=int(time.time()))
            )
            _settings_changed(conn)
        return True

    # -- calls ----------------------------------------------------------------------

    def insert_calls(
        self,
        new_calls: Sequence[NewCall],
        *,
        idempotency: tuple[str, str, Callable[[list[Call]], str]] | None = None,
        settings_version: int | None = None,
        new_voice: Voice | None = None,
    ) -> list[Call]:
        """Store call requests, all or none, each due at once, and reserve what they may cost.

        `new_voice`: a voice made for these calls (speech), stored in the same transaction, so
        that a refused request leaves no voice behind.

        The reservation is checked and taken by one conditional UPDATE, so concurrent requests
        can never reserve more than the balance. `settings_version`: the version of the cached
        settings the request was checked against; StaleSettings if they have changed since.
        """
        now = time.time()
        rows = [
            {
                "id": c.id,
                "project_id": c.project_id,
                "campaign_id": c.campaign_id,
                "campaign_index": index if c.campaign_id else None,
                "voice_id": c.voice_id,
                "national_number": c.national_number,
                "e164": c.e164,
                "dialer_id": c.dialer_id,
                "status": CallStatus.WAITING.name,
                "phase": Phase.QUEUED.value,
                "retry_count": c.retry_count,
                "retry_interval": c.retry_interval,
                "request_date": c.request_date,
                "expires_at": c.expires_at,
                "next_attempt_at": now,
                "execution_date": 0,
                "attempts": 0,
                "bill_sec": 0,
                "price_milli": 0,
                "reserved_milli": c.reserved_milli,
                "cause": "",
                "updated_at": now,
            }
            for index, c in enumerate(new_calls)
        ]
        needed: dict[str, int] = {}
        for c in new_calls:
            needed[c.project_id] = needed.get(c.project_id, 0) + c.reserved_milli

        def work(conn: Connection) -> list[Call]:
            if settings_version is not None and _settings_version(conn) != settings_version:
                raise StaleSettings
            for project_id, amount in needed.items():
                if amount == 0:
                    continue
                reserved = conn.execute(_RESERVE, {"b_id": project_id, "b_amount": amount})
                if reserved.rowcount != 1:
                    raise InsufficientFunds(amount)
            if new_voice is not None:
                _insert_voice(conn, new_voice)
            conn.execute(_INSERT_CALLS, rows)
            announce(conn)
            calls = [_call(r) for r in rows]
            if idempotency is not None:
                # The response is stored with the calls: a crash keeps both or neither.
                project_id, key, respond = idempotency
                _complete_idempotent(conn, project_id, key, 200, respond(calls))
            return calls

        with self._guard():
            if self._group is not None:
                return self._group.run(work)
            with self._write() as conn:
                return work(conn)

    def get_call(self, project_id: str, call_id: str) -> Call | None:
        with self._read() as conn:
            row = conn.execute(
                select(t.calls).where(t.calls.c.id == call_id, t.calls.c.project_id == project_id)
            ).first()
        return _call(row._mapping) if row else None

    def campaign_calls(self, project_id: str, campaign_id: str) -> list[Call]:
        with self._read() as conn:
            rows = conn.execute(
                select(t.calls)
                .where(t.calls.c.project_id == project_id, t.calls.c.campaign_id == campaign_id)
                .order_by(t.calls.c.campaign_index)
            ).all()
        return [_call(r._mapping) for r in rows]

    def cancel_call(self, project_id: str, call_id: str) -> Call | None:
        """Expire a call whose next attempt has not started; a live or final call is unchanged."""
        with self._write() as conn:
            _close(
                conn,
                and_(
                    t.calls.c.id == call_id,
                    t.calls.c.project_id == project_id,
                    t.calls.c.phase == Phase.QUEUED.value,
                ),
                _Ending(CallStatus.EXPIRED, "cancelled by the client"),
            )
            row = conn.execute(
                select(t.calls).where(t.calls.c.id == call_id, t.calls.c.project_id == project_id)
            ).first()
        return _call(row._mapping) if row else None

    def claim_due(
        self, dialer: DialerConfig, limit: int, now: float, *, worker_id: str | None = None
    ) -> list[ClaimedAttempt]:
        """Start up to `limit` due attempts on `dialer`, within its free channels and its
        calls-per-second budget (`cps_budget`).

        Both are read and spent inside the transaction that records the attempts, with the
        dialer's row locked, so the limits hold for every worker sharing the database.
        """
        with self._write() as conn:
            row = conn.execute(
                select(t.dialers.c.channels, t.dialers.c.cps, t.dialers.c.enabled)
                .where(t.dialers.c.id == dialer.id)
                .with_for_update()
            ).one()
            if not row.enabled:
                return []
            busy = conn.execute(
                select(func.count()).where(
                    t.attempts.c.dialer_id == dialer.id,
                    t.attempts.c.state == AttemptState.DIALING.value,
                )
            ).scalar_one()
            window, per_window = cps_budget(row.cps)
            # No upper bound: a worker whose `now` lags still counts what others started.
            recent = conn.execute(
                select(func.count()).where(
                    t.attempts.c.dialer_id == dialer.id, t.attempts.c.started_at > now - window
                )
            ).scalar_one()
            limit = min(limit, row.channels - busy, per_window - recent)
            return self._claim(conn, dialer.id, limit, now, worker_id) if limit > 0 else []

    def _claim(
        self, conn: Connection, dialer_id: str, limit: int, now: float, worker_id: str | None
    ) -> list[ClaimedAttempt]:
        """Mark up to `limit` due calls as dialing and record their attempts (one statement
        claims them: FOR UPDATE SKIP LOCKED on PostgreSQL, the write lock on SQLite)."""
        # A CTE with a locking clause is evaluated once; an IN (subquery) may be re-run by
        # PostgreSQL's planner, and with SKIP LOCKED each run finds other rows.
        due = (
            select(t.calls.c.id)
            .where(
                t.calls.c.phase == Phase.QUEUED.value,
                t.calls.c.next_attempt_at <= now,
                t.calls.c.expires_at > int(now),
                or_(t.calls.c.dialer_id == dialer_id, t.calls.c.dialer_id.is_(None)),
            )
            .order_by(t.calls.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("due")
        )
        rows = conn.execute(
            update(t.calls)
            .add_cte(due)
            .where(t.calls.c.id == due.c.id, t.calls.c.phase == Phase.QUEUED.value)
            .values(
                phase=Phase.DIALING.value,
                attempts=t.calls.c.attempts + 1,
                execution_date=int(now),
                updated_at=now,
            )
            .returning(*t.calls.c)
        ).all()
        claimed = [
            ClaimedAttempt(
                attempt_id=new_id(),
                number=r._mapping["attempts"],
                call=_call(r._mapping),
                dialer_id=dialer_id,
                started_at=now,
            )
            for r in rows
        ]
        if claimed:
            conn.execute(
                insert(t.attempts),
                [
                    {
                        "id": a.attempt_id,
                        "call_id": a.call.id,
                        "number": a.number,
                        "dialer_id": dialer_id,
                        "worker_id": worker_id,
                        "state": AttemptState.DIALING.value,
                        "result": None,
                        "started_at": now,
                        "answered_at": None,
                        "ended_at": None,
                        "bill_sec": 0,
                        "cause": "",
                    }
                    for a in claimed
                ],
            )
        return claimed

    def finish_attempt(self, call_id: str, record: AttemptRecord) -> bool:
        """Record how an attempt ended and what its call becomes, in one transaction.

        False when the attempt was no longer live (already recorded or declared UNKNOWN).
        """
        return self.finish_attempts([(call_id, record)])[0]

    def finish_attempts(self, outcomes: Sequence[tuple[str, AttemptRecord]]) -> list[bool]:
        """`finish_attempt` for many attempts in one transaction (one commit, one fsync)."""
        with self._write() as conn:
            return _finish(conn, outcomes)

    def expire_due(self, now: float) -> int:
        """Calls waiting for an attempt past their time to live become EXPIRED."""
        with self._write() as conn:
            return _close(
                conn,
                and_(t.calls.c.phase == Phase.QUEUED.value, t.calls.c.expires_at <= int(now)),
                _Ending(CallStatus.EXPIRED, "time to live passed"),
            )

    def recover_interrupted(self) -> int:
        """At start-up of the only worker (SQLite): every live attempt is a dead process's.

        Their calls are final: the callee may have been reached, so they are never re-dialled.
        """
        with self._write() as conn:
            return _abandon(
                conn, t.attempts.c.state == AttemptState.DIALING.value, "voxcall stopped"
            )

    # -- workers --------------------------------------------------------------------

    def register_worker(self, worker_id: str, *, host: str, pid: int, now: float) -> None:
        with self._write() as conn:
            conn.execute(
                insert(t.workers).values(
                    id=worker_id, host=host, pid=pid, started_at=now, heartbeat_at=now
                )
            )

    def heartbeat(self, worker_id: str, now: float) -> bool:
        """Renew the worker's lease. False: it was declared dead and must stop dialing."""
        with self._write() as conn:
            result = conn.execute(
                update(t.workers).where(t.workers.c.id == worker_id).values(heartbeat_at=now)
            )
        return result.rowcount == 1

    def unregister_worker(self, worker_id: str) -> None:
        with self._write() as conn:
            conn.execute(t.workers.delete().where(t.workers.c.id == worker_id))

    def reap_dead_workers(self, now: float, lease: float) -> int:
        """Workers silent for longer than `lease` are dead: their live attempts become
        UNKNOWN (their channels free again) and their rows go. Returns the calls closed."""
        with self._write() as conn:
            dead = [
                r.id
                for r in conn.execute(
                    select(t.workers.c.id).where(t.workers.c.heartbeat_at < now - lease)
                ).all()
            ]
            closed = 0
            if dead:
                closed = _abandon(
                    conn,
                    and_(
                        t.attempts.c.state == AttemptState.DIALING.value,
                        t.attempts.c.worker_id.in_(dead),
                    ),
                    "its worker stopped answering",
                )
                conn.execute(t.workers.delete().where(t.workers.c.id.in_(dead)))
        return closed

    def live_workers(self) -> list[Mapping[str, Any]]:
        with self._read() as conn:
            return [dict(r._mapping) for r in conn.execute(select(t.workers)).all()]

    # -- webhooks -------------------------------------------------------------------

    def set_webhook(self, project_id: str, url: str | None, secret: str | None) -> None:
        with self._write() as conn:
            conn.execute(
                update(t.projects)
                .where(t.projects.c.id == project_id)
                .values(webhook_url=url, webhook_secret=secret)
            )

    def lease_webhooks(
        self,
        now: float,
        *,
        limit: int,
        lease: float,
        per_project: int,
        room: Mapping[str, int] | None = None,
    ) -> list[WebhookDelivery]:
        """Take due events for one delivery attempt each, oldest first: at most `limit`, and
        of a project at most its `room` if it has one there, else `per_project`, so that the
        caller can send everything taken at once. The lease hides them from other
        deliverers until it runs out (a crash mid-delivery means a later re-send)."""
        events = t.webhook_events
        room = room or {}
        with self._write() as conn:
            # The projects whose oldest pending event is due, oldest first: the first `limit`
            # of them hold the `limit` oldest events any lease may take.
            lanes = sorted(
                (oldest, project)
                for project, oldest in conn.execute(_OLDEST_PENDING).all()
                if oldest is not None and oldest <= now and room.get(project, per_project) > 0
            )[:limit]
            if not lanes:
                return []
            firsts = [
                select(events.c.id)
                .where(
                    events.c.project_id == project,
                    events.c.delivered_at.is_(None),
                    events.c.failed_at.is_(None),
                    events.c.next_attempt_at <= now,
                )
                .order_by(events.c.next_attempt_at)
                .limit(room.get(project, per_project))
                .subquery()
                for _, project in lanes
            ]
            candidates = union_all(*(select(first.c.id) for first in firsts)).subquery()
            due = (
                select(events.c.id)
                .where(events.c.id.in_(select(candidates.c.id)))
                .order_by(events.c.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
                .cte("due")  # evaluated once: see _claim
            )
            leased = conn.execute(
                update(t.webhook_events)
                .add_cte(due)
                .where(t.webhook_events.c.id == due.c.id)
                .values(
                    next_attempt_at=now + lease,
                    attempts=t.webhook_events.c.attempts + 1,
                )
                .returning(*t.webhook_events.c)
            ).all()
            if not leased:
                return []
            projects = {
                r.id: (r.webhook_url, r.webhook_secret)
                for r in conn.execute(
                    select(t.projects).where(t.projects.c.id.in_({e.project_id for e in leased}))
                ).all()
            }
        deliveries = []
        for e in leased:
            url, secret = projects[e.project_id]
            if url and secret:  # a webhook cleared since: nothing to deliver to
                deliveries.append(
                    WebhookDelivery(
                        id=e.id,
                        project_id=e.project_id,
                        call_id=e.call_id,
                        payload=e.payload,
                        url=url,
                        secret=secret,
                        attempts=e.attempts,
                        created_at=e.created_at,
                    )
                )
        return deliveries

    def webhook_outcomes(self, outcomes: Sequence[WebhookOutcome]) -> None:
        """Record how attempts ended, all in one transaction (one commit)."""
        delivered, retried, given_up = [], [], []
        for o in outcomes:
            if o.error is None:
                delivered.append({"b_id": o.event_id, "b_at": o.at})
            elif o.retry_at is None:
                given_up.append({"b_id": o.event_id, "b_error": o.error[:300], "b_at": o.at})
            else:
                retried.append({"b_id": o.event_id, "b_error": o.error[:300], "b_at": o.retry_at})
        with self._write() as conn:
            for statement, rows in (
                (_WEBHOOK_DELIVERED, delivered),
                (_WEBHOOK_RETRY, retried),
                (_WEBHOOK_GIVEN_UP, given_up),
            ):
                if rows:
                    conn.execute(statement, rows)

    def webhook_events(self, project_id: str) -> list[Mapping[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(
                select(t.webhook_events)
                .where(t.webhook_events.c.project_id == project_id)
                .order_by(t.webhook_events.c.created_at)
            ).all()
        return [dict(r._mapping) for r in rows]

    # -- idempotency ----------------------------------------------------------------

    def begin_idempotent(
        self, project_id: str, key: str, request_hash: str, now: float, *, stale_after: float
    ) -> IdempotentReplay:
        """Claim `key` for this request, or say what it already stands for.

        A key older than 24 h is forgotten; one left pending longer than `stale_after` by a
        process that died is taken over (its request committed nothing).
        """
        keys = t.idempotency_keys
        with self._write() as conn:
            row = conn.execute(
                select(keys).where(keys.c.project_id == project_id, keys.c.key == key)
            ).first()
            if row is not None:
                expired = row.created_at < now - 86400
                abandoned = row.status_code is None and row.created_at < now - stale_after
                if not (expired or abandoned):
                    if row.request_hash != request_hash:
                        return IdempotentReplay("conflict")
                    if row.status_code is None:
                        return IdempotentReplay("pending")
                    return IdempotentReplay("done", row.status_code, row.response)
                conn.execute(
                    keys.delete().where(keys.c.project_id == project_id, keys.c.key == key)
                )
            conn.execute(
                insert(keys).values(
                    project_id=project_id,
                    key=key,
                    request_hash=request_hash,
                    status_code=None,
                    response=None,
                    created_at=now,
                )
            )
        return IdempotentReplay("new")

    def complete_idempotent(
        self, project_id: str, key: str, status_code: int, response: str
    ) -> None:
        with self._write() as conn:
            _complete_idempotent(conn, project_id, key, status_code, response)

    def forget_idempotent(self, project_id: str, key: str) -> None:
        """Drop a pending key whose request failed on our side, so that a retry runs."""
        keys = t.idempotency_keys
        with self._write() as conn:
            conn.execute(
                keys.delete().where(
                    keys.c.project_id == project_id,
                    keys.c.key == key,
                    keys.c.status_code.is_(None),
                )
            )

    # -- money ----------------------------------------------------------------------

    def credit(self, project_id: str, amount_milli: int, *, kind: str, note: str) -> LedgerEntry:
        """A top-up (positive) or an adjustment (either sign) of a project's balance."""
        if kind not in ("topup", "adjustment") or (kind == "topup" and amount_milli <= 0):
            raise ValueError("amount: a top-up must be positive")
        with self._write() as conn:
            balance = conn.execute(
                update(t.projects)
                .where(
                    t.projects.c.id == project_id,
                    t.projects.c.balance_milli - t.projects.c.reserved_milli + amount_milli >= 0,
                )
                .values(balance_milli=t.projects.c.balance_milli + amount_milli)
                .returning(t.projects.c.balance_milli)
            ).scalar_one_or_none()
            if balance is None:
                raise InsufficientFunds(-amount_milli)
            return _append_ledger(conn, project_id, kind, amount_milli, balance, note)

    def statement(self, project_id: str, *, limit: int = 1000) -> list[LedgerEntry]:
        """The project's ledger, newest first."""
        with self._read() as conn:
            rows = conn.execute(
                select(t.ledger)
                .where(t.ledger.c.project_id == project_id)
                .order_by(t.ledger.c.seq.desc())
                .limit(limit)
            ).all()
        names = [f.name for f in dataclasses.fields(LedgerEntry)]
        return [LedgerEntry(**{n: r._mapping[n] for n in names}) for r in rows]

    def get_project(self, project_id: str) -> Project | None:
        with self._read() as conn:
            row = conn.execute(select(t.projects).where(t.projects.c.id == project_id)).first()
        return _project(row._mapping) if row else None

    def attempts_of(self, call_id: str) -> list[Mapping[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(
                select(t.attempts)
                .where(t.attempts.c.call_id == call_id)
                .order_by(t.attempts.c.number)
            ).all()
        return [dict(r._mapping) for r in rows]

    def count_calls(self, *, project_id: str | None = None) -> dict[str, int]:
        query = select(t.calls.c.status, func.count()).group_by(t.calls.c.status)
        if project_id is not None:
            query = query.where(and_(t.calls.c.project_id == project_id))
        with self._read() as conn:
            return {status: n for status, n in conn.execute(query).all()}


def cps_budget(cps: float) -> tuple[float, int]:
    """A calls-per-second limit as (window seconds, attempts a window may start): claims at
    `now` count the attempts started after `now - window`, so every window of that length,
    however placed, holds at most that many (a sliding window: no burst on top of the rate).
    A fractional limit rounds down to whole calls per second; below 1, one call per 1/cps s.
    """
    if cps >= 1:
        return 1.0, math.floor(cps)
    return 1.0 / cps, 1


# Statements of the hot paths, built once: building a statement costs more than running it.
# Those run with a list of parameter sets (executemany) take a whole batch in one call.
_SETTINGS_VERSION = select(t.settings_version.c.version)
_SETTINGS_MEMO = "voxcall_settings_version"  # in Connection.info: (transaction, version)
# The reservation: taken only if the balance minus what is already reserved covers it.
_RESERVE = (
    update(t.projects)
    .where(
        t.projects.c.id == bindparam("b_id"),
        t.projects.c.balance_milli - t.projects.c.reserved_milli >= bindparam("b_amount"),
    )
    .values(reserved_milli=t.projects.c.reserved_milli + bindparam("b_amount"))
)
_INSERT_CALLS = insert(t.calls)
# Each project with a webhook, and the next_attempt_at of its oldest pending event (a seek in
# ix_webhook_events_lane), or NULL.
_OLDEST_PENDING = select(
    t.projects.c.id,
    select(func.min(t.webhook_events.c.next_attempt_at))
    .where(
        t.webhook_events.c.project_id == t.projects.c.id,
        t.webhook_events.c.delivered_at.is_(None),
        t.webhook_events.c.failed_at.is_(None),
    )
    .scalar_subquery(),
).where(t.projects.c.webhook_url.is_not(None))
# How a webhook attempt ended; b_at is when it was delivered, given up, or is to be retried.
_WEBHOOK_OUTCOME = update(t.webhook_events).where(t.webhook_events.c.id == bindparam("b_id"))
_WEBHOOK_DELIVERED = _WEBHOOK_OUTCOME.values(delivered_at=bindparam("b_at"), last_error="")
_WEBHOOK_RETRY = _WEBHOOK_OUTCOME.values(
    last_error=bindparam("b_error"), next_attempt_at=bindparam("b_at")
)
_WEBHOOK_GIVEN_UP = _WEBHOOK_OUTCOME.values(
    last_error=bindparam("b_error"), failed_at=bindparam("b_at")
)
_END_ATTEMPT = (
    update(t.attempts)
    .where(t.attempts.c.id == bindparam("b_id"))
    .values(
        state=AttemptState.DONE.value,
        result=bindparam("b_result"),
        answered_at=bindparam("b_answered_at"),
        ended_at=bindparam("b_ended_at"),
        bill_sec=bindparam("b_bill_sec"),
        cause=bindparam("b_cause"),
    )
)
_REQUEUE_CALL = (
    update(t.calls)
    .where(t.calls.c.id == bindparam("b_id"), t.calls.c.phase == Phase.DIALING.value)
    .values(
        status=bindparam("b_status"),
        phase=Phase.QUEUED.value,
        cause=bindparam("b_cause"),
        next_attempt_at=bindparam("b_next_attempt_at"),
        updated_at=bindparam("b_updated_at"),
    )
)
_FINAL_CALL = (
    update(t.calls)
    .where(t.calls.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        phase=Phase.FINAL.value,
        cause=bindparam("b_cause"),
        bill_sec=bindparam("b_bill_sec"),
        price_milli=bindparam("b_price_milli"),
        reserved_milli=0,
        updated_at=bindparam("b_updated_at"),
    )
)


@dataclasses.dataclass(frozen=True, slots=True)
class _Ending:
    """What a call becomes when it is closed. `bill_sec` counts only if it ends NORMAL."""

    status: CallStatus
    cause: str
    bill_sec: int = 0
    price_milli: int = 0


def _file_identity(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_dev, stat.st_ino


def _finish(conn: Connection, outcomes: Sequence[tuple[str, AttemptRecord]]) -> list[bool]:
    """Record attempts' ends and their calls' next state, set-wise. An attempt that is no
    longer live (recorded already, or declared UNKNOWN) is left alone: False."""
    live = set(
        conn.scalars(
            select(t.attempts.c.id)
            .where(
                t.attempts.c.id.in_([record.attempt_id for _, record in outcomes]),
                t.attempts.c.state == AttemptState.DIALING.value,
            )
            .with_for_update()
        )
    )
    done = [(call_id, r) for call_id, r in outcomes if r.attempt_id in live]
    if not done:
        return [False] * len(outcomes)
    conn.execute(
        _END_ATTEMPT,
        [
            {
                "b_id": r.attempt_id,
                "b_result": r.result,
                "b_answered_at": r.answered_at,
                "b_ended_at": r.ended_at,
                "b_bill_sec": r.bill_sec,
                "b_cause": r.cause,
            }
            for _, r in done
        ],
    )
    now = time.time()
    requeued = [
        {
            "b_id": call_id,
            "b_status": r.call_status.name,
            "b_cause": r.cause,
            "b_next_attempt_at": r.next_attempt_at,
            "b_updated_at": now,
        }
        for call_id, r in done
        if not r.call_status.is_final
    ]
    if requeued:
        conn.execute(_REQUEUE_CALL, requeued)
    endings = {
        call_id: _Ending(
            r.call_status,
            r.cause,
            bill_sec=r.bill_sec,
            price_milli=r.price_milli if r.call_status is CallStatus.NORMAL else 0,
        )
        for call_id, r in done
        if r.call_status.is_final
    }
    if endings:
        _close(
            conn,
            and_(t.calls.c.id.in_(list(endings)), t.calls.c.phase == Phase.DIALING.value),
            endings,
        )
    return [r.attempt_id in live for _, r in outcomes]


def _abandon(conn: Connection, attempts: ColumnElement[bool], why: str) -> int:
    """Live attempts whose process is gone become UNKNOWN, and so do their calls."""
    cause = f"outcome unknown: {why} during the attempt"
    call_ids = [r.call_id for r in conn.execute(select(t.attempts.c.call_id).where(attempts))]
    if not call_ids:
        return 0
    conn.execute(
        update(t.attempts)
        .where(attempts)
        .values(
            state=AttemptState.UNKNOWN.value, result="UNKNOWN", ended_at=time.time(), cause=cause
        )
    )
    return _close(
        conn,
        and_(t.calls.c.id.in_(call_ids), t.calls.c.phase == Phase.DIALING.value),
        _Ending(CallStatus.UNKNOWN, cause),
    )


def _close(
    conn: Connection, where: ColumnElement[bool], ending: _Ending | Mapping[str, _Ending]
) -> int:
    """Make the calls matching `where` final (each as `ending`, or as its entry in it): release
    their reservations, debit the ledger for priced calls, queue their webhook events. The one
    path by which every call ends."""
    rows = conn.execute(
        select(t.calls, t.projects.c.webhook_url)
        .join(t.projects, t.projects.c.id == t.calls.c.project_id)
        .where(where)
        .with_for_update(of=t.calls)
    ).all()
    if not rows:
        return 0
    now = time.time()
    finals: list[dict[str, Any]] = []
    money: dict[str, list[tuple[str, int, int]]] = {}  # project -> (call, reserved, price)
    events: list[dict[str, Any]] = []
    for row in rows:
        end = ending if isinstance(ending, _Ending) else ending[row.id]
        # Never take more than was reserved at acceptance: that was the promised maximum.
        price = min(end.price_milli, row.reserved_milli)
        # Only a NORMAL call was billed: the answered seconds of an attempt that failed
        # (answered, then an error) stay in its attempt's row, for the operator.
        bill_sec = end.bill_sec if end.status is CallStatus.NORMAL else 0
        finals.append(
            {
                "b_id": row.id,
                "b_status": end.status.name,
                "b_cause": end.cause,
                "b_bill_sec": bill_sec,
                "b_price_milli": price,
                "b_updated_at": now,
            }
        )
        if row.reserved_milli or price:
            money.setdefault(row.project_id, []).append((row.id, row.reserved_milli, price))
        if row.webhook_url:
            events.append(_event(row, end.status, bill_sec, price, now))
    conn.execute(_FINAL_CALL, finals)
    ledger: list[dict[str, Any]] = []
    for project_id, calls in money.items():
        balance = conn.execute(
            update(t.projects)
            .where(t.projects.c.id == project_id)
            .values(
                reserved_milli=t.projects.c.reserved_milli - sum(c[1] for c in calls),
                balance_milli=t.projects.c.balance_milli - sum(c[2] for c in calls),
            )
            .returning(t.projects.c.balance_milli)
        ).scalar_one()
        # One row per debit, each with the balance just after it, in order.
        running = balance + sum(price for _, _, price in calls)
        for call_id, _, price in calls:
            if price:
                running -= price
                ledger.append(
                    dataclasses.asdict(
                        _ledger_entry("debit", -price, running, "call", call_id=call_id)
                    )
                    | {"project_id": project_id}
                )
    if ledger:
        conn.execute(insert(t.ledger), ledger)
    if events:
        conn.execute(insert(t.webhook_events), events)
    return len(rows)


def _event(row: Any, status: CallStatus, bill_sec: int, price: int, now: float) -> dict[str, Any]:
    """The call's one webhook event (its project has a webhook: api.md §6)."""
    payload = {
        "requestId": row.id,
        "campaignId": row.campaign_id,
        "balanceSubtracted": toman(price),
        "cause": status.name,
        "statusCode": status.code,
        "billSec": bill_sec,
        "number": row.national_number,
        "requestDate": row.request_date,
        "executionDate": row.execution_date,
    }
    return {
        "id": new_id(),
        "project_id": row.project_id,
        "call_id": row.id,
        "payload": json.dumps(payload, separators=(",", ":")),
        "created_at": now,
        "next_attempt_at": now,
        "attempts": 0,
        "delivered_at": None,
        "failed_at": None,
        "last_error": "",
    }


def _complete_idempotent(
    conn: Connection, project_id: str, key: str, status_code: int, response: str
) -> None:
    conn.execute(
        update(t.idempotency_keys)
        .where(t.idempotency_keys.c.project_id == project_id, t.idempotency_keys.c.key == key)
        .values(status_code=status_code, response=response)
    )


def _append_ledger(
    conn: Connection,
    project_id: str,
    kind: str,
    amount_milli: int,
    balance: int,
    note: str,
    *,
    call_id: str | None = None,
) -> LedgerEntry:
    """Append a ledger row; the caller has changed the project's balance to `balance`."""
    entry = _ledger_entry(kind, amount_milli, balance, note, call_id=call_id)
    conn.execute(insert(t.ledger).values(**dataclasses.asdict(entry), project_id=project_id))
    return entry


def _ledger_entry(
    kind: str, amount_milli: int, balance: int, note: str, *, call_id: str | None = None
) -> LedgerEntry:
    return LedgerEntry(
        id=new_id(),
        kind=kind,
        amount_milli=amount_milli,
        balance_after_milli=balance,
        call_id=call_id,
        note=note,
        created_at=time.time(),
    )


def _project(m: Mapping[Any, Any]) -> Project:
    return Project(
        id=m["id"],
        name=m["name"],
        rate_limit=m["rate_limit"],
        default_dialer_id=m["default_dialer_id"],
        allowed_regions=tuple(r for r in m["allowed_regions"].split(",") if r),
        created_at=m["created_at"],
        balance_milli=m["balance_milli"],
        reserved_milli=m["reserved_milli"],
        webhook_url=m["webhook_url"],
        storage_quota=m["storage_quota"],
    )


def _settings_version(conn: Connection) -> int:
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


def _settings_changed(conn: Connection) -> None:
    """Inside the transaction of a change: cached settings are older than it from now on."""
    conn.execute(update(t.settings_version).values(version=t.settings_version.c.version + 1))
    conn.info.pop(_SETTINGS_MEMO, None)


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


def _insert_voice(conn: Connection, voice: Voice) -> None:
    # The project's row is locked first (PostgreSQL), so that two uploads at once cannot
    # both fit in the room left for one; SQLite has one writer anyway.
    quota = conn.execute(
        select(t.projects.c.storage_quota)
        .where(t.projects.c.id == voice.project_id)
        .with_for_update()
    ).scalar_one()
    used = _storage_used(conn, voice.project_id)
    if used + voice.stored_bytes > quota:
        raise StorageQuotaExceeded(used, voice.stored_bytes, quota)
    conn.execute(insert(t.voices).values(**dataclasses.asdict(voice), deleted_at=None))


def _storage_used(conn: Connection, project_id: str) -> int:
    used = conn.execute(
        select(func.coalesce(func.sum(t.voices.c.stored_bytes), 0)).where(
            t.voices.c.project_id == project_id, t.voices.c.deleted_at.is_(None)
        )
    ).scalar_one()
    return int(used)


def _voice(m: Mapping[Any, Any]) -> Voice:
    return Voice(**{f.name: m[f.name] for f in dataclasses.fields(Voice)})


def _call(m: Mapping[Any, Any]) -> Call:
    return Call(
        id=m["id"],
        project_id=m["project_id"],
        campaign_id=m["campaign_id"],
        voice_id=m["voice_id"],
        national_number=m["national_number"],
        e164=m["e164"],
        dialer_id=m["dialer_id"],
        status=CallStatus[m["status"]],
        phase=Phase(m["phase"]),
        retry_count=m["retry_count"],
        retry_interval=m["retry_interval"],
        request_date=m["request_date"],
        expires_at=m["expires_at"],
        next_attempt_at=m["next_attempt_at"],
        execution_date=m["execution_date"],
        attempts=m["attempts"],
        bill_sec=m["bill_sec"],
        price_milli=m["price_milli"],
        reserved_milli=m["reserved_milli"],
        cause=m["cause"],
    )
