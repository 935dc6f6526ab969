"""The values of the headers a transaction reads (RFC 3261 §20): name-addr and addr-spec
(From, To, Contact, Route), Via and CSeq."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from voxcall.dialers.sip.syntax import (
    SIP_VERSION,
    TOKEN,
    excerpt,
    format_params,
    parse_header_params,
    quote,
    quoted_string_end,
    split_outside,
    unquote,
)
from voxcall.dialers.sip.uri import SipUri, check_absolute_uri, parse_hostport

_DISPLAY_TOKENS_RE = re.compile(rf"{TOKEN}(?:[ \t]+{TOKEN})*")
_SENT_PROTOCOL_RE = re.compile(
    rf"({TOKEN})[ \t]*/[ \t]*({TOKEN})[ \t]*/[ \t]*({TOKEN})[ \t]+(.+)", re.DOTALL
)
_SENT_BY_RE = re.compile(r"(\[[^\]]*\]|[^:\[\]]+?)(?:[ \t]*:[ \t]*(\S+))?")
_CSEQ_RE = re.compile(rf"[ \t]*(\d+)[ \t]+({TOKEN})[ \t]*")

_MAX_CSEQ = 2**31 - 1  # RFC 3261 §8.1.1.5: the sequence number is below 2**31


def split_address(text: str) -> tuple[str | None, str, str]:
    """Split a name-addr or addr-spec header value into (display name, URI text, params text).

    The URI is only checked to be an absolute URI, whatever its scheme (RFC 3261 §20.10).
    """
    value = text.strip(" \t")
    if not value:
        raise ValueError("empty address")
    display: str | None = None
    if value.startswith('"'):
        end = quoted_string_end(value, 0)
        display = unquote(value[:end])
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
                raise ValueError(f"a URI containing '?' or ',' must be inside <>: {excerpt(uri)}")
            check_absolute_uri(uri)
            return None, uri, semicolon_found + params
        display_text = value[:less].strip(" \t")
        if display_text and not _DISPLAY_TOKENS_RE.fullmatch(display_text):
            raise ValueError(f"invalid display name {excerpt(display_text)} (quote it)")
        display = display_text or None
        rest = value[less:]
    greater = rest.find(">")
    if greater == -1:
        raise ValueError("missing '>' after the URI")
    uri = rest[1:greater]
    check_absolute_uri(uri)
    params = rest[greater + 1 :]
    return display, uri, params


@dataclass
class NameAddress:
    """A From/To/Contact/Route value: optional display name, <sip URI>, header parameters."""

    uri: SipUri
    display_name: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> NameAddress:
        display, uri, params_text = split_address(text)
        return cls(SipUri.parse(uri), display, parse_header_params(params_text, "address"))

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def __str__(self) -> str:
        prefix = f"{quote(self.display_name)} " if self.display_name is not None else ""
        return f"{prefix}<{self.uri}>{format_params(self.params)}"


@dataclass
class Via:
    """One Via element (RFC 3261 §20.42): SIP/2.0/<transport> host[:port];params."""

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Via:
        head, *_ = split_outside(text, ";")
        match = _SENT_PROTOCOL_RE.fullmatch(head.strip(" \t"))
        if match is None:
            raise ValueError(f"malformed Via {excerpt(text)}")
        protocol, version, transport, sent_by = match.groups()
        if protocol.upper() != "SIP" or version != "2.0":
            raise ValueError(f"unsupported protocol {protocol}/{version} in Via")
        sent_by_match = _SENT_BY_RE.fullmatch(sent_by.strip(" \t"))
        if sent_by_match is None:
            raise ValueError(f"malformed sent-by {excerpt(sent_by)} in Via")
        host_text, port_text = sent_by_match.groups()
        hostport = host_text if port_text is None else f"{host_text}:{port_text}"
        host, port = parse_hostport(hostport, "Via")
        params = parse_header_params(text[len(head) :], "Via")
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
        return f"{SIP_VERSION}/{self.transport} {host}{port}{format_params(self.params)}"


def parse_cseq(value: str) -> tuple[int, str]:
    """ "314159 INVITE" -> (314159, "INVITE")."""
    match = _CSEQ_RE.fullmatch(value)
    if match is None:
        raise ValueError(f"malformed CSeq {excerpt(value)}")
    digits, method = match.groups()
    if len(digits) > 10 or int(digits) > _MAX_CSEQ:
        raise ValueError(f"CSeq number {excerpt(digits)} is not below 2**31")
    return int(digits), method
