"""Phone numbers as Bitel clients send them, checked with libphonenumber."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import phonenumbers

_SEPARATORS = re.compile(r"[\s\-().]")
# What is left once separators are gone: an optional "+" and digits, nothing else.
# libphonenumber reads "x55", "ext 5", ";ext=5", "#9" as extensions and vanity letters as
# keypad digits ("ABC" -> "222"); our national form would append or invent those digits, so
# the call would go to another number. We refuse them instead.
_DIALABLE = re.compile(r"\+?[0-9]+")


class InvalidPhoneNumber(ValueError):
    pass


class NumberNotAllowed(InvalidPhoneNumber):
    """A valid number of a country the project may not call."""


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    national: str  # "09121234567"
    e164: str  # "+989121234567"


def parse_phone(
    raw: str, *, region: str = "IR", allowed_regions: Collection[str] | None = ("IR",)
) -> PhoneNumber:
    """Parse `raw` in `region`; the number must be valid and in one of `allowed_regions`
    (None: any country)."""
    text = _ascii_digits(_SEPARATORS.sub("", raw))
    if not text or len(text) > 20:
        raise InvalidPhoneNumber("not a phone number")
    if not _DIALABLE.fullmatch(text):
        raise InvalidPhoneNumber(
            "may hold only digits and a leading '+' (no letters, no extension)"
        )
    number_region, number = _iranian_shortcut(text) if region == "IR" else _full_parse(text, region)
    if allowed_regions is not None and number_region not in allowed_regions:
        raise NumberNotAllowed(f"calls to {number_region} are not allowed for this project")
    return number


# The forms nearly every Iranian number comes in ("0912...", "912...", "+98912...",
# "98912...", "0098912...") spell its ten significant digits outright. Checking those
# against the metadata's patterns directly gives what the full parse gives (a test holds the
# two equal) at a tenth of its cost: a list of a million numbers is read in seconds.
_IRANIAN_FORMS = re.compile(r"(?:\+98|0098|98(?=[0-9]{10}$)|0)?([1-9][0-9]{9})")


def _ten_digit_pattern(descs: list[phonenumbers.PhoneNumberDesc | None]) -> re.Pattern[str]:
    """One pattern for the descriptions that a ten-digit number can match (an empty list
    of lengths means those of the general description)."""
    patterns = [
        f"(?:{desc.national_number_pattern})"
        for desc in descs
        if desc is not None
        and desc.national_number_pattern
        and (not desc.possible_length or 10 in desc.possible_length)
    ]
    return re.compile("|".join(patterns) or "(?!)")


def _metadata(region: str) -> phonenumbers.PhoneMetadata:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None:
        raise RuntimeError(f"libphonenumber has no metadata for {region}")
    return metadata


_IRAN = _metadata("IR")
_IRANIAN_NUMBER = _ten_digit_pattern([_IRAN.general_desc])
# any of the types a number may be of: one it matches makes it valid (is_valid_number)
_IRANIAN_TYPE = _ten_digit_pattern(
    [
        _IRAN.premium_rate,
        _IRAN.toll_free,
        _IRAN.shared_cost,
        _IRAN.voip,
        _IRAN.personal_number,
        _IRAN.pager,
        _IRAN.uan,
        _IRAN.voicemail,
        _IRAN.fixed_line,
        _IRAN.mobile,
    ]
)


# Both checks over a batch of significant numbers, each after a line feed: the pattern finds
# the line feeds that do not start a valid number, so that the valid ones (nearly all) cost
# no match object each.
_INVALID_LINE = re.compile(
    f"\\n(?!(?=(?:{_IRANIAN_NUMBER.pattern})\\n)(?:{_IRANIAN_TYPE.pattern})\\n)"
)
_PLAIN_WIDTH = 14  # "0098" and ten digits, the longest plain form
_SIGNIFICANT = np.arange(10)
_PLACES = 10 ** np.arange(9, -1, -1, dtype=np.int64)
_ZERO, _EIGHT, _NINE, _LINE_FEED, _PLUS = (ord(c) for c in "089\n+")


@dataclass(frozen=True, slots=True)
class PlainIranian:
    """The numbers of a batch that `plain_iranian` decided: their places in the batch, and
    each one's national and E.164 forms and its E.164 digits as an integer."""

    at: npt.NDArray[np.intp]
    national: npt.NDArray[np.str_]
    e164: npt.NDArray[np.str_]
    key: npt.NDArray[np.int64]


def plain_iranian(raws: Sequence[str]) -> PlainIranian:
    """The valid Iranian numbers of `raws` written in a plain form (ASCII digits only:
    "0912...", "912...", "98912...", "0098912...", "+98912..."), with what `parse_phone` gives
    for them, found over the whole batch at once; parse_phone decides the others (a test
    holds the two equal)."""
    codes, lengths = _fixed_width(raws)
    first, second, third, fourth = (codes[:, i] for i in range(4))
    plus = first == _PLUS
    # digits only (after a leading "+"): the padding and a NUL within the length are none
    only_digits = ((codes - np.uint8(_ZERO)) < 10).sum(axis=1) == lengths - plus
    start = np.select(
        [
            (lengths == 13) & plus & (second == _NINE) & (third == _EIGHT),
            (lengths == 14)
            & (first == _ZERO)
            & (second == _ZERO)
            & (third == _NINE)
            & (fourth == _EIGHT),
            (lengths == 12) & (first == _NINE) & (second == _EIGHT),
            (lengths == 11) & (first == _ZERO),
            (lengths == 10) & ~plus,
        ],
        [3, 4, 2, 1, 0],
        default=-1,
    )
    formed = np.flatnonzero(only_digits & (start >= 0))
    # the ten significant digits of each, as ASCII
    significant = codes.ravel()[(formed * _PLAIN_WIDTH + start[formed])[:, None] + _SIGNIFICANT]
    leading = significant[:, 0] != _ZERO
    formed, significant = formed[leading], significant[leading]
    lines = np.empty((len(formed), 11), dtype=np.uint8)
    lines[:, 0] = _LINE_FEED
    lines[:, 1:] = significant
    text = lines.tobytes().decode("ascii") + "\n"
    # the last line feed, after every number, starts none: always found, and dropped
    invalid = [match.start() // 11 for match in _INVALID_LINE.finditer(text)][:-1]
    valid = np.ones(len(formed), dtype=np.bool_)
    valid[invalid] = False
    significant = significant[valid]
    # as code points, not ASCII: numpy turns bytes into str slowly
    national = np.empty((len(significant), 11), dtype=np.uint32)
    national[:, 0] = _ZERO
    national[:, 1:] = significant
    e164 = np.empty((len(significant), 13), dtype=np.uint32)
    e164[:, :3] = [_PLUS, _NINE, _EIGHT]
    e164[:, 3:] = significant
    return PlainIranian(
        at=formed[valid],
        national=national.view("<U11").ravel(),
        e164=e164.view("<U13").ravel(),
        key=98 * 10**10 + (significant - np.uint8(_ZERO)).astype(np.int64) @ _PLACES,
    )


def _fixed_width(raws: Sequence[str]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.intp]]:
    """The first `_PLAIN_WIDTH` bytes of each of `raws` in UTF-8 (zero after its end), and
    each one's length in bytes; from the batch joined by line feeds, so that no Python
    object is made a cell (a cell holding a line feed is taken as empty: it is no plain
    number)."""
    joined = "\n".join(raws)
    if joined.count("\n") != max(len(raws) - 1, 0):
        joined = "\n".join("" if "\n" in raw else raw for raw in raws)
    data = np.frombuffer(joined.encode("utf-8", "surrogatepass") + bytes(_PLAIN_WIDTH), np.uint8)
    ends = np.flatnonzero(data[: len(data) - _PLAIN_WIDTH] == _LINE_FEED)
    ends = np.append(ends, len(data) - _PLAIN_WIDTH)[: len(raws)]
    starts = np.empty_like(ends)
    starts[:1] = 0
    starts[1:] = ends[:-1] + 1
    lengths = ends - starts
    codes = data[starts[:, None] + np.arange(_PLAIN_WIDTH)]
    codes[np.arange(_PLAIN_WIDTH) >= lengths[:, None]] = 0
    return codes, lengths


def _iranian_shortcut(text: str) -> tuple[str | None, PhoneNumber]:
    form = _IRANIAN_FORMS.fullmatch(text)
    if form:
        significant = form[1]
        if _IRANIAN_NUMBER.fullmatch(significant) and _IRANIAN_TYPE.fullmatch(significant):
            return "IR", PhoneNumber(national=f"0{significant}", e164=f"+98{significant}")
    return _full_parse(text, "IR")


def _full_parse(text: str, region: str) -> tuple[str | None, PhoneNumber]:
    """The number's region and its forms, by libphonenumber."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber("not a phone number") from exc
    if not phonenumbers.is_valid_number(number) or not _spelled_out(text, number):
        raise InvalidPhoneNumber("not a valid number")
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.region_code_for_number(number), PhoneNumber(
        national=re.sub(r"\D", "", national),
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
    )


def _spelled_out(text: str, number: phonenumbers.PhoneNumber) -> bool:
    """Whether `text` is the number's significant digits after nothing but an international
    prefix (00), its country code and its trunk prefix (0), each optional. libphonenumber
    also drops digits it cannot place ("98 00 912..."), and then dials another number."""
    significant = phonenumbers.national_significant_number(number)
    country_code = number.country_code or 0  # always set once parsed; typed optional
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    trunk = (metadata.national_prefix if metadata else None) or ""
    country = str(country_code)
    spellings = {
        idd + code + prefix + significant
        for idd, code in (("", ""), ("", country), ("00", country))
        for prefix in ("", trunk)
    }
    return text.removeprefix("+") in spellings


# Persian, Arabic-Indic and full-width digits: what phones and keyboards in Iran type
_COMMON_DIGITS = str.maketrans(
    {chr(zero + digit): str(digit) for zero in (0x06F0, 0x0660, 0xFF10) for digit in range(10)}
)


def _ascii_digits(text: str) -> str:
    """Digits of any script as ASCII ones (phones type them so)."""
    if not text.isascii():
        text = text.translate(_COMMON_DIGITS)
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)
