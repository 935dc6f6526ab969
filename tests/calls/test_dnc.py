import pytest

from voxcall.calls.dnc import DncScope, dnc_key, scopes_checked
from voxcall.calls.numbers import InvalidPhoneNumber

MOBILE = "+989121234567"
LANDLINE = "+982112345678"
FULL_WIDTH = "".join(chr(0xFF10 + int(d)) for d in "09121234567")  # as some keyboards type


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("09121234567", MOBILE),
        ("9121234567", MOBILE),
        ("+989121234567", MOBILE),
        ("989121234567", MOBILE),
        ("00989121234567", MOBILE),
        ("+98 (0) 912 123 4567", MOBILE),
        ("0912 123 4567", MOBILE),
        ("0912-123-4567", MOBILE),
        ("  +98-912-123-45-67\t", MOBILE),
        ("(0912) 123.4567", MOBILE),
        ("۰۹۱۲۱۲۳۴۵۶۷", MOBILE),  # Persian digits
        ("٠٩١٢١٢٣٤٥٦٧", MOBILE),  # Arabic-Indic digits
        ("+۹۸ ۹۱۲ ۱۲۳ ۴۵۶۷", MOBILE),
        ("۰۰۹۸۹۱۲۱۲۳۴۵۶۷", MOBILE),
        (FULL_WIDTH, MOBILE),
        ("02112345678", LANDLINE),
        ("+98 21 1234 5678", LANDLINE),
        ("00982112345678", LANDLINE),
        ("۰۲۱-۱۲۳۴۵۶۷۸", LANDLINE),
        # numbers of other countries are listed too, whatever the project may call
        ("+1 415 555 2671", "+14155552671"),
        ("0014155552671", "+14155552671"),
        ("+971 50 123 4567", "+971501234567"),
        ("00447911123456", "+447911123456"),
    ],
)
def test_every_written_form_gives_the_e164_key(written: str, key: str) -> None:
    assert dnc_key(written) == key


def test_national_forms_are_read_in_the_projects_region() -> None:
    assert dnc_key("(415) 555-2671", region="US") == "+14155552671"
    assert dnc_key("+989121234567", region="US") == MOBILE


@pytest.mark.parametrize(
    "written", ["", "0912", "09121234567 ext 5", "0912ABC4567", "tel:+989121234567", "+98"]
)
def test_what_is_not_a_valid_number_is_refused(written: str) -> None:
    with pytest.raises(InvalidPhoneNumber):
        dnc_key(written)


@pytest.mark.parametrize(
    ("one_time_code", "scopes"),
    [
        (False, (DncScope.PROJECT, DncScope.OPERATOR)),
        (True, (DncScope.OPERATOR,)),
    ],
)
def test_one_time_codes_ignore_only_the_projects_list(
    one_time_code: bool, scopes: tuple[DncScope, ...]
) -> None:
    assert scopes_checked(one_time_code=one_time_code) == scopes
