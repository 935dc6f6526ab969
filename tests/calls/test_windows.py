import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxcall.calls.windows import (
    DAY_NAMES,
    InvalidWindow,
    Window,
    callee_zones,
    is_open,
    next_opening,
)

TEHRAN = ZoneInfo("Asia/Tehran")
NEW_YORK = ZoneInfo("America/New_York")
IRAN_MOBILE = "+989121234567"
RUSSIAN_MOBILE = "+79161234567"  # a mobile of a country of eleven zones


def at(text: str, zone: ZoneInfo | None = None) -> float:
    """An instant: the wall time `text` in `zone`, or an ISO time with its offset."""
    moment = datetime.fromisoformat(text)
    return (moment.replace(tzinfo=zone) if zone else moment).timestamp()


def tehran(text: str) -> float:
    return at(text, TEHRAN)


WORKWEEK = Window.parse("sat-wed 09:00-20:00 Asia/Tehran")


@pytest.mark.parametrize(
    ("text", "days", "start", "end", "zone"),
    [
        ("sat-wed 09:00-20:00 Asia/Tehran", "sat,sun,mon,tue,wed", 32400, 72000, "Asia/Tehran"),
        ("mon,wed,fri 22:00-06:00 callee", "mon,wed,fri", 79200, 21600, "callee"),
        ("thu-sat 00:00-24:00 UTC", "thu,fri,sat", 0, 86400, "UTC"),
        ("fri-mon 08:30-12:45 Europe/London", "fri,sat,sun,mon", 30600, 45900, "Europe/London"),
        ("SAT,sun-mon,sun 10:00-11:00 UTC", "sat,sun,mon", 36000, 39600, "UTC"),
        ("sat-fri 20:00-00:00 UTC", "mon,tue,wed,thu,fri,sat,sun", 72000, 0, "UTC"),
        ("tue-tue 09:00-10:00 UTC", "tue", 32400, 36000, "UTC"),
    ],
)
def test_the_cli_form(text: str, days: str, start: int, end: int, zone: str) -> None:
    window = Window.parse(text)
    assert window == Window(
        frozenset(DAY_NAMES.index(day) for day in days.split(",")), start, end, zone
    )
    assert Window.parse(str(window)) == window
    assert Window.from_json(window.to_json()) == window


def test_the_api_form_and_how_it_is_shown() -> None:
    value = {"days": ["sat", "sun", "mon", "tue", "wed"], "start": "09:00", "end": "20:00"}
    window = Window.from_json({**value, "timezone": "Asia/Tehran"})
    assert window == WORKWEEK
    assert window.to_json() == {**value, "timezone": "Asia/Tehran"}
    assert str(window) == "sat-wed 09:00-20:00 Asia/Tehran"
    assert str(Window.parse("fri,sat,mon 09:00-20:00 UTC")) == "sat,mon,fri 09:00-20:00 UTC"


UNKNOWN_ZONE = "window.timezone: unknown time zone {!r} " + (
    '(an IANA name such as "Asia/Tehran", or "callee")'
)
NOT_DAYS = "is not a day or a range of days (sat-wed)"
CLI_FORM = 'must be days, hours and a time zone, as in "sat-wed 09:00-20:00 Asia/Tehran"'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sat-wed 09:00-20:00", f"window: {CLI_FORM}"),
        ("sat-wed 09:00 Asia/Tehran", "window: hours must be start-end, as in 09:00-20:00"),
        ("sat-wed 9:00-20:00 UTC", "window.start: must be a time of day, 00:00 to 24:00"),
        ("sat-wed 09:00-24:30 UTC", "window.end: must be a time of day, 00:00 to 24:00"),
        ("sat-wed 24:00-06:00 UTC", "window.start: must be 00:00 to 23:59"),
        ("sat-wed 09:00-09:00 UTC", "window.end: must differ from start"),
        ("sat-wend 09:00-20:00 UTC", f"window.days: 'sat-wend' {NOT_DAYS}"),
        ("saturday 09:00-20:00 UTC", f"window.days: 'saturday' {NOT_DAYS}"),
        ("sat 09:00-20:00 Asia/Esfahan", UNKNOWN_ZONE.format("Asia/Esfahan")),
        ("sat 09:00-20:00 ../etc/passwd", UNKNOWN_ZONE.format("../etc/passwd")),
    ],
)
def test_a_window_that_does_not_parse_is_refused_naming_the_field(text: str, message: str) -> None:
    with pytest.raises(InvalidWindow) as info:
        Window.parse(text)
    assert str(info.value) == message


SATURDAYS = {"days": ["sat"], "start": "09:00", "end": "20:00", "timezone": "UTC"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("sat 09:00-20:00 UTC", "w: must be an object with days, start, end, timezone"),
        ({**SATURDAYS, "days": "sat"}, 'w.days: must be a list of days such as "sat"'),
        ({**SATURDAYS, "days": []}, "w.days: must name at least one day"),
        ({**SATURDAYS, "start": 9}, "w.start: must be a string"),
        ({**SATURDAYS, "timezone": None}, "w.timezone: must be a string"),
        ({**SATURDAYS, "start": "24:00"}, "w.start: must be 00:00 to 23:59"),
        ({**SATURDAYS, "end": "09:00"}, "w.end: must differ from start"),
    ],
)
def test_the_api_form_names_the_field(value: object, message: str) -> None:
    with pytest.raises(InvalidWindow) as info:
        Window.from_json(value, field="w")
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("wall", "expected"),
    [
        ("2026-01-03 08:59:59", False),  # a Saturday, before the window
        ("2026-01-03 09:00:00", True),
        ("2026-01-03 19:59:59", True),
        ("2026-01-03 20:00:00", False),
        ("2026-01-07 12:00:00", True),  # Wednesday
        ("2026-01-08 12:00:00", False),  # Thursday
        ("2026-01-09 12:00:00", False),  # Friday
    ],
)
def test_open_on_its_days_between_its_hours(wall: str, expected: bool) -> None:
    assert is_open(WORKWEEK, tehran(wall)) is expected


def test_the_hours_are_the_zones_whatever_the_instant() -> None:
    assert is_open(WORKWEEK, at("2026-01-03T05:30:00+00:00"))  # 09:00 in Tehran
    assert not is_open(WORKWEEK, at("2026-01-03T05:29:59+00:00"))


@pytest.mark.parametrize(
    ("wall", "expected"),
    [
        ("2026-01-08 23:00:00", False),  # Thursday night: not an opening day
        ("2026-01-09 21:59:59", False),
        ("2026-01-09 22:00:00", True),  # Friday night
        ("2026-01-10 00:00:00", True),  # past midnight, Saturday morning
        ("2026-01-10 05:59:59", True),
        ("2026-01-10 06:00:00", False),
        ("2026-01-10 23:00:00", False),  # Saturday night: not an opening day
    ],
)
def test_a_window_across_midnight(wall: str, expected: bool) -> None:
    window = Window.parse("fri 22:00-06:00 Asia/Tehran")
    assert is_open(window, tehran(wall)) is expected


@pytest.mark.parametrize(
    ("wall", "expected"),
    [
        ("2026-01-08 10:00:00", True),  # Thursday
        ("2026-01-09 10:00:00", True),  # Friday
        ("2026-01-10 10:00:00", True),  # Saturday
        ("2026-01-11 10:00:00", True),  # Sunday
        ("2026-01-12 10:00:00", False),  # Monday
        ("2026-01-07 10:00:00", False),  # Wednesday
    ],
)
def test_a_range_of_days_wraps_the_week(wall: str, expected: bool) -> None:
    assert is_open(Window.parse("thu-sun 09:00-17:00 Asia/Tehran"), tehran(wall)) is expected


def test_a_holiday_closes_the_whole_local_date() -> None:
    holidays = {date(2026, 1, 10)}  # a Saturday
    overnight = Window.parse("fri,sat 22:00-06:00 Asia/Tehran")
    assert is_open(WORKWEEK, tehran("2026-01-10 12:00:00"))
    assert not is_open(WORKWEEK, tehran("2026-01-10 12:00:00"), holidays=holidays)
    assert is_open(overnight, tehran("2026-01-09 23:00:00"), holidays=holidays)
    assert not is_open(overnight, tehran("2026-01-10 01:00:00"), holidays=holidays)
    assert not is_open(overnight, tehran("2026-01-10 23:00:00"), holidays=holidays)
    assert is_open(overnight, tehran("2026-01-11 01:00:00"), holidays=holidays)
    assert next_opening(WORKWEEK, tehran("2026-01-09 12:00:00"), holidays=holidays) == tehran(
        "2026-01-11 09:00:00"
    )
    assert next_opening(overnight, tehran("2026-01-10 00:30:00"), holidays=holidays) == tehran(
        "2026-01-11 00:00:00"
    )  # the morning after the holiday's night


@pytest.mark.parametrize(
    ("window", "start", "opening"),
    [
        (WORKWEEK, "2026-01-03 10:00:00", "2026-01-03 10:00:00"),  # open: now
        (WORKWEEK, "2026-01-03 07:12:13", "2026-01-03 09:00:00"),
        (WORKWEEK, "2026-01-07 20:00:00", "2026-01-10 09:00:00"),  # Wednesday evening
        (WORKWEEK, "2026-01-09 23:59:59", "2026-01-10 09:00:00"),
        ("fri 22:00-06:00 Asia/Tehran", "2026-01-10 06:00:00", "2026-01-16 22:00:00"),
        ("fri 22:00-06:00 Asia/Tehran", "2026-01-10 05:00:00", "2026-01-10 05:00:00"),
        ("tue 23:59-00:00 Asia/Tehran", "2026-01-14 00:00:00", "2026-01-20 23:59:00"),
    ],
)
def test_next_opening(window: Window | str, start: str, opening: str) -> None:
    if isinstance(window, str):
        window = Window.parse(window)
    assert next_opening(window, tehran(start)) == tehran(opening)


def test_next_opening_keeps_the_fraction_of_an_open_instant() -> None:
    moment = tehran("2026-01-03 10:00:00") + 0.25
    assert next_opening(WORKWEEK, moment) == moment


def test_hours_follow_the_wall_clock_across_daylight_saving_time() -> None:
    window = Window.parse("sat-fri 09:00-17:00 America/New_York")
    # 2026-03-08: New York moves from UTC-5 to UTC-4
    assert next_opening(window, at("2026-03-07T22:00:00+00:00")) == at("2026-03-08T13:00:00+00:00")
    assert next_opening(window, at("2026-03-06T22:00:00+00:00")) == at("2026-03-07T14:00:00+00:00")
    assert is_open(window, at("2026-03-08T20:59:59+00:00"))
    assert not is_open(window, at("2026-03-08T21:00:00+00:00"))


def test_a_start_the_clock_jumps_over_opens_when_it_jumps() -> None:
    # 2026-03-08 02:00 EST becomes 03:00 EDT: 02:30 never happens that day
    window = Window.parse("sun 02:30-05:00 America/New_York")
    jump = at("2026-03-08T07:00:00+00:00")
    assert not is_open(window, jump - 1)
    assert is_open(window, jump)
    assert next_opening(window, at("2026-03-08 00:00:00", NEW_YORK)) == jump


def test_an_hour_the_clock_repeats_opens_again() -> None:
    # 2026-11-01 02:00 EDT becomes 01:00 EST: 01:00-01:30 happens twice
    window = Window.parse("sun 00:00-01:30 America/New_York")
    first_close = at("2026-11-01T05:30:00+00:00")  # 01:30 EDT
    setback = at("2026-11-01T06:00:00+00:00")  # 02:00 EDT is 01:00 EST
    assert is_open(window, first_close - 1)
    assert not is_open(window, first_close)
    assert next_opening(window, first_close) == setback
    assert not is_open(window, setback + 1800)  # 01:30 EST


def test_a_midnight_that_does_not_happen() -> None:
    # Tehran kept summer time until 2022: 2021-03-22 00:00 +03:30 was 01:00 +04:30
    window = Window.parse("mon 00:00-02:00 Asia/Tehran")
    jump = at("2021-03-21T20:30:00+00:00")
    assert next_opening(window, at("2021-03-21T12:00:00+00:00")) == jump
    assert is_open(window, jump)
    assert not is_open(window, at("2021-03-21T22:30:00+00:00"))  # 03:00 +04:30


def test_the_callees_zone_comes_from_the_number() -> None:
    window = Window.parse("sat-wed 09:00-20:00 callee")
    moment = tehran("2026-01-03 09:00:00")
    assert callee_zones(IRAN_MOBILE) == (TEHRAN,)
    assert is_open(window, moment, callee=IRAN_MOBILE)
    assert not is_open(window, moment - 1, callee=IRAN_MOBILE)
    assert next_opening(window, moment - 3600, callee=IRAN_MOBILE) == moment
    new_york = at("2026-01-03 09:00:00", NEW_YORK)
    assert callee_zones("+12125551234") == (NEW_YORK,)
    assert next_opening(window, moment, callee="+12125551234") == new_york
    with pytest.raises(ValueError, match="callee's number"):
        is_open(window, moment)


def test_a_country_of_many_zones_is_called_while_all_are_open() -> None:
    window = Window.parse("sat-fri 09:00-20:00 callee")
    zones = callee_zones(RUSSIAN_MOBILE)
    assert len(zones) > 1
    named = [Window.parse(f"sat-fri 09:00-20:00 {zone.key}") for zone in zones]
    moments = [at("2026-06-01T00:00:00+00:00") + 600 * n for n in range(6 * 24 * 3)]
    for moment in moments:
        assert is_open(window, moment, callee=RUSSIAN_MOBILE) == all(
            is_open(each, moment) for each in named
        )
    opening = next_opening(window, moments[0], callee=RUSSIAN_MOBILE)
    assert opening is not None
    assert all(is_open(each, opening) for each in named)
    assert not all(is_open(each, opening - 1) for each in named)


def test_zones_never_open_together_give_no_opening() -> None:
    offsets = [
        datetime(2026, 6, 1, tzinfo=zone).utcoffset() or timedelta()
        for zone in callee_zones(RUSSIAN_MOBILE)
    ]
    assert max(offsets) - min(offsets) > timedelta(hours=1)  # the premise
    window = Window.parse("sat-fri 09:00-10:00 callee")
    assert next_opening(window, at("2026-06-01T00:00:00+00:00"), callee=RUSSIAN_MOBILE) is None


def test_holidays_every_day_give_no_opening() -> None:
    start = date(2026, 1, 1)
    holidays = {start + timedelta(days=n) for n in range(800)}
    assert next_opening(WORKWEEK, tehran("2026-01-01 00:00:00"), holidays=holidays) is None


_ZONES = ["Asia/Tehran", "America/New_York", "Europe/London", "Australia/Lord_Howe", "UTC"]


@st.composite
def _windows(draw: st.DrawFn) -> Window:
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    start = draw(st.integers(0, 24 * 4 - 1)) * 900
    end = draw(st.integers(0, 24 * 4).filter(lambda quarter: quarter * 900 != start)) * 900
    return Window(days, start, end, draw(st.sampled_from(_ZONES)))


@settings(max_examples=300, deadline=None)
@given(
    window=_windows(),
    start=st.integers(
        int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()),
        int(datetime(2027, 1, 1, tzinfo=UTC).timestamp()),
    ),
    holidays=st.frozensets(st.dates(date(2026, 1, 1), date(2027, 1, 10)), max_size=20),
)
def test_next_opening_is_the_first_open_second(
    window: Window, start: int, holidays: frozenset[date]
) -> None:
    opening = next_opening(window, start, holidays=holidays)
    assert opening is not None
    assert opening >= start
    assert is_open(window, opening, holidays=holidays)
    if opening > start:
        assert not is_open(window, opening - 1, holidays=holidays)
        sample = random.Random(start)
        for _ in range(50):
            moment = sample.randrange(start, int(opening))
            assert not is_open(window, moment, holidays=holidays)


def test_a_window_may_end_at_midnight_and_run_all_day() -> None:
    until_midnight = Window.from_json({**SATURDAYS, "end": "24:00"})
    assert (until_midnight.start, until_midnight.end) == (9 * 3600, 86_400)
    assert is_open(until_midnight, at("2026-01-03T23:59:59+00:00"))
    whole_day = Window.from_json({**SATURDAYS, "start": "00:00", "end": "24:00"})
    assert is_open(whole_day, at("2026-01-03T00:00:00+00:00"))
    assert not is_open(whole_day, at("2026-01-04T00:00:00+00:00"))
