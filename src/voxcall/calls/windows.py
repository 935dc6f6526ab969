"""Calling windows (§10): the hours an attempt may start, in a named zone or the callee's.

A window opens at `start` on each of its days and closes at `end`, the next day when `end`
is not after `start` ("fri 22:00-06:00" runs from Friday night to Saturday morning). Time is
the wall clock of the zone, so a window keeps its hours across daylight-saving changes. An
operator's holiday closes every window for that whole local date. With the callee's zone,
a number whose country spans several zones is called only while the window is open in all.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_zones

CALLEE = "callee"
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # by datetime.weekday()
_WEEK = (5, 6, 0, 1, 2, 3, 4)  # the Iranian week, Saturday first: how days are shown
_DAY = 86_400
_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])|24:00")
_SEARCH_DAYS = 400  # past a year of holidays: a window that opens at all opens by then


class InvalidWindow(ValueError):
    """The message names the field and what is wrong with it."""


@dataclass(frozen=True, slots=True)
class Window:
    days: frozenset[int]  # the weekdays it opens on, Monday 0
    start: int  # seconds after local midnight
    end: int  # seconds after local midnight; not after `start`: the next day
    timezone: str  # an IANA zone, or CALLEE

    @classmethod
    def parse(cls, text: str, *, field: str = "window") -> Window:
        """The CLI form: "sat-wed 09:00-20:00 Asia/Tehran", "mon,wed,fri 22:00-06:00 callee"."""
        parts = text.split()
        if len(parts) != 3:
            raise InvalidWindow(
                f"{field}: must be days, hours and a time zone, as in "
                '"sat-wed 09:00-20:00 Asia/Tehran"'
            )
        days, hours, zone = parts
        start, dash, end = hours.partition("-")
        if not dash:
            raise InvalidWindow(f"{field}: hours must be start-end, as in 09:00-20:00")
        return cls._checked(days.split(","), start, end, zone, field)

    @classmethod
    def from_json(cls, value: object, *, field: str = "window") -> Window:
        """The API form: {"days": ["sat", ...], "start": "09:00", "end": "20:00",
        "timezone": "Asia/Tehran"}."""
        if not isinstance(value, dict):
            raise InvalidWindow(f"{field}: must be an object with days, start, end, timezone")
        days = value.get("days")
        if not isinstance(days, list) or not all(isinstance(day, str) for day in days):
            raise InvalidWindow(f'{field}.days: must be a list of days such as "sat"')
        texts: list[str] = []
        for key in ("start", "end", "timezone"):
            text = value.get(key)
            if not isinstance(text, str):
                raise InvalidWindow(f"{field}.{key}: must be a string")
            texts.append(text)
        start, end, zone = texts
        return cls._checked(days, start, end, zone, field)

    @classmethod
    def _checked(cls, days: list[str], start: str, end: str, zone: str, field: str) -> Window:
        with _about(f"{field}.start"):
            opening = opening_second(start)
        with _about(f"{field}.end"):
            closing = closing_second(end, opening)
        with _about(f"{field}.timezone"):
            checked_zone(zone)
        return cls(_weekdays(days, f"{field}.days"), opening, closing, zone)

    def to_json(self) -> dict[str, object]:
        return {
            "days": [DAY_NAMES[day] for day in _WEEK if day in self.days],
            "start": _clock(self.start),
            "end": _clock(self.end),
            "timezone": self.timezone,
        }

    def __str__(self) -> str:
        return f"{_day_ranges(self.days)} {_clock(self.start)}-{_clock(self.end)} {self.timezone}"


def is_open(
    window: Window,
    at: float,
    *,
    callee: str | None = None,
    holidays: Collection[date] = frozenset(),
) -> bool:
    """Whether an attempt may start at epoch second `at`; `callee` (E.164) is needed when
    the window is in the callee's zone."""
    return all(_open_in(window, zone, at, holidays) for zone in _zones(window, callee))


def next_opening(
    window: Window,
    at: float,
    *,
    callee: str | None = None,
    holidays: Collection[date] = frozenset(),
) -> float | None:
    """The first epoch second from `at` on at which the window is open (`at` itself if it
    is), or None if it does not open within a year: its zones are never open together,
    or holidays close every day."""
    zones = _zones(window, callee)
    moment = at
    # each round moves to where the zone that opens last opens; when the zones' hours do
    # overlap, that is found in a round or two a zone
    for _ in range(4 * len(zones) + 4):
        openings = [_next_open_in(window, zone, moment, holidays) for zone in zones]
        if None in openings:
            return None
        latest = max(opening for opening in openings if opening is not None)
        if latest == moment:
            return moment
        moment = latest
    return None


def callee_zones(e164: str) -> tuple[ZoneInfo, ...]:
    """The zones of a number, by its prefix (a mobile: every zone of its country)."""
    names = phone_zones.time_zones_for_number(phonenumbers.parse(e164))
    known = tuple(ZoneInfo(name) for name in names if name != phone_zones.UNKNOWN_TIMEZONE)
    if not known:
        raise ValueError(f"{e164}: no known time zone")
    return known


def _zones(window: Window, callee: str | None) -> Sequence[ZoneInfo]:
    if window.timezone != CALLEE:
        return (ZoneInfo(window.timezone),)
    if callee is None:
        raise ValueError("a window in the callee's zone needs the callee's number")
    return callee_zones(callee)


def _open_in(window: Window, zone: ZoneInfo, at: float, holidays: Collection[date]) -> bool:
    local = datetime.fromtimestamp(at, zone)
    if local.date() in holidays:
        return False
    second = local.hour * 3600 + local.minute * 60 + local.second
    today = local.weekday()
    if window.start < window.end:
        return today in window.days and window.start <= second < window.end
    # across midnight: the evening of an opening day, or the morning after one
    evening = today in window.days and second >= window.start
    morning = (today - 1) % 7 in window.days and second < window.end
    return evening or morning


def _next_open_in(
    window: Window, zone: ZoneInfo, at: float, holidays: Collection[date]
) -> float | None:
    """The first second from `at` on when the window is open in `zone`. The window can only
    open where the wall clock reaches its start, where a date begins (a holiday ends, the
    morning of an overnight window), or where the clock is set back."""
    if _open_in(window, zone, at, holidays):
        return at
    first = datetime.fromtimestamp(at, zone).date() - timedelta(days=1)
    for offset in range(_SEARCH_DAYS):
        day = first + timedelta(days=offset)
        candidates = [_first_instant_at(zone, day, 0), *_clock_changes(zone, day)]
        if day.weekday() in window.days:
            candidates.append(_first_instant_at(zone, day, window.start))
        for moment in sorted(candidates):
            if moment > at and _open_in(window, zone, moment, holidays):
                return moment
    return None


def _first_instant_at(zone: ZoneInfo, day: date, second: int) -> float:
    """The first instant at which the wall clock of `zone` reads `second` of `day` or later:
    that time itself, or where the clock jumps over it (daylight-saving time begins)."""
    wall = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(seconds=second)
    moment = wall.timestamp()  # fold 0: inside a jump, the offset from before it
    if datetime.fromtimestamp(moment, zone).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return moment
    before = wall.replace(fold=1).timestamp()  # the same clock reading, before the jump
    return _first_change(zone, before, moment)


def _clock_changes(zone: ZoneInfo, day: date) -> list[float]:
    """The instants of `day` at which `zone` changes its offset."""
    start = datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()
    end = start + _DAY
    if (
        datetime.fromtimestamp(start, zone).utcoffset()
        == datetime.fromtimestamp(end, zone).utcoffset()
    ):
        return []
    return [_first_change(zone, start, end)]


def _first_change(zone: ZoneInfo, low: float, high: float) -> float:
    """The first whole second in (`low`, `high`] whose offset is `high`'s (zones change
    offsets on whole seconds)."""
    target = datetime.fromtimestamp(high, zone).utcoffset()
    low_second, high_second = int(low), int(high)
    while high_second - low_second > 1:
        middle = (low_second + high_second) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == target:
            high_second = middle
        else:
            low_second = middle
    return float(high_second)


# The checks of a window's fields, one answer for every entry point (the API's model, the
# CLI form, the stored JSON). Each raises ValueError with what is wrong, without the field.


def opening_second(text: str) -> int:
    """A window's start, "00:00" to "23:59", in seconds after midnight."""
    second = clock_second(text)
    if second == _DAY:
        raise ValueError("must be 00:00 to 23:59")
    return second


def closing_second(text: str, opening: int) -> int:
    """A window's end, "00:00" to "24:00" and not its start, in seconds after midnight."""
    second = clock_second(text)
    if second == opening:
        raise ValueError("must differ from start")
    return second


def checked_zone(zone: str) -> str:
    if zone != CALLEE:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f'unknown time zone {zone!r} (an IANA name such as "Asia/Tehran", or "{CALLEE}")'
            ) from exc
    return zone


@contextmanager
def _about(field: str) -> Iterator[None]:
    """A check's ValueError as an InvalidWindow naming `field`."""
    try:
        yield
    except ValueError as exc:
        raise InvalidWindow(f"{field}: {exc}") from exc


def clock_second(text: str) -> int:
    """A time of day, "00:00" to "24:00", in seconds after midnight."""
    if not _TIME.fullmatch(text):
        raise ValueError("must be a time of day, 00:00 to 24:00")
    hours, minutes = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _weekdays(items: list[str], field: str) -> frozenset[int]:
    """Days and ranges of days, a range wrapping the week: "sat-wed" is five days."""
    days: set[int] = set()
    for item in items:
        first, dash, last = item.strip().lower().partition("-")
        if first not in DAY_NAMES or (dash and last not in DAY_NAMES):
            raise InvalidWindow(f"{field}: {item!r} is not a day or a range of days (sat-wed)")
        start = DAY_NAMES.index(first)
        length = (DAY_NAMES.index(last) - start) % 7 if dash else 0
        days.update((start + n) % 7 for n in range(length + 1))
    if not days:
        raise InvalidWindow(f"{field}: must name at least one day")
    return frozenset(days)


def _day_ranges(days: frozenset[int]) -> str:
    """The days as ranges in the Iranian week: {sat, sun, mon, tue, wed} is "sat-wed"."""
    runs: list[list[int]] = []
    for day in _WEEK:
        if day not in days:
            continue
        if runs and _WEEK.index(runs[-1][-1]) == _WEEK.index(day) - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(
        DAY_NAMES[run[0]] if len(run) == 1 else f"{DAY_NAMES[run[0]]}-{DAY_NAMES[run[-1]]}"
        for run in runs
    )
