"""Phone numbers as Bitel clients send them, checked with libphonenumber."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass

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
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber("not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber("not a valid number")
    number_region = phonenumbers.region_code_for_number(number)
    if allowed_regions is not None and number_region not in allowed_regions:
        raise NumberNotAllowed(f"calls to {number_region} are not allowed for this project")
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return PhoneNumber(
        national=re.sub(r"\D", "", national),
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
    )


def _ascii_digits(text: str) -> str:
    """Persian, Arabic-Indic and full-width digits as ASCII ones (phones type them so)."""
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)
