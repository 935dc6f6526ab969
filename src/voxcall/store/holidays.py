"""The operator's public holidays (api.md §10): dates on which every calling window is closed."""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, insert, select

from voxcall.store import schema as t
from voxcall.store.database import Database


class Holidays(Database):
    """Public holidays, as local dates: a holiday closes a window wherever its zone is on it."""

    def add_holiday(self, day: date, now: int) -> bool:
        """False when the date was a holiday already."""
        with self._write() as conn:
            known = conn.execute(
                select(t.holidays.c.day).where(t.holidays.c.day == day.isoformat())
            ).first()
            if known is None:
                conn.execute(insert(t.holidays).values(day=day.isoformat(), added_at=now))
        return known is None

    def remove_holiday(self, day: date) -> bool:
        """False when the date was not a holiday."""
        with self._write() as conn:
            removed = conn.execute(delete(t.holidays).where(t.holidays.c.day == day.isoformat()))
        return removed.rowcount == 1

    def holidays(self) -> list[tuple[date, int]]:
        """Every holiday (date, when it was added), in date order."""
        with self._read() as conn:
            rows = conn.execute(
                select(t.holidays.c.day, t.holidays.c.added_at).order_by(t.holidays.c.day)
            ).all()
        return [(date.fromisoformat(r.day), r.added_at) for r in rows]
