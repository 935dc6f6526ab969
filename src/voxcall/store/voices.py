"""Voices: the messages calls play, counted against each project's storage quota."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, exists, func, insert, select, update

from voxcall.domain.calls import Phase
from voxcall.domain.voices import Voice, fits_quota
from voxcall.store import schema as t
from voxcall.store.database import Database, current_settings_version, settings_changed


class StorageQuotaExceeded(Exception):
    """The project's voice files would pass its storage quota; nothing was written."""

    def __init__(self, used: int, adding: int, quota: int) -> None:
        super().__init__(f"{used} + {adding} bytes over a quota of {quota}")
        self.used = used
        self.adding = adding
        self.quota = quota


class Voices(Database):
    """The recorded and synthesized messages of each project, and the room they take."""

    def add_voice(self, voice: Voice) -> None:
        """Store a voice whose files are on disk; StorageQuotaExceeded if they do not fit."""
        with self._write() as conn:
            insert_voice(conn, voice)

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
            version = current_settings_version(conn)
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

    def retire_unused_voices(self, kind: str) -> list[tuple[str, str]]:
        """Mark deleted every voice of `kind` that no call that is not final uses. Returns
        their (project id, voice id)."""
        in_use = exists().where(
            t.calls.c.voice_id == t.voices.c.id, t.calls.c.phase != Phase.FINAL.value
        )
        with self._write() as conn:
            rows = conn.execute(
                select(t.voices.c.project_id, t.voices.c.id).where(
                    t.voices.c.kind == kind, t.voices.c.deleted_at.is_(None), ~in_use
                )
            ).all()
            if rows:
                conn.execute(
                    update(t.voices)
                    .where(t.voices.c.id.in_([r.id for r in rows]))
                    .values(deleted_at=int(time.time()))
                )
                settings_changed(conn)
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
            settings_changed(conn)
        return True


def insert_voice(conn: Connection, voice: Voice) -> None:
    # The project's row is locked first (PostgreSQL), so that two uploads at once cannot
    # both fit in the room left for one; SQLite has one writer anyway. So the quota and
    # what is used are read here, in the transaction that inserts, not by the caller.
    quota = conn.execute(
        select(t.projects.c.storage_quota)
        .where(t.projects.c.id == voice.project_id)
        .with_for_update()
    ).scalar_one()
    used = _storage_used(conn, voice.project_id)
    if not fits_quota(used, voice.stored_bytes, quota):
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
