"""Names a client gives a campaign or a voice: kept as text and shown in lists and the
console. A control character has no place in one, and PostgreSQL refuses a NUL in text."""

from __future__ import annotations

import unicodedata

from voxcall.calls.errors import InvalidName


def check_name(field: str, name: str) -> None:
    """InvalidName naming `field` if `name` is blank (nothing to tell it by in a list) or
    holds a control character (a NUL, a line break)."""
    if not name.strip():
        raise InvalidName(f"{field}: must not be blank")
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise InvalidName(f"{field}: must not hold control characters")
