"""Key presses carried by SIP INFO requests inside the dialog (the pre-RFC 6086 usage that
trunks still send): `application/dtmf-relay` ("Signal=5\\r\\nDuration=160") and
`application/dtmf` (the key alone)."""

from __future__ import annotations

from voxcall.domain.interaction import KEYS

DTMF_RELAY = "application/dtmf-relay"
DTMF = "application/dtmf"
CONTENT_TYPES = (DTMF_RELAY, DTMF)


def is_key_press(content_type: str | None) -> bool:
    """Whether an INFO with this Content-Type carries a key press."""
    return media_type(content_type) in CONTENT_TYPES


def media_type(content_type: str | None) -> str:
    """The type/subtype of a Content-Type header, lowercase, without parameters."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def _key(signal: str) -> str:
    """A key by its character, or by its RFC 4733 event code ("10" is *, "11" is #), as
    some devices send it."""
    text = signal.strip().upper()
    if len(text) == 1 and text in KEYS:
        return text
    if text.isdigit() and int(text) < len(KEYS):
        return KEYS[int(text)]
    raise ValueError(f"{signal.strip()!r} is not a DTMF key")


def parse_key_press(content_type: str | None, body: bytes) -> str:
    """The key an INFO body carries. ValueError (saying why) for a body that has none."""
    kind = media_type(content_type)
    text = body.decode("ascii", "replace")
    if kind == DTMF:
        return _key(text)
    if kind != DTMF_RELAY:
        raise ValueError(f"{kind or 'no content type'} does not carry key presses")
    for line in text.splitlines():
        name, separator, value = line.partition("=")
        if separator and name.strip().lower() == "signal":
            return _key(value)
    raise ValueError(f"{DTMF_RELAY} body has no Signal line")
