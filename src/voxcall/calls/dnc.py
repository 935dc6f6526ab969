"""Do-not-call lists (§9): which lists a call is checked against, and the key numbers match by.

Entries are kept and looked up in E.164, so "09121234567", "0098 912 123 4567" and
"۹۱۲۱۲۳۴۵۶۷" are one entry. A list may hold numbers of any country: a project allowed
to call only Iran may still list a foreign number, and the operator's list covers every
project whatever its allowed countries.
"""

from __future__ import annotations

import enum

from voxcall.calls.numbers import PhoneNumber, parse_phone


class DncScope(enum.Enum):
    PROJECT = "project"  # the project's own list (API, CLI)
    OPERATOR = "operator"  # the operator's list, for every project (CLI)


def dnc_number(raw: str, *, region: str = "IR") -> PhoneNumber:
    """`raw` read in `region` (the project's default), of any country; InvalidPhoneNumber
    if it is not a valid number."""
    return parse_phone(raw, region=region, allowed_regions=None)


def dnc_key(raw: str, *, region: str = "IR") -> str:
    """The E.164 form of `raw`, by which entries are stored and calls matched."""
    return dnc_number(raw, region=region).e164


def scopes_checked(*, one_time_code: bool) -> tuple[DncScope, ...]:
    """The lists that stop a call: one-time codes are transactional (the callee asked for
    them), so they ignore the project's list, but never the operator's."""
    if one_time_code:
        return (DncScope.OPERATOR,)
    return (DncScope.PROJECT, DncScope.OPERATOR)
