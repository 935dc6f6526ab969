"""SIP URIs (RFC 3261 §19.1): parse a sip: or sips: URI and write it back as it came."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from voxcall.dialers.sip.syntax import excerpt, format_params

ABSOLUTE_URI_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):[^\s<>\"]+")
_USER_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()%&=+$,;?/]+")
_PASSWORD_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()%&=+$,]*")
_HOSTNAME_RE = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_.])?")
_IPV6_RE = re.compile(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")
_URI_PARAM_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()%\[\]/:&+$]+")
_URI_HEADER_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()%\[\]/?:+$]*")
_PORT_RE = re.compile(r"\d{1,5}")


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
            raise ValueError(f"URI has no scheme: {excerpt(text)}")
        scheme = scheme.lower()
        if scheme not in ("sip", "sips"):
            raise ValueError(f"unsupported URI scheme {scheme!r} (only sip and sips)")
        if any(char.isspace() for char in text):
            raise ValueError(f"whitespace inside URI {excerpt(text)}")

        user: str | None = None
        password: str | None = None
        if "@" in rest:
            userinfo, _, rest = rest.partition("@")
            user, has_password, password_text = userinfo.partition(":")
            if not _USER_RE.fullmatch(user):
                raise ValueError(f"invalid user part {excerpt(user)} in URI")
            if has_password:
                if not _PASSWORD_RE.fullmatch(password_text):
                    raise ValueError("invalid password part in URI")
                password = password_text

        rest, has_headers, headers_text = rest.partition("?")
        hostport, _, params_text = rest.partition(";")
        host, port = parse_hostport(hostport, f"URI {excerpt(text)}")

        params: dict[str, str | None] = {}
        if params_text or rest.endswith(";"):
            for raw in params_text.split(";"):
                name, has_value, value = raw.partition("=")
                if not _URI_PARAM_RE.fullmatch(name):
                    raise ValueError(f"invalid URI parameter {excerpt(raw)}")
                if has_value and not _URI_PARAM_RE.fullmatch(value):
                    raise ValueError(f"invalid value for URI parameter {name!r}")
                params[name] = value if has_value else None

        headers: dict[str, str] = {}
        if has_headers:
            for raw in headers_text.split("&"):
                name, has_value, value = raw.partition("=")
                if not name or not has_value:
                    raise ValueError(f"invalid URI header {excerpt(raw)}")
                if not _URI_HEADER_RE.fullmatch(name) or not _URI_HEADER_RE.fullmatch(value):
                    raise ValueError(f"invalid URI header {excerpt(raw)}")
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
        out += format_params(self.params)
        if self.headers:
            out += "?" + "&".join(f"{name}={value}" for name, value in self.headers.items())
        return out


def parse_hostport(text: str, where: str) -> tuple[str, int | None]:
    """Split "host[:port]" (host may be "[v6]"); the returned host has no brackets."""
    if text.startswith("["):
        end = text.find("]")
        if end == -1:
            raise ValueError(f"unterminated IPv6 reference in {where}")
        host = text[1:end]
        if not _IPV6_RE.fullmatch(host):
            raise ValueError(f"invalid IPv6 address {excerpt(host)} in {where}")
        port_text = text[end + 1 :]
        if port_text and not port_text.startswith(":"):
            raise ValueError(f"unexpected text after IPv6 reference in {where}")
        port_text = port_text[1:]
        has_port = bool(text[end + 1 :])
    else:
        host, colon, port_text = text.partition(":")
        has_port = bool(colon)
        if not _HOSTNAME_RE.fullmatch(host):
            raise ValueError(f"invalid host {excerpt(host)} in {where}")
    if not has_port:
        return host, None
    if not _PORT_RE.fullmatch(port_text) or int(port_text) > 65535:
        raise ValueError(f"invalid port {excerpt(port_text)} in {where}")
    return host, int(port_text)


def check_absolute_uri(uri: str) -> None:
    match = ABSOLUTE_URI_RE.fullmatch(uri)
    if match is None:
        raise ValueError(f"invalid URI {excerpt(uri)}")
    if match.group(1).lower() in ("sip", "sips"):
        SipUri.parse(uri)
