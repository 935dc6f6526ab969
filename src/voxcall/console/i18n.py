"""The console's two languages: which one a request gets, its messages, and how it writes
numbers and dates (Persian: Persian digits and the Solar Hijri calendar; English: Gregorian).

Messages are English in the templates and the code; `locales/fa.json` maps each to Persian.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import jdatetime

LANGUAGES = ("en", "fa")
DEFAULT = "en"
RTL = frozenset({"fa"})
# Persian digits, and the Arabic decimal and thousands separators (U+066B, U+066C)
_PERSIAN_DIGITS = str.maketrans("0123456789.,", "۰۱۲۳۴۵۶۷۸۹\u066b\u066c")
LOCALES = Path(__file__).parent / "locales"


@functools.cache
def catalog(language: str) -> dict[str, str]:
    """The messages of `language`, by their English text (English itself: none)."""
    if language == DEFAULT:
        return {}
    loaded: dict[str, str] = json.loads((LOCALES / f"{language}.json").read_text("utf-8"))
    return loaded


def gettext(language: str, message: str) -> str:
    return catalog(language).get(message, message)


def negotiate(accept_language: str | None) -> str:
    """The first language of an Accept-Language header that the console speaks, by weight."""
    choices: list[tuple[float, int, str]] = []
    for order, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and weight > 0:
            choices.append((-weight, order, primary))
    return min(choices)[2] if choices else DEFAULT


def digits(language: str, text: str) -> str:
    """`text` with Persian digits and separators in Persian."""
    return text.translate(_PERSIAN_DIGITS) if language == "fa" else text


def number(language: str, value: float | int | None, decimals: int = 0) -> str:
    """A number grouped by thousands, in the language's digits; '-' for none."""
    if value is None:
        return "-"
    return digits(language, f"{value:,.{decimals}f}")


def percent(language: str, ratio: float | None) -> str:
    if ratio is None:
        return "-"
    text = number(language, ratio * 100, 1)
    return f"{text}٪" if language == "fa" else f"{text}%"


def when(language: str, epoch: float | None, zone: ZoneInfo, *, seconds: bool = False) -> str:
    """A moment on the wall clock of `zone`: Solar Hijri in Persian, Gregorian in English."""
    if epoch is None:
        return "-"
    moment = dt.datetime.fromtimestamp(epoch, zone)
    clock = "%H:%M:%S" if seconds else "%H:%M"
    if language == "fa":
        jalali = jdatetime.datetime.fromgregorian(datetime=moment)
        return digits(language, jalali.strftime(f"%Y/%m/%d {clock}"))
    return moment.strftime(f"%Y-%m-%d {clock}")


def day(language: str, epoch: float, zone: ZoneInfo) -> str:
    """The date alone (the value a date field shows is always Gregorian ISO)."""
    return calendar_day(language, dt.datetime.fromtimestamp(epoch, zone).date())


def calendar_day(language: str, date: dt.date) -> str:
    """A date as such (a holiday): Solar Hijri in Persian, Gregorian in English."""
    if language == "fa":
        return digits(language, jdatetime.date.fromgregorian(date=date).strftime("%Y/%m/%d"))
    return date.strftime("%Y-%m-%d")


# Messages chosen at run time (translated with the `t` filter or `gettext`), which no
# template names literally: the catalog must hold them too.
RUNTIME_MESSAGES = (
    *("WAITING", "NORMAL", "NO_ANSWER", "USER_BUSY", "EXPIRED", "ERROR", "UNKNOWN"),
    *("delivered", "failed", "pending", "topup", "debit", "adjustment"),
    *("human", "machine", "unknown"),
    "Give at least one number.",
    "At most 100 numbers at once.",
    "Retries: 0 to 5, the interval 1 to 86400 s.",
    "Choose a file.",
    "No such token.",
    "The URL must start with https://.",
    "Too many failed sign-ins. Try again in {seconds} s.",
    "Wrong username, email or password.",
    "Name: 1 to 100 characters.",
    "Retries: 0 to 5, the interval 10 to 86400 s.",
    "Start and end: a date and a time.",
    "Channels: 1 to 100000; calls per minute: 1 to 1000000.",
    "Keys: 1 to 16, waiting 1 to 30 s, the end and repeat keys different.",
    "Answering machines: choose one of the options.",
    *("SCHEDULED", "RUNNING", "OUTSIDE_WINDOW", "PAUSED", "NO_BALANCE", "DONE", "CANCELLED"),
    *("invalid", "notAllowed", "duplicate", "doNotCall"),
    *("owner", "member"),
    "Give 1 to 1000 numbers, or upload a list.",
    "A project keeps at least one owner.",
    "role: owner or member",
)
