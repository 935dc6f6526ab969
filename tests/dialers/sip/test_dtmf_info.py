from __future__ import annotations

import pytest

from voxcall.dialers.sip.dtmf_info import is_key_press, parse_key_press


@pytest.mark.parametrize(
    ("content_type", "body", "key"),
    [
        # As baresip, Asterisk (chan_sip dtmfmode=info) and Cisco gateways send it.
        ("application/dtmf-relay", b"Signal=1\r\nDuration=160\r\n", "1"),
        ("application/dtmf-relay", b"Signal=*\r\nDuration=250\r\n", "*"),
        ("Application/DTMF-Relay; charset=ascii", b"signal = #\nduration=100", "#"),
        ("application/dtmf-relay", b"Duration=160\r\nSignal=10\r\n", "*"),
        ("application/dtmf-relay", b"Signal=11", "#"),
        ("application/dtmf-relay", b"Signal=a", "A"),
        ("application/dtmf", b"5", "5"),
        ("application/dtmf", b"11\r\n", "#"),
    ],
)
def test_parse_key_press(content_type: str, body: bytes, key: str) -> None:
    assert is_key_press(content_type)
    assert parse_key_press(content_type, body) == key


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        (
            "application/dtmf-relay",
            b"Duration=160\r\n",
            "application/dtmf-relay body has no Signal line",
        ),
        ("application/dtmf-relay", b"Signal=16\r\n", "'16' is not a DTMF key"),
        ("application/dtmf-relay", b"Signal=\r\n", "'' is not a DTMF key"),
        ("application/dtmf", b"55", "'55' is not a DTMF key"),
        (
            "application/media_control+xml",
            b"<x/>",
            "application/media_control+xml does not carry key presses",
        ),
        (None, b"", "no content type does not carry key presses"),
    ],
)
def test_parse_refuses_what_carries_no_key(
    content_type: str | None, body: bytes, message: str
) -> None:
    with pytest.raises(ValueError) as info:
        parse_key_press(content_type, body)
    assert str(info.value) == message


def test_other_info_bodies_are_not_key_presses() -> None:
    assert not is_key_press("application/media_control+xml")
    assert not is_key_press(None)
