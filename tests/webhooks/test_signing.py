"""The signature header: known answers, round trips, and every way a forgery is refused."""

from __future__ import annotations

import pytest

from voxcall.webhooks.signing import Signature, new_secret, sign, verify

BODY = b'{"requestId":"abc","statusCode":1}'
SECRET = "whsec_test"
T = 1_700_000_000


def test_known_answer() -> None:
    # printf '%s' '1700000000.{"requestId":"abc","statusCode":1}' \
    #   | openssl dgst -sha256 -hmac whsec_test
    assert sign(BODY, SECRET, T) == (
        "t=1700000000,v1=2e6aeb63032f27b5895963ae08802c805cf91dce64caf28b0cf40b25416237b5"
    )
    # printf '%s' '1700000000.' | openssl dgst -sha256 -hmac whsec_test
    assert sign(b"", SECRET, T) == (
        "t=1700000000,v1=5967f3c560522fa40cf2876ebc3c3a08551dd6959aaade3b413460591895bdcc"
    )


def test_round_trip() -> None:
    secret = new_secret()
    header = sign(BODY, secret, T)
    assert verify(BODY, header, secret, now=T)
    assert verify(BODY, header, secret, now=T + 300)  # the edge of the tolerance
    assert verify(BODY, header, secret, now=T - 300)


@pytest.mark.parametrize(
    ("body", "secret", "now"),
    [
        (BODY + b" ", SECRET, T),  # tampered body
        (BODY.replace(b"1", b"2"), SECRET, T),
        (BODY, SECRET + "x", T),  # another secret
        (BODY, SECRET[:-1], T),
        (BODY, SECRET, T + 301),  # replayed after the tolerance
        (BODY, SECRET, T - 301),  # from a clock far ahead
    ],
)
def test_forgeries_and_replays_are_refused(body: bytes, secret: str, now: int) -> None:
    assert not verify(body, sign(BODY, SECRET, T), secret, now=now)


def test_tolerance_is_configurable() -> None:
    header = sign(BODY, SECRET, T)
    assert not verify(BODY, header, SECRET, now=T + 10, tolerance=5)
    assert verify(BODY, header, SECRET, now=T + 10, tolerance=10)


def test_the_timestamp_is_signed() -> None:
    mac = sign(BODY, SECRET, T).partition(",v1=")[2]
    assert not verify(BODY, f"t={T + 1},v1={mac}", SECRET, now=T)


def test_any_of_several_macs_may_match() -> None:
    good = sign(BODY, SECRET, T).partition(",")[2]
    other = sign(BODY, "whsec_old", T).partition(",")[2]
    assert verify(BODY, f"t={T},{other},{good}", SECRET, now=T)
    assert verify(BODY, f" t={T} , {good} ,v0=whatever", SECRET, now=T)  # unknown keys ignored
    assert not verify(BODY, f"t={T},{other}", SECRET, now=T)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("", "signature item without '=': ''"),
        ("t=1700000000", "signature has no 'v1=' value"),
        ("v1=" + "0" * 64, "signature has no timestamp 't='"),
        ("t=1,t=2,v1=" + "0" * 64, "signature has more than one timestamp"),
        ("t=-1,v1=" + "0" * 64, "signature timestamp is not a number of seconds: '-1'"),
        ("t=1.5,v1=" + "0" * 64, "signature timestamp is not a number of seconds: '1.5'"),
        # a digit, but not an ASCII one (FULLWIDTH DIGIT ONE)
        ("t=\uff11,v1=" + "0" * 64, "signature timestamp is not a number of seconds: '\uff11'"),
        ("t=1,v1=" + "0" * 63, "v1 signature is not 64 lowercase hex digits"),
        ("t=1,v1=" + "A" * 64, "v1 signature is not 64 lowercase hex digits"),
        ("t=1;v1=0", "signature timestamp is not a number of seconds: '1;v1=0'"),
        ("t=1,v1", "signature item without '=': 'v1'"),
    ],
)
def test_malformed_headers(header: str, message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        Signature.parse(header)
    assert str(excinfo.value) == message
    assert not verify(BODY, header, SECRET, now=1)


def test_parse() -> None:
    header = sign(BODY, SECRET, T)
    assert Signature.parse(header) == Signature(T, (header.partition(",v1=")[2],))


def test_new_secrets() -> None:
    secrets = {new_secret() for _ in range(20)}
    assert len(secrets) == 20
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(secret) == len("whsec_") + 43  # 32 bytes in unpadded URL-safe base64
        assert secret[6:].replace("-", "").replace("_", "").isalnum()
        assert len(secret) <= 64  # projects.webhook_secret is String(64)
