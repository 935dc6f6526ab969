"""The `X-Voxcall-Signature` header (api.md §6): `t=<epoch>,v1=<hex HMAC-SHA256>`.

The MAC covers `"<t>.<body>"` with the project's whole webhook secret (prefix included) as the
key, so a receiver can refuse a replayed body by its timestamp. Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

SECRET_PREFIX = "whsec_"
SCHEME = "v1"
_HEX = frozenset("0123456789abcdef")


def new_secret() -> str:
    """A fresh webhook secret: `whsec_` and 32 random bytes, URL-safe base64."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The header value for `body` sent at `timestamp` (seconds since the epoch)."""
    return f"t={timestamp},{SCHEME}={_mac(body, secret, timestamp)}"


def verify(body: bytes, header: str, secret: str, *, now: int, tolerance: int = 300) -> bool:
    """True when `header` signs `body` with `secret` and its timestamp is within `tolerance`
    seconds of `now` (either side: a clock far ahead is as suspect as a replay)."""
    try:
        signature = Signature.parse(header)
    except ValueError:
        return False
    if abs(now - signature.timestamp) > tolerance:
        return False
    expected = _mac(body, secret, signature.timestamp).encode()
    # Every candidate is compared, so the time taken says nothing about which one matched.
    matches = [hmac.compare_digest(expected, mac.encode()) for mac in signature.macs]
    return any(matches)


@dataclass(frozen=True, slots=True)
class Signature:
    """A parsed header: its timestamp and every `v1` MAC in it (several while a secret is
    rotated). Keys other than `t` and `v1` are ignored, so that a later scheme can be added
    next to `v1` without breaking receivers."""

    timestamp: int
    macs: tuple[str, ...]

    @classmethod
    def parse(cls, header: str) -> Signature:
        timestamp: int | None = None
        macs: list[str] = []
        for item in header.split(","):
            key, sep, value = item.strip().partition("=")
            if not sep:
                raise ValueError(f"signature item without '=': {item.strip()!r}")
            if key == "t":
                if timestamp is not None:
                    raise ValueError("signature has more than one timestamp")
                if not value.isascii() or not value.isdigit():
                    raise ValueError(f"signature timestamp is not a number of seconds: {value!r}")
                timestamp = int(value)
            elif key == SCHEME:
                if len(value) != 64 or not _HEX.issuperset(value):
                    raise ValueError(f"{SCHEME} signature is not 64 lowercase hex digits")
                macs.append(value)
        if timestamp is None:
            raise ValueError("signature has no timestamp 't='")
        if not macs:
            raise ValueError(f"signature has no '{SCHEME}=' value")
        return cls(timestamp, tuple(macs))


def _mac(body: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
