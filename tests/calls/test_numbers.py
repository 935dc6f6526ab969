import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxcall.calls.numbers import (
    InvalidPhoneNumber,
    NumberNotAllowed,
    PhoneNumber,
    _full_parse,
    _iranian_shortcut,
    parse_phone,
    plain_iranian,
)

MOBILE = PhoneNumber(national="09121234567", e164="+989121234567")
LETTERS = "may hold only digits and a leading '+' (no letters, no extension)"


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
        "۰۹۱۲۱۲۳۴۵۶۷",  # Persian digits, as a phone keyboard in Iran types them
        "٠٩١٢١٢٣٤٥٦٧",  # Arabic-Indic digits
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
        ("abc", LETTERS),
        ("0912", "not a valid number"),
        ("091212345678999", "not a valid number"),
        ("1" * 40, "not a phone number"),
        ("+14155552671", "calls to US are not allowed for this project"),
        ("98 00 912 123 4567", "not a valid number"),  # libphonenumber drops the 00
    ],
)
def test_refused(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as info:
        parse_phone(raw)
    assert str(info.value) == reason


def test_allowed_regions_widen_the_reach() -> None:
    number = parse_phone("+14155552671", allowed_regions=("IR", "US"))
    assert number.e164 == "+14155552671"
    assert parse_phone("+14155552671", allowed_regions=None).e164 == "+14155552671"


def test_a_country_not_allowed_is_told_apart_from_an_invalid_number() -> None:
    with pytest.raises(NumberNotAllowed):
        parse_phone("+14155552671")
    with pytest.raises(InvalidPhoneNumber) as info:
        parse_phone("0912")
    assert not isinstance(info.value, NumberNotAllowed)


@pytest.mark.parametrize(
    "raw",
    [
        "09121234567 ext 5",
        "09121234567 ext. 5",
        "09121234567x55",
        "09121234567;ext=555",
        "09121234567#9",
        "09121234567,5",
        "09121234567*",
        "0912ABC4567",
        "A09121234567",
        "09121234567A",
        "0912123456a",
        "+98 912 FLOWERS",
        "tel:+989121234567",
        "+98+9121234567",
    ],
)
def test_extensions_and_letters_are_refused(raw: str) -> None:
    # libphonenumber alone accepts most of these, as a different number than was meant
    with pytest.raises(InvalidPhoneNumber) as info:
        parse_phone(raw)
    assert str(info.value) == LETTERS


def _digits(text: str) -> str:
    return "".join(str(int(c)) for c in text if c.isdecimal())


# Valid numbers in the forms clients send, with anything inserted anywhere: separators,
# extension markers, letters, other digits.
_NUMBERS = st.builds(
    "".join,
    st.tuples(
        st.sampled_from(["", "0", "98", "+98", "0098", "+"]),
        st.sampled_from(["9121234567", "9351234567", "2112345678", "3133334444"]),
    ),
)
_SEPARATORS_AND_MARKERS = [" ", "-", ".", "(", ")", "\t", "x", "ext", " ext. ", ";ext=", "#"]
# Persian nine, Arabic-Indic zero, full-width zero: digits too, in other scripts.
_OTHER = ["*", ",", "/", "+", "A", "Z", "w", "p", "B", "5", "55", "\u06f9", "\u0660", "\uff10"]
_INSERTS = st.sampled_from([*_SEPARATORS_AND_MARKERS, *_OTHER])


@st.composite
def _client_numbers(draw: st.DrawFn) -> str:
    text = draw(_NUMBERS)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(_INSERTS) + text[at:]
    return text


@given(_client_numbers() | st.text(max_size=25))
def test_accepted_digits_are_the_dialled_digits(raw: str) -> None:
    """Whatever is accepted dials exactly the digits the client sent: with or without the
    trunk prefix (0) or the country code (98, 0098), or both ("+98 (0)912...", the same
    number), nothing added, dropped or invented."""
    try:
        number = parse_phone(raw)
    except InvalidPhoneNumber:
        return
    significant = number.national.removeprefix("0")
    assert number.e164 == f"+98{significant}"
    sent = _digits(raw)
    prefixes = ("", "0", "98", "0098", "980", "00980")
    assert sent in {prefix + significant for prefix in prefixes}
    assert phonenumbers.is_valid_number(phonenumbers.parse(number.e164))


_SIGNIFICANT = st.one_of(
    st.from_regex(r"9[0-9]{9}", fullmatch=True),  # mobiles, and what only looks like one
    st.from_regex(r"[1-8][0-9]{9}", fullmatch=True),  # landlines
    st.from_regex(r"[0-9]{6,12}", fullmatch=True),
)


@settings(max_examples=2000)
@given(st.sampled_from(["", "0", "98", "+98", "0098", "+", "00", "980"]), _SIGNIFICANT)
def test_the_iranian_shortcut_gives_what_libphonenumber_gives(prefix: str, digits: str) -> None:
    text = prefix + digits
    try:
        expected: object = _full_parse(text, "IR")
    except InvalidPhoneNumber as exc:
        expected = str(exc)
    try:
        found: object = _iranian_shortcut(text)
    except InvalidPhoneNumber as exc:
        found = str(exc)
    assert found == expected


_CELLS = (
    st.builds(
        str.__add__, st.sampled_from(["", "0", "98", "+98", "0098", "+", "00", "980"]), _SIGNIFICANT
    )
    | _client_numbers()
    | st.text(alphabet="0123456789+ \x00\u06f9", max_size=16)
    | st.text(max_size=20)
)


@settings(max_examples=300)
@given(st.lists(_CELLS, max_size=40))
def test_the_plain_iranian_batch_decides_what_parse_phone_accepts_alike(
    cells: list[str],
) -> None:
    """Every number the batch path decides is one parse_phone accepts, with the same forms;
    it leaves the rest to parse_phone, but no number of ten digits written in a plain form."""
    plain = plain_iranian(cells)
    decided = dict(
        zip(plain.at.tolist(), zip(plain.national, plain.e164, strict=True), strict=True)
    )
    assert plain.key.tolist() == [int(plain.e164[i][1:]) for i in range(len(plain.e164))]
    for at, cell in enumerate(cells):
        try:
            number: PhoneNumber | None = parse_phone(cell)
        except InvalidPhoneNumber:
            number = None
        if at in decided:
            assert number == PhoneNumber(*decided[at]), cell
        elif number is not None and len(number.national) == 11:  # ten significant digits
            significant = number.national[1:]
            plain_forms = {f"{prefix}{significant}" for prefix in ("", "0", "98", "+98", "0098")}
            assert cell not in plain_forms, cell
