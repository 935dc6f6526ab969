"""The lexical rules of SIP (RFC 3261 §25) that the URI, header and message parsers share:
tokens, quoted strings, separators outside quotes and <...>, and ";name=value" parameters.

Pure functions; every rejection raises ValueError saying what was wrong.
"""

from __future__ import annotations

import re

SIP_VERSION = "SIP/2.0"

TOKEN = r"[A-Za-z0-9.!%*_+`'~-]+"
TOKEN_RE = re.compile(TOKEN)


def excerpt(text: str, limit: int = 60) -> str:
    """A short repr for error messages: never echo a whole hostile line back."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def quoted_string_end(text: str, start: int) -> int:
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
    raise ValueError(f"unterminated quoted string in {excerpt(text)}")


def unquote(quoted: str) -> str:
    """The content of a complete quoted-string, with quoted-pairs resolved."""
    inner = quoted[1:-1]
    return re.sub(r"\\(.)", r"\1", inner, flags=re.DOTALL)


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def split_outside(text: str, separator: str) -> list[str]:
    """Split on `separator` where it is not inside a quoted-string or <...>."""
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    while i < len(text):
        char = text[i]
        if char == '"':
            i = quoted_string_end(text, i)
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


def parse_header_params(text: str, what: str = "") -> dict[str, str | None]:
    """Parse ";name=value;flag" header parameters (names are case-insensitive: lowered).

    `what` prefixes error messages ("Via: empty parameter ...").
    """
    params: dict[str, str | None] = {}
    if not text.strip(" \t"):
        return params
    text = text.strip(" \t")
    what = f"{what}: " if what else ""
    if not text.startswith(";"):
        raise ValueError(f"{what}expected ';' before parameters, got {excerpt(text)}")
    for raw in split_outside(text[1:], ";"):
        name, sep, value = raw.partition("=")
        name = name.strip(" \t")
        if not name:
            raise ValueError(f"{what}empty parameter in {excerpt(text)}")
        if not TOKEN_RE.fullmatch(name):
            raise ValueError(f"{what}invalid parameter name {excerpt(name)}")
        if not sep:
            params[name.lower()] = None
            continue
        value = value.strip(" \t")
        if not value:
            raise ValueError(f"{what}parameter {name!r} has no value after '='")
        if value.startswith('"'):
            if quoted_string_end(value, 0) != len(value):
                raise ValueError(f"{what}text after the quoted value of parameter {name!r}")
        elif any(char in value for char in ' \t"<>,'):
            raise ValueError(f"{what}invalid value {excerpt(value)} for parameter {name!r}")
        params[name.lower()] = value
    return params


def format_params(params: dict[str, str | None]) -> str:
    return "".join(
        f";{name}" if value is None else f";{name}={value}" for name, value in params.items()
    )
