"""SIP messages (RFC 3261 §7, §25): parse bytes into value objects and serialise them back.

Pure: no sockets. Every rejection raises ValueError saying what was wrong, so the one
boundary that reads the network can log and drop a malformed packet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from voxcall.dialers.sip.header_values import Via, parse_cseq, split_address
from voxcall.dialers.sip.headers import Headers
from voxcall.dialers.sip.syntax import SIP_VERSION, TOKEN_RE, excerpt, parse_header_params
from voxcall.dialers.sip.uri import ABSOLUTE_URI_RE, SipUri

__all__ = [
    "MAX_MESSAGE_SIZE",
    "SipMessage",
    "SipRequest",
    "SipResponse",
    "StreamFramer",
    "parse_message",
]

# Bytes: above any datagram we expect, small enough to bound what one peer can make us hold.
MAX_MESSAGE_SIZE = 64 * 1024


_MANDATORY_HEADERS = ("Via", "From", "To", "Call-ID", "CSeq")
_SINGLE_HEADERS = (
    "From",
    "To",
    "Call-ID",
    "CSeq",
    "Max-Forwards",
    "Content-Length",
    "Content-Type",
)

_STATUS_CODE_RE = re.compile(r"[1-6]\d\d")
_BLANK_LINE_RE = re.compile(rb"\r?\n\r?\n")
_LINE_BREAK_RE = re.compile(r"\r?\n")

_MAX_FORWARDS_LIMIT = 255


def _serialize(start_line: str, headers: Headers, body: bytes) -> bytes:
    out = headers.copy()
    out.set("Content-Length", str(len(body)))
    lines = [start_line, *(f"{name}: {value}" if value else f"{name}:" for name, value in out)]
    lines += ["", ""]
    return "\r\n".join(lines).encode("utf-8") + body


class _MessageAccessors:
    """Parsed views of the headers every message carries."""

    headers: Headers

    @property
    def call_id(self) -> str:
        value = self.headers.get("Call-ID")
        if value is None:
            raise ValueError("message has no Call-ID")
        return value

    @property
    def cseq(self) -> tuple[int, str]:
        value = self.headers.get("CSeq")
        if value is None:
            raise ValueError("message has no CSeq")
        return parse_cseq(value)

    @property
    def vias(self) -> list[Via]:
        return [Via.parse(value) for value in self.headers.get_all("Via")]


@dataclass
class SipRequest(_MessageAccessors):
    method: str
    uri: str
    headers: Headers
    body: bytes = b""

    def serialize(self) -> bytes:
        """The wire form; Content-Length always matches the body."""
        return _serialize(f"{self.method} {self.uri} {SIP_VERSION}", self.headers, self.body)

    def __bytes__(self) -> bytes:
        return self.serialize()


@dataclass
class SipResponse(_MessageAccessors):
    status_code: int
    reason: str
    headers: Headers
    body: bytes = b""

    def serialize(self) -> bytes:
        """The wire form; Content-Length always matches the body."""
        start = f"{SIP_VERSION} {self.status_code} {self.reason}"
        return _serialize(start, self.headers, self.body)

    def __bytes__(self) -> bytes:
        return self.serialize()


SipMessage = SipRequest | SipResponse


def _split_head(data: bytes | bytearray) -> tuple[bytes, int] | None:
    """(header section, offset of the body) at the first empty line; None if none yet.

    CRLFs before the start line are skipped (RFC 3261 §7.5); bare LF is tolerated.
    """
    start = len(data) - len(data.lstrip(b"\r\n"))
    match = _BLANK_LINE_RE.search(data, start)
    if match is None:
        return None
    return bytes(data[start : match.start()]), match.end()


def _parse_head(head: bytes) -> tuple[str, Headers]:
    """Decode the start line and the header fields, unfolding continuation lines."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"header section is not valid UTF-8 (byte {exc.start})") from None
    start_line, *lines = _LINE_BREAK_RE.split(text)
    if "\r" in text.replace("\r\n", ""):
        raise ValueError("bare CR in the header section")
    fields: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            if not fields:
                raise ValueError("continuation line before the first header")
            name, value = fields[-1]
            fields[-1] = (name, (value + " " + line.strip(" \t")).strip(" \t"))
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"header line without colon: {excerpt(line)}")
        name = name.rstrip(" \t")
        if not TOKEN_RE.fullmatch(name):
            raise ValueError(f"invalid header name {excerpt(name)}")
        fields.append((name, value.strip(" \t")))
    return start_line, Headers(fields)


def _content_length(headers: Headers) -> int | None:
    if headers.count("Content-Length") > 1:
        raise ValueError("more than one Content-Length header")
    value = headers.get("Content-Length")
    if value is None:
        return None
    if value.startswith("-"):
        raise ValueError(f"negative Content-Length {excerpt(value)}")
    if not value.isdigit() or not value.isascii():
        raise ValueError(f"invalid Content-Length {excerpt(value)}")
    if len(value) > 10 or int(value) > MAX_MESSAGE_SIZE:
        raise ValueError(f"Content-Length {excerpt(value)} exceeds {MAX_MESSAGE_SIZE} bytes")
    return int(value)


def _check_version(version: str) -> None:
    if version.upper() != SIP_VERSION:
        raise ValueError(f"unsupported SIP version {excerpt(version)}")


def _parse_start_line(line: str) -> tuple[str, str] | tuple[int, str]:
    """(method, Request-URI) for a request, (status code, reason) for a response."""
    if line[:4].upper() == "SIP/":
        version, _, rest = line.partition(" ")
        _check_version(version)
        code, _, reason = rest.partition(" ")
        if not _STATUS_CODE_RE.fullmatch(code):
            raise ValueError(f"invalid status code {excerpt(code)}")
        return int(code), reason
    parts = line.split(" ")
    if len(parts) != 3 or "" in parts:
        raise ValueError(f"malformed request line {excerpt(line)}")
    method, uri, version = parts
    if not TOKEN_RE.fullmatch(method):
        raise ValueError(f"invalid method {excerpt(method)}")
    _check_version(version)
    match = ABSOLUTE_URI_RE.fullmatch(uri)
    if match is None:
        raise ValueError(f"invalid Request-URI {excerpt(uri)}")
    if match.group(1).lower() in ("sip", "sips") and SipUri.parse(uri).headers:
        raise ValueError("Request-URI must not contain URI headers")
    return method, uri


def _check_headers(headers: Headers, method: str | None) -> None:
    """The checks that make a message usable by a transaction layer (RFC 3261 §8.1.1, §8.2)."""
    for name in _MANDATORY_HEADERS:
        if name not in headers:
            raise ValueError(f"missing mandatory header {name}")
    for name in _SINGLE_HEADERS:
        if headers.count(name) > 1:
            raise ValueError(f"more than one {name} header")
    for value in headers.get_all("Via"):
        Via.parse(value)
    addresses = [("From", headers.get("From") or ""), ("To", headers.get("To") or "")]
    addresses += [("Contact", value) for value in headers.get_all("Contact") if value != "*"]
    for name, address in addresses:
        try:
            _display, _uri, params = split_address(address)
            parse_header_params(params)
        except ValueError as exc:
            raise ValueError(f"invalid {name} header: {exc}") from exc
    call_id = headers.get("Call-ID") or ""
    if not call_id or any(char.isspace() for char in call_id):
        raise ValueError(f"invalid Call-ID {excerpt(call_id)}")
    _number, cseq_method = parse_cseq(headers.get("CSeq") or "")
    if method is not None and cseq_method != method:
        raise ValueError(f"CSeq method {cseq_method!r} does not match request method {method!r}")
    max_forwards = headers.get("Max-Forwards")
    if max_forwards is not None and (
        not max_forwards.isdigit()
        or not max_forwards.isascii()
        or len(max_forwards) > 5
        or int(max_forwards) > _MAX_FORWARDS_LIMIT
    ):
        raise ValueError(f"invalid Max-Forwards {excerpt(max_forwards)}")


def _build(start_line: str, headers: Headers, body: bytes) -> SipRequest | SipResponse:
    first, second = _parse_start_line(start_line)
    if isinstance(first, int):
        _check_headers(headers, None)
        return SipResponse(first, second, headers, body)
    _check_headers(headers, first)
    return SipRequest(first, second, headers, body)


def parse_message(data: bytes) -> SipRequest | SipResponse:
    """Parse one SIP message, as received in one datagram.

    A body longer than Content-Length is cut to it (RFC 3261 §18.3); without Content-Length
    the body is the rest of the datagram.
    """
    if len(data) > MAX_MESSAGE_SIZE:
        raise ValueError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_SIZE} bytes")
    split = _split_head(data)
    if split is None:
        raise ValueError("no empty line after the header section")
    head, body_start = split
    body = data[body_start:]
    start_line, headers = _parse_head(head)
    length = _content_length(headers)
    if length is not None:
        if length > len(body):
            raise ValueError(f"Content-Length {length} is larger than the {len(body)}-byte body")
        body = body[:length]
    return _build(start_line, headers, bytes(body))


class StreamFramer:
    """Cuts a TCP byte stream into SIP messages using Content-Length (RFC 3261 §18.3).

    CRLF keep-alives between messages (RFC 5626 §4.4.1) are skipped. Once the stream is
    found malformed it cannot be resynchronised: feed() raises ValueError (after returning
    the messages that came before the fault), and the caller closes the connection.
    """

    def __init__(self, max_message_size: int = MAX_MESSAGE_SIZE) -> None:
        self._buffer = bytearray()
        self._max = max_message_size
        self._fault: ValueError | None = None

    def feed(self, data: bytes) -> list[SipRequest | SipResponse]:
        """Add received bytes; return every message they complete, in order."""
        if self._fault is not None:
            raise self._fault
        self._buffer += data
        messages: list[SipRequest | SipResponse] = []
        try:
            while (message := self._next_message()) is not None:
                messages.append(message)
        except ValueError as exc:
            if not messages:
                raise
            self._fault = exc  # hand out the good messages now, the fault on the next call
        return messages

    def _next_message(self) -> SipRequest | SipResponse | None:
        del self._buffer[: len(self._buffer) - len(self._buffer.lstrip(b"\r\n"))]
        if not self._buffer:
            return None
        split = _split_head(self._buffer[: self._max + 4])
        if split is None:
            if len(self._buffer) > self._max:
                raise ValueError(f"no end of headers within {self._max} bytes")
            return None
        head, body_start = split
        start_line, headers = _parse_head(head)
        _parse_start_line(start_line)  # reject garbage before trusting its Content-Length
        length = _content_length(headers)
        if length is None:
            raise ValueError("missing Content-Length on a stream transport")
        total = body_start + length
        if total > self._max:
            raise ValueError(f"message of {total} bytes exceeds {self._max} bytes")
        if len(self._buffer) < total:
            return None
        body = bytes(self._buffer[body_start:total])
        del self._buffer[:total]
        return _build(start_line, headers, body)
