"""Projects and their tokens, balances and ledgers."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from voxcall.domain.money import LedgerEntry
from voxcall.domain.projects import Project
from voxcall.store import schema as t
from voxcall.store.database import Database, current_settings_version, new_id, settings_changed


class InsufficientFunds(Exception):
    """The project's available balance cannot cover the reservation; nothing was written."""

    def __init__(self, needed_milli: int) -> None:
        super().__init__(f"{needed_milli} milli-Toman needed")
        self.needed_milli = needed_milli


class Projects(Database):
    """Projects, their API tokens, and their money: balance, credits and the ledger."""

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

    def get_project(self, project_id: str) -> Project | None:
        with self._read() as conn:
            row = conn.execute(select(t.projects).where(t.projects.c.id == project_id)).first()
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
        window: str | None = None,
        clear_window: bool = False,
    ) -> None:
        """Change what is given; `window` is JSON (§10), `clear_window` removes it."""
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
        if window is not None or clear_window:
            values["window"] = window
        if values:
            with self._write() as conn:
                conn.execute(update(t.projects).where(t.projects.c.id == project_id).values(values))
                settings_changed(conn)

    def set_webhook(self, project_id: str, url: str | None, secret: str | None) -> None:
        with self._write() as conn:
            conn.execute(
                update(t.projects)
                .where(t.projects.c.id == project_id)
                .values(webhook_url=url, webhook_secret=secret)
            )

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
                settings_changed(conn)
        return len(ids)

    def project_for_token(self, token_hash: str) -> Project | None:
        with self._read() as conn:
            version = current_settings_version(conn)  # first: what follows is at least this new
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

    def credit(self, project_id: str, amount_milli: int, *, kind: str, note: str) -> LedgerEntry:
        """A top-up or an adjustment of a project's balance (the services check the amount),
        refused when the balance would not cover what open calls reserve."""
        if kind not in ("topup", "adjustment"):
            raise ValueError(f"kind: {kind!r} is not a credit")
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
    entry = ledger_entry(kind, amount_milli, balance, note, call_id=call_id)
    conn.execute(insert(t.ledger).values(**dataclasses.asdict(entry), project_id=project_id))
    return entry


def ledger_entry(
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
        window=m["window"],
    )
