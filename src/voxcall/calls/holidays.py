"""The operator's public holidays (api.md §10), as the CLI and the console set them: on each,
every calling window is closed for the whole local date, wherever its zone is."""

from __future__ import annotations

import re
import time
from datetime import date

from voxcall.calls.call_windows import rewindow
from voxcall.calls.errors import AdminRefused
from voxcall.store.store import Store

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
FIRST_YEAR = 1970  # a holiday before it is a date of another calendar


def parse_day(text: str) -> date:
    """An ISO date, 2026-03-21; AdminRefused saying what is wrong otherwise."""
    day = None
    if _ISO_DATE.fullmatch(text.strip()):
        try:
            day = date.fromisoformat(text.strip())
        except ValueError:
            pass
    if day is None:
        raise AdminRefused(f"{text!r} is not a date: give it as YYYY-MM-DD, as in 2026-03-21")
    return day


class HolidayService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, text: str) -> tuple[date, bool]:
        """The holiday, and whether it is new (False: it was one already)."""
        day = parse_day(text)
        if day.year < FIRST_YEAR:  # 1405-01-01: a Jalali date, which would never come
            raise AdminRefused(
                f"{text!r} is before {FIRST_YEAR}: give a Gregorian date, as in 2026-03-21"
            )
        return day, self.store.add_holiday(day, int(time.time()))

    def remove(self, text: str) -> date:
        """Calls that the holiday held are due again by their windows alone."""
        day = parse_day(text)
        if not self.store.remove_holiday(day):
            raise AdminRefused(f"{day.isoformat()} is not a holiday")
        rewindow(self.store, time.time(), holiday=day)
        return day

    def list(self) -> list[tuple[date, int]]:
        """Every holiday (date, when it was added) in date order."""
        return self.store.holidays()
