import pytest

from voxcall.calls.numbers import InvalidPhoneNumber, PhoneNumber, parse_phone

MOBILE = PhoneNumber(national="09121234567", e164="+989121234567")


@pytest.mark.parametrize(
    "raw",
    [
        "09121234567",
        "9121234567",
        "+989121234567",
        "989121234567",
        "00989121234567",
        "0912 123 4567",
        "0912-123-4567",
        " +98 912 123 45 67 ",
    ],
)
def test_accepted_forms_of_one_mobile_number(raw: str) -> None:
    assert parse_phone(raw) == MOBILE


def test_landline() -> None:
    assert parse_phone("02112345678") == PhoneNumber("02112345678", "+982112345678")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "not a phone number"),
        ("abc", "not a phone number"),
        ("0912", "not a valid number"),
        ("091212345678999", "not a valid number"),
        ("1" * 40, "not a phone number"),
        ("+14155552671", "calls to US are not allowed for this project"),
    ],
)
def test_refused(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as info:
        parse_phone(raw)
    assert str(info.value) == reason


def test_allowed_regions_widen_the_reach() -> None:
    number = parse_phone("+14155552671", allowed_regions=("IR", "US"))
    assert number.e164 == "+14155552671"
