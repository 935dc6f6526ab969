"""Money as integers of a thousandth of a Toman ("milli"): exact, never a binary float.

Amounts enter as decimal text ("600", "34.2") and leave as JSON numbers; in between every sum
and product is integer arithmetic.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

MILLI = 1000


def parse_toman(text: str | float | int) -> int:
    """'34.2' -> 34200. ValueError for anything that is not a non-negative amount to 0.001."""
    try:
        value = Decimal(str(text))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {text!r}") from exc
    if not value.is_finite() or value < 0:
        raise ValueError(f"not a non-negative amount: {text!r}")
    milli = value * MILLI
    if milli != milli.to_integral_value():
        raise ValueError(f"more precise than 0.001 Toman: {text!r}")
    return int(milli)


def toman(milli: int) -> float:
    """For JSON: the nearest float to an exact amount (34200 -> 34.2)."""
    return float(Decimal(milli) / MILLI)
