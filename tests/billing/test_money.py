import pytest

from voxcall.billing.money import parse_toman, toman
from voxcall.billing.reservation import max_price
from voxcall.domain.money import Tariff


@pytest.mark.parametrize(
    ("text", "milli"),
    [("0", 0), ("600", 600_000), ("34.2", 34_200), ("0.001", 1), (12, 12_000), ("1e3", 1_000_000)],
)
def test_parse_toman(text: str, milli: int) -> None:
    assert parse_toman(text) == milli


@pytest.mark.parametrize("text", ["-1", "abc", "0.0001", "nan", "inf", ""])
def test_parse_toman_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_toman(text)


def test_toman_is_exact_for_json() -> None:
    assert toman(34_200) == 34.2
    assert toman(-300_000) == -300.0
    assert toman(1) == 0.001


def test_reservation_covers_the_whole_voice_on_the_dearest_dialer() -> None:
    cheap = Tariff(parse_toman("100"), 60)
    dear = Tariff(parse_toman("600"), 30)
    assert max_price(3.2, [cheap, dear]) == parse_toman("300")  # 5 s -> one 30 s increment
    assert max_price(29.5, [dear]) == parse_toman("600")  # 31 s -> two increments
    assert max_price(10, []) == 0


def test_reservation_adds_each_trunks_margin() -> None:
    per_second = Tariff(parse_toman("60"), 1, reserve_margin=0)
    assert max_price(3.2, [per_second]) == parse_toman("4")  # the voice's 4 s, no margin
    slow_bye = Tariff(parse_toman("60"), 1, reserve_margin=5)
    assert max_price(3.2, [per_second, slow_bye]) == parse_toman("9")
    # the margin is reserved, never billed: the price of a call does not change
    assert slow_bye.price(4) == per_second.price(4) == parse_toman("4")
