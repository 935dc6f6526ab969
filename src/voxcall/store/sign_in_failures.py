"""Failed console sign-ins per key (an account, an address), shared by every process on the
database so that the throttle holds across API processes."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from voxcall.store import schema as t
from voxcall.store.database import Database

f = t.sign_in_failures.c


class SignInFailures(Database):
    """How many sign-ins failed under each key, and when the last one did."""

    def sign_in_failures(self, keys: list[str]) -> dict[str, tuple[int, float]]:
        """(count, time of the last failure) of each key that has failures."""
        with self._read() as conn:
            rows = conn.execute(select(f.key, f.count, f.last_at).where(f.key.in_(keys))).all()
        return {key: (count, last_at) for key, count, last_at in rows}

    def add_sign_in_failure(self, keys: list[str], now: float, forget_before: float) -> None:
        """One more failure under each key; keys whose last failure was before
        `forget_before` are dropped first (so they count afresh, and the table stays small)."""
        with self._write() as conn:
            conn.execute(delete(t.sign_in_failures).where(f.last_at < forget_before))
            upsert: postgresql.Insert | sqlite.Insert = (
                postgresql.insert(t.sign_in_failures)
                if conn.dialect.name == "postgresql"
                else sqlite.insert(t.sign_in_failures)
            )
            conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=["key"],
                    set_={
                        "count": f.count + 1,
                        "last_at": upsert.excluded.last_at,
                    },
                ),
                [{"key": key, "count": 1, "last_at": now} for key in sorted(keys)],
            )

    def clear_sign_in_failures(self, key: str) -> None:
        with self._write() as conn:
            conn.execute(delete(t.sign_in_failures).where(f.key == key))
