"""SIP messages (RFC 3261 §7, §25): parse bytes into value objects and serialise them back.

Pure: no sockets. Every rejection raises ValueError saying what was wrong, so the one
boundary that reads the network can log and drop a malformed packet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

__all__ = [
    "MAX_MESSAGE_SIZE",
    "SIP_VERSION",
    "Headers",
    "NameAddress",
    "SipMessage",
    "SipRequest",
    "SipResponse",
    "SipUri",
    "StreamFramer",
    "Via",
    "canonical_header_name",
    "parse_cseq",
    "parse_message",
]

# Bytes: above any datagram we expect, small enough to bound what one peer can make us hold.
MAX_MESSAGE_SIZE = 64 * 1024

SIP_VERSION = "SIP/2.0"

# RFC 3261 §7.3.3 compact forms, plus those of the event/refer extensions.
_COMPACT_FORMS = {
    "v": "Via",
    "f": "From",
    "t": "To",
    "i": "Call-ID",
    "m": "Contact",
    "l": "Content-Length",
    "c": "Content-Type",
    "k": "Supported",
    "s": "Subject",
    "e": "Content-Encoding",
    "o": "Event",
    "r": "Refer-To",
    "u": "Allow-Events",
}

# Spelling used when we write a header whose name arrived in another case ("cseq", "TO").
_CANONICAL_NAMES = {
    name.lower(): name
    for name in (
        *_COMPACT_FORMS.values(),
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Alert-Info",
        "Allow",
        "Authentication-Info",
        "Authorization",
        "CSeq",
        "Call-Info",
        "Content-Disposition",
        "Content-Language",
        "Date",
        "Error-Info",
        "Expires",
        "In-Reply-To",
        "MIME-Version",
        "Max-Forwards",
        "Min-Expires",
        "Min-SE",
        "Organization",
        "P-Asserted-Identity",
        "Priority",
        "Privacy",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Require",
        "RAck",
        "RSeq",
        "Reason",
        "Record-Route",
        "Reply-To",
        "Require",
        "Retry-After",
        "Route",
        "Server",
        "Session-Expires",
        "Timestamp",
        "Unsupported",
        "User-Agent",
        "WWW-Authenticate",
        "Warning",
    )
}

# Headers whose comma-separated values are separate elements (RFC 3261 §7.3.1).
_LIST_HEADERS = frozenset(
    {"via", "route", "record-route", "contact", "allow", "supported", "require", "proxy-require"}
)

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

_TOKEN = r"[A-Za-z0-9.!%*_+`'~-]+"
_TOKEN_RE = re.compile(_TOKEN)
_DISPLAY_TOKENS_RE = re.compile(rf"{_TOKEN}(?:[ \t]+{_TOKEN})*")
_ABSOLUTE_URI_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):[^\s<>\"]+")
_USER_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()%&=+$,;?/]+")
_PASSWORD_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()%&=+$,]*")
_HOSTNAME_RE = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_.])?")
_IPV6_RE = re.compile(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")
_URI_PARAM_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()%\[\]/:&+$]+")
_URI_HEADER_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()%\[\]/?:+$]*")
_PORT_RE = re.compile(r"\d{1,5}")
_SENT_PROTOCOL_RE = re.compile(
    rf"({_TOKEN})[ \t]*/[ \t]*({_TOKEN})[ \t]*/[ \t]*({_TOKEN})[ \t]+(.+)", re.DOTALL
)
_SENT_BY_RE = re.compile(r"(\[[^\]]*\]|[^:\[\]]+?)(?:[ \t]*:[ \t]*(\S+))?")
_CSEQ_RE = re.compile(rf"[ \t]*(\d+)[ \t]+({_TOKEN})[ \t]*")
_STATUS_CODE_RE = re.compile(r"[1-6]\d\d")
_BLANK_LINE_RE = re.compile(rb"\r?\n\r?\n")
_LINE_BREAK_RE = re.compile(r"\r?\n")

_MAX_CSEQ = 2**31 - 1  # RFC 3261 §8.1.1.5: the sequence number is below 2**31
_MAX_FORWARDS_LIMIT = 255


def _excerpt(text: str, limit: int = 60) -> str:
    """A short repr for error messages: never echo a whole hostile line back."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def canonical_header_name(name: str) -> str:
    """Full, conventionally spelled header name: "v" -> "Via", "cseq" -> "CSeq"."""
    lower = name.lower()
    full = _COMPACT_FORMS.get(lower)
    if full is not None:
        return full
    return _CANONICAL_NAMES.get(lower, name)


def _quoted_string_end(text: str, start: int) -> int:
    """Index just past the quoted-string that opens at text[start] (a double quote)."""
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
        elif char == '"':
            return i + 1
        else:
            i += 1
    raise ValueError(f"unterminated quoted string in {_excerpt(text)}")


def _unquote(quoted: str) -> str:
    """The content of a complete quoted-string, with quoted-pairs resolved."""
    inner = quoted[1:-1]
    return re.sub(r"\\(.)", r"\1", inner, flags=re.DOTALL)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _split_outside(text: str, separator: str) -> list[str]:
    """Split on `separator` where it is not inside a quoted-string or <...>."""
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    while i < len(text):
        char = text[i]
        if char == '"':
            i = _quoted_string_end(text, i)
            continue
        if char == "<":
            depth += 1
        elif char == ">" and depth:
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def _parse_header_params(text: str, what: str = "") -> dict[str, str | None]:
    """Parse ";name=value;flag" header parameters (names are case-insensitive: lowered).

    `what` prefixes error messages ("Via: empty parameter ...").
    """
    params: dict[str, str | None] = {}
    if not text.strip(" \t"):
        return params
    text = text.strip(" \t")
    what = f"{what}: " if what else ""
    if not text.startswith(";"):
        raise ValueError(f"{what}expected ';' before parameters, got {_excerpt(text)}")
    for raw in _split_outside(text[1:], ";"):
        name, sep, value = raw.partition("=")
        name = name.strip(" \t")
        if not name:
            raise ValueError(f"{what}empty parameter in {_excerpt(text)}")
        if not _TOKEN_RE.fullmatch(name):
            raise ValueError(f"{what}invalid parameter name {_excerpt(name)}")
        if not sep:
            params[name.lower()] = None
            continue
        value = value.strip(" \t")
        if not value:
            raise ValueError(f"{what}parameter {name!r} has no value after '='")
        if value.startswith('"'):
            if _quoted_string_end(value, 0) != len(value):
                raise ValueError(f"{what}text after the quoted value of parameter {name!r}")
        elif any(char in value for char in ' \t"<>,'):
            raise ValueError(f"{what}invalid value {_excerpt(value)} for parameter {name!r}")
        params[name.lower()] = value
    return params


def _format_params(params: dict[str, str | None]) -> str:
    return "".join(
        f";{name}" if value is None else f";{name}={value}" for name, value in params.items()
    )


class Headers:
    """Ordered, multi-valued, case-insensitive SIP headers.

    Names are stored in full form (compact "v" becomes "Via") and conventional spelling for
    known headers; each stored entry is one header line. Iteration yields (name, value) in
    arrival order, which is also the order they are serialised in.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = []
        for name, value in items:
            self.add(name, value)

    def get(self, name: str) -> str | None:
        """The first value (for list headers, the first element), or None if absent."""
        values = self.get_all(name)
        return values[0] if values else None

    def get_all(self, name: str) -> list[str]:
        """All values in order; list headers (Via, Route, Contact...) are split on commas."""
        key = canonical_header_name(name).lower()
        lines = [value for item_name, value in self._items if item_name.lower() == key]
        if key not in _LIST_HEADERS:
            return lines
        values: list[str] = []
        for line in lines:
            values.extend(part.strip(" \t") for part in _split_outside(line, ","))
        return [value for value in values if value]

    def add(self, name: str, value: str) -> None:
        """Append one header line."""
        self._items.append((canonical_header_name(name), value))

    def set(self, name: str, value: str) -> None:
        """Replace all lines of `name` by one, at the position of the first (or at the end)."""
        canonical = canonical_header_name(name)
        key = canonical.lower()
        new_items: list[tuple[str, str]] = []
        placed = False
        for item in self._items:
            if item[0].lower() != key:
                new_items.append(item)
            elif not placed:
                new_items.append((canonical, value))
                placed = True
        if not placed:
            new_items.append((canonical, value))
        self._items = new_items

    def remove(self, name: str) -> None:
        """Remove every line of `name` (no error if there is none)."""
        key = canonical_header_name(name).lower()
        self._items = [item for item in self._items if item[0].lower() != key]

    def count(self, name: str) -> int:
        """How many header lines of `name` there are (not split on commas)."""
        key = canonical_header_name(name).lower()
        return sum(1 for item_name, _ in self._items if item_name.lower() == key)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = canonical_header_name(name).lower()
        return any(item_name.lower() == key for item_name, _ in self._items)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self._items == other._items

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"

    def copy(self) -> Headers:
        clone = Headers()
        clone._items = list(self._items)
        return clone


@dataclass
class SipUri:
    """A sip: or sips: URI (RFC 3261 §19.1). The host of an IPv6 reference has no brackets.

    URI parameter names keep their case: the URI is echoed back to peers as written.
    """

    scheme: str
    user: str | None
    password: str | None
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> SipUri:
        scheme, colon, rest = text.partition(":")
        if not colon or not scheme:
            raise ValueError(f"URI has no scheme: {_excerpt(text)}")
        scheme = scheme.lower()
        if scheme not in ("sip", "sips"):
            raise ValueError(f"unsupported URI scheme {scheme!r} (only sip and sips)")
        if any(char.isspace() for char in text):
            raise ValueError(f"whitespace inside URI {_excerpt(text)}")

        user: str | None = None
        password: str | None = None
        if "@" in rest:
            userinfo, _, rest = rest.partition("@")
            user, has_password, password_text = userinfo.partition(":")
            if not _USER_RE.fullmatch(user):
                raise ValueError(f"invalid user part {_excerpt(user)} in URI")
            if has_password:
                if not _PASSWORD_RE.fullmatch(password_text):
                    raise ValueError("invalid password part in URI")
                password = password_text

        rest, has_headers, headers_text = rest.partition("?")
        hostport, _, params_text = rest.partition(";")
        host, port = _parse_hostport(hostport, f"URI {_excerpt(text)}")

        params: dict[str, str | None] = {}
        if params_text or rest.endswith(";"):
            for raw in params_text.split(";"):
                name, has_value, value = raw.partition("=")
                if not _URI_PARAM_RE.fullmatch(name):
                    raise ValueError(f"invalid URI parameter {_excerpt(raw)}")
                if has_value and not _URI_PARAM_RE.fullmatch(value):
                    raise ValueError(f"invalid value for URI parameter {name!r}")
                params[name] = value if has_value else None

        headers: dict[str, str] = {}
        if has_headers:
            for raw in headers_text.split("&"):
                name, has_value, value = raw.partition("=")
                if not name or not has_value:
                    raise ValueError(f"invalid URI header {_excerpt(raw)}")
                if not _URI_HEADER_RE.fullmatch(name) or not _URI_HEADER_RE.fullmatch(value):
                    raise ValueError(f"invalid URI header {_excerpt(raw)}")
                headers[name] = value
        return cls(scheme, user, password, host, port, params, headers)

    def __str__(self) -> str:
        out = f"{self.scheme}:"
        if self.user is not None:
            out += self.user
            if self.password is not None:
                out += f":{self.password}"
            out += "@"
        out += f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            out += f":{self.port}"
        out += _format_params(self.params)
        if self.headers:
            out += "?" + "&".join(f"{name}={value}" for name, value in self.headers.items())
        return out


def _parse_hostport(text: str, where: str) -> tuple[str, int | None]:
    """Split "host[:port]" (host may be "[v6]"); the returned host has no brackets."""
    if text.startswith("["):
        end = text.find("]")
        if end == -1:
            raise ValueError(f"unterminated IPv6 reference in {where}")
        host = text[1:end]
        if not _IPV6_RE.fullmatch(host):
            raise ValueError(f"invalid IPv6 address {_excerpt(host)} in {where}")
        port_text = text[end + 1 :]
        if port_text and not port_text.startswith(":"):
            raise ValueError(f"unexpected text after IPv6 reference in {where}")
        port_text = port_text[1:]
        has_port = bool(text[end + 1 :])
    else:
        host, colon, port_text = text.partition(":")
        has_port = bool(colon)
        if not _HOSTNAME_RE.fullmatch(host):
            raise ValueError(f"invalid host {_excerpt(host)} in {where}")
    if not has_port:
        return host, None
    if not _PORT_RE.fullmatch(port_text) or int(port_text) > 65535:
        raise ValueError(f"invalid port {_excerpt(port_text)} in {where}")
    return host, int(port_text)


def _split_address(text: str) -> tuple[str | None, str, str]:
    """Split a name-addr or addr-spec header value into (display name, URI text, params text).

    The URI is only checked to be an absolute URI, whatever its scheme (RFC 3261 §20.10).
    """
    value = text.strip(" \t")
    if not value:
        raise ValueError("empty address")
    display: str | None = None
    if value.startswith('"'):
        end = _quoted_string_end(value, 0)
        display = _unquote(value[:end])
        rest = value[end:].lstrip(" \t")
        if not rest.startswith("<"):
            raise ValueError("quoted display name is not followed by <URI>")
    else:
        less = value.find("<")
        semicolon = value.find(";")
        if less == -1 or -1 < semicolon < less:
            # addr-spec: everything after the URI is a header parameter (RFC 3261 §20.10)
            uri, semicolon_found, params = value.partition(";")
            uri = uri.rstrip(" \t")
            if any(char in uri for char in "?,"):
                raise ValueError(f"a URI containing '?' or ',' must be inside <>: {_excerpt(uri)}")
            _check_absolute_uri(uri)
            return None, uri, semicolon_found + params
        display_text = value[:less].strip(" \t")
        if display_text and not _DISPLAY_TOKENS_RE.fullmatch(display_text):
            raise ValueError(f"invalid display name {_excerpt(display_text)} (quote it)")
        display = display_text or None
        rest = value[less:]
    greater = rest.find(">")
    if greater == -1:
        raise ValueError("missing '>' after the URI")
    uri = rest[1:greater]
    _check_absolute_uri(uri)
    params = rest[greater + 1 :]
    return display, uri, params


def _check_absolute_uri(uri: str) -> None:
    match = _ABSOLUTE_URI_RE.fullmatch(uri)
    if match is None:
        raise ValueError(f"invalid URI {_excerpt(uri)}")
    if match.group(1).lower() in ("sip", "sips"):
        SipUri.parse(uri)


@dataclass
class NameAddress:
    """A From/To/Contact/Route value: optional display name, <sip URI>, header parameters."""

    uri: SipUri
    display_name: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> NameAddress:
        display, uri, params_text = _split_address(text)
        return cls(SipUri.parse(uri), display, _parse_header_params(params_text, "address"))

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def __str__(self) -> str:
        prefix = f"{_quote(self.display_name)} " if self.display_name is not None else ""
        return f"{prefix}<{self.uri}>{_format_params(self.params)}"


@dataclass
class Via:
    """One Via element (RFC 3261 §20.42): SIP/2.0/<transport> host[:port];params."""

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Via:
        head, *_ = _split_outside(text, ";")
        match = _SENT_PROTOCOL_RE.fullmatch(head.strip(" \t"))
        if match is None:
            raise ValueError(f"malformed Via {_excerpt(text)}")
        protocol, version, transport, sent_by = match.groups()
        if protocol.upper() != "SIP" or version != "2.0":
            raise ValueError(f"unsupported protocol {protocol}/{version} in Via")
        sent_by_match = _SENT_BY_RE.fullmatch(sent_by.strip(" \t"))
        if sent_by_match is None:
            raise ValueError(f"malformed sent-by {_excerpt(sent_by)} in Via")
        host_text, port_text = sent_by_match.groups()
        hostport = host_text if port_text is None else f"{host_text}:{port_text}"
        host, port = _parse_hostport(hostport, "Via")
        params = _parse_header_params(text[len(head) :], "Via")
        return cls(transport.upper(), host, port, params)

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    @property
    def rport(self) -> int | None:
        """The rport value a server filled in (RFC 3581); None if absent or still empty."""
        value = self.params.get("rport")
        return int(value) if value is not None and value.isdigit() else None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""
        return f"{SIP_VERSION}/{self.transport} {host}{port}{_format_params(self.params)}"


def parse_cseq(value: str) -> tuple[int, str]:
    """ "314159 INVITE" -> (314159, "INVITE")."""
    match = _CSEQ_RE.fullmatch(value)
    if match is None:
        raise ValueError(f"malformed CSeq {_excerpt(value)}")
    digits, method = match.groups()
    if len(digits) > 10 or int(digits) > _MAX_CSEQ:
        raise ValueError(f"CSeq number {_excerpt(digits)} is not below 2**31")
    return int(digits), method


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
            raise ValueError(f"header line without colon: {_excerpt(line)}")
        name = name.rstrip(" \t")
        if not _TOKEN_RE.fullmatch(name):
            raise ValueError(f"invalid header name {_excerpt(name)}")
        fields.append((name, value.strip(" \t")))
    return start_line, Headers(fields)


def _content_length(headers: Headers) -> int | None:
    if headers.count("Content-Length") > 1:
        raise ValueError("more than one Content-Length header")
    value = headers.get("Content-Length")
    if value is None:
        return None
    if value.startswith("-"):
        raise ValueError(f"negative Content-Length {_excerpt(value)}")
    if not value.isdigit() or not value.isascii():
        raise ValueError(f"invalid Content-Length {_excerpt(value)}")
    if len(value) > 10 or int(value) > MAX_MESSAGE_SIZE:
        raise ValueError(f"Content-Length {_excerpt(value)} exceeds {MAX_MESSAGE_SIZE} bytes")
    return int(value)


def _check_version(version: str) -> None:
    if version.upper() != SIP_VERSION:
        raise ValueError(f"unsupported SIP version {_excerpt(version)}")


def _parse_start_line(line: str) -> tuple[str, str] | tuple[int, str]:
    """(method, Request-URI) for a request, (status code, reason) for a response."""
    if line[:4].upper() == "SIP/":
        version, _, rest = line.partition(" ")
        _check_version(version)
        code, _, reason = rest.partition(" ")
        if not _STATUS_CODE_RE.fullmatch(code):
            raise ValueError(f"invalid status code {_excerpt(code)}")
        return int(code), reason
    parts = line.split(" ")
    if len(parts) != 3 or "" in parts:
        raise ValueError(f"malformed request line {_excerpt(line)}")
    method, uri, version = parts
    if not _TOKEN_RE.fullmatch(method):
        raise ValueError(f"invalid method {_excerpt(method)}")
    _check_version(version)
    match = _ABSOLUTE_URI_RE.fullmatch(uri)
    if match is None:
        raise ValueError(f"invalid Request-URI {_excerpt(uri)}")
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
            _display, _uri, params = _split_address(address)
            _parse_header_params(params)
        except ValueError as exc:
            raise ValueError(f"invalid {name} header: {exc}") from exc
    call_id = headers.get("Call-ID") or ""
    if not call_id or any(char.isspace() for char in call_id):
        raise ValueError(f"invalid Call-ID {_excerpt(call_id)}")
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
        raise ValueError(f"invalid Max-Forwards {_excerpt(max_forwards)}")


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
