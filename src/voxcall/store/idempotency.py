"""Idempotency keys: a request replayed under the same key gets the first answer."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update

from voxcall.domain.idempotency import IdempotentReplay, key_is_spent
from voxcall.store import schema as t
from voxcall.store.database import Database


class Idempotency(Database):
    """What each Idempotency-Key stands for: a request in progress, or its answer."""

    def begin_idempotent(
        self,
        project_id: str,
        key: str,
        request_hash: str,
        now: float,
        *,
        lifetime: float,
        stale_after: float,
    ) -> IdempotentReplay:
        """Claim `key` for this request, or say what it already stands for; a key
        `key_is_spent` says no longer stands for its request is taken over."""
        keys = t.idempotency_keys
        with self._write() as conn:
            row = conn.execute(
                select(keys).where(keys.c.project_id == project_id, keys.c.key == key)
            ).first()
            if row is not None:
                answered = row.status_code is not None
                if not key_is_spent(
                    row.created_at, answered, now, lifetime=lifetime, stale_after=stale_after
                ):
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
            complete_idempotent_key(conn, project_id, key, status_code, response)

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


def complete_idempotent_key(
    conn: Connection, project_id: str, key: str, status_code: int, response: str
) -> None:
    conn.execute(
        update(t.idempotency_keys)
        .where(t.idempotency_keys.c.project_id == project_id, t.idempotency_keys.c.key == key)
        .values(status_code=status_code, response=response)
    )
