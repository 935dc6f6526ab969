"""A tariff's price of an answered call."""

import pytest

from voxcall.billing.money import parse_toman
from voxcall.domain.money import Tariff


@pytest.mark.parametrize(
    ("per_minute", "increment", "fee", "bill_sec", "price"),
    [
        ("600", 30, "0", 3, "300"),  # issue 4's example
        ("600", 30, "0", 30, "300"),
        ("600", 30, "0", 31, "600"),
        ("600", 60, "0", 1, "600"),
        ("600", 60, "0", 0, "600"),  # answered: at least one increment
        ("600", 1, "0", 7, "70"),
        ("600", 1, "50", 7, "120"),
        ("1", 1, "0", 1, "0.017"),  # 1/60 Toman rounded up to a milli-Toman
        ("34.2", 60, "0", 61, "68.4"),
        ("0", 60, "0", 100, "0"),
    ],
)
def test_tariff_price(per_minute: str, increment: int, fee: str, bill_sec: int, price: str) -> None:
    tariff = Tariff(parse_toman(per_minute), increment, parse_toman(fee))
    assert tariff.price(bill_sec) == parse_toman(price)
