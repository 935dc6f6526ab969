"""HTTP Digest authentication for SIP (RFC 2617, RFC 7616, RFC 8760; RFC 3261 §22).

Pure, like httpx's `DigestAuth`: parse the challenge of a 401/407, compute the credentials,
return the request to resend. No network, so every step is testable with captured bytes.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from voxcall.dialers.sip.message import SipRequest, SipResponse

__all__ = [
    "DigestChallenge",
    "authorization",
    "authorize",
    "select_challenge",
]

# Canonical spelling (as RFC 7616 writes it) -> hash function.
_ALGORITHMS: dict[str, Callable[[bytes], hashlib._Hash]] = {
    "MD5": hashlib.md5,
    "MD5-sess": hashlib.md5,
    "SHA-256": hashlib.sha256,
    "SHA-256-sess": hashlib.sha256,
}
_BY_UPPER = {name.upper(): name for name in _ALGORITHMS}
# When a server offers several challenges (RFC 8760 §2.4), take the strongest we support.
_PREFERENCE = ("SHA-256", "SHA-256-sess", "MD5", "MD5-sess")

_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.!%*_+`'~-")


def _parse_auth_params(text: str) -> dict[str, str]:
    """Parse `name=token, name="quoted string", ...` (names lowered, quotes resolved)."""
    params: dict[str, str] = {}
    i, end = 0, len(text)
    while True:
        while i < end and text[i] in " \t,":
            i += 1
        if i == end:
            return params
        start = i
        while i < end and text[i] in _TOKEN_CHARS:
            i += 1
        name = text[start:i].lower()
        if not name:
            raise ValueError(f"expected a parameter name at {text[start : start + 20]!r}")
        while i < end and text[i] in " \t":
            i += 1
        if i == end or text[i] != "=":
            raise ValueError(f"parameter {name!r} has no '=value'")
        i += 1
        while i < end and text[i] in " \t":
            i += 1
        if i < end and text[i] == '"':
            i += 1
            chars: list[str] = []
            while i < end and text[i] != '"':
                if text[i] == "\\":
                    i += 1
                if i < end:
                    chars.append(text[i])
                    i += 1
            if i == end:
                raise ValueError(f"unterminated quoted value for parameter {name!r}")
            i += 1
            value = "".join(chars)
        else:
            start = i
            while i < end and text[i] in _TOKEN_CHARS | {"/", ":", "=", "@"}:
                i += 1
            value = text[start:i]
            if not value:
                raise ValueError(f"parameter {name!r} has an empty value")
        while i < end and text[i] in " \t":
            i += 1
        if i < end and text[i] != ",":
            raise ValueError(f"expected ',' after parameter {name!r}")
        params[name] = value


@dataclass(frozen=True)
class DigestChallenge:
    """One Digest challenge from a WWW-Authenticate or Proxy-Authenticate header."""

    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False

    @classmethod
    def parse(cls, header_value: str) -> DigestChallenge:
        """Parse `Digest realm="...", nonce="...", ...`."""
        scheme, _, rest = header_value.strip(" \t").partition(" ")
        if scheme.lower() != "digest":
            raise ValueError(f"not a Digest challenge (scheme {scheme[:20]!r})")
        params = _parse_auth_params(rest)
        if "realm" not in params:
            raise ValueError("Digest challenge without realm")
        if not params.get("nonce"):
            raise ValueError("Digest challenge without nonce")
        algorithm = _BY_UPPER.get(params.get("algorithm", "MD5").upper())
        if algorithm is None:
            raise ValueError(f"unsupported digest algorithm {params['algorithm'][:20]!r}")
        qop = tuple(
            option.strip(" \t").lower()
            for option in params.get("qop", "").split(",")
            if option.strip(" \t")
        )
        return cls(
            realm=params["realm"],
            nonce=params["nonce"],
            algorithm=algorithm,
            qop=qop,
            opaque=params.get("opaque"),
            stale=params.get("stale", "").lower() == "true",
        )


def select_challenge(header_values: Iterable[str]) -> DigestChallenge:
    """The strongest usable Digest challenge among a response's challenge headers."""
    usable: list[DigestChallenge] = []
    errors: list[str] = []
    for value in header_values:
        try:
            usable.append(DigestChallenge.parse(value))
        except ValueError as exc:
            errors.append(str(exc))
    if not usable:
        detail = "; ".join(errors) if errors else "no challenge header"
        raise ValueError(f"no usable Digest challenge ({detail})")
    return min(usable, key=lambda challenge: _PREFERENCE.index(challenge.algorithm))


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def authorization(
    challenge: DigestChallenge,
    *,
    method: str,
    uri: str,
    username: str,
    password: str,
    cnonce: str | None = None,
    nonce_count: int = 1,
) -> str:
    """The Authorization / Proxy-Authorization header value answering `challenge`.

    With qop=auth offered we use it (RFC 2617 §3.2.2); with no qop the answer is RFC 2069
    style, which is what most SIP trunks send. `uri` must be the Request-URI as sent.
    """
    if not 1 <= nonce_count <= 0xFFFFFFFF:
        raise ValueError(f"nonce_count {nonce_count} out of range 1..2**32-1")
    if challenge.qop and "auth" not in challenge.qop:
        raise ValueError(f"server offers only qop {','.join(challenge.qop)}; we support auth")
    use_qop = "auth" in challenge.qop
    if challenge.algorithm.endswith("-sess") and not use_qop:
        raise ValueError(f"{challenge.algorithm} needs qop=auth, which the server did not offer")
    hash_function = _ALGORITHMS[challenge.algorithm]

    def digest(text: str) -> str:
        return hash_function(text.encode("utf-8")).hexdigest()

    client_nonce = cnonce if cnonce is not None else secrets.token_hex(8)
    nc = f"{nonce_count:08x}"
    ha1 = digest(f"{username}:{challenge.realm}:{password}")
    if challenge.algorithm.endswith("-sess"):
        ha1 = digest(f"{ha1}:{challenge.nonce}:{client_nonce}")
    ha2 = digest(f"{method}:{uri}")
    if use_qop:
        response = digest(f"{ha1}:{challenge.nonce}:{nc}:{client_nonce}:auth:{ha2}")
    else:
        response = digest(f"{ha1}:{challenge.nonce}:{ha2}")

    parts = [
        f"username={_quote(username)}",
        f"realm={_quote(challenge.realm)}",
        f"nonce={_quote(challenge.nonce)}",
        f"uri={_quote(uri)}",
        f"response={_quote(response)}",
        f"algorithm={challenge.algorithm}",
    ]
    if use_qop:
        parts += [f"cnonce={_quote(client_nonce)}", "qop=auth", f"nc={nc}"]
    if challenge.opaque is not None:
        parts.append(f"opaque={_quote(challenge.opaque)}")
    return "Digest " + ", ".join(parts)


def authorize(
    request: SipRequest,
    challenge_response: SipResponse,
    *,
    username: str,
    password: str,
    cnonce: str | None = None,
    nonce_count: int = 1,
) -> SipRequest:
    """A copy of `request` carrying credentials for a 401 or 407 (RFC 3261 §22.2, §22.3).

    Only the credentials header is added; the caller gives the retried request a new CSeq
    number and Via branch, since that is a new transaction.
    """
    status = challenge_response.status_code
    if status == 401:
        challenge_header, credentials_header = "WWW-Authenticate", "Authorization"
    elif status == 407:
        challenge_header, credentials_header = "Proxy-Authenticate", "Proxy-Authorization"
    else:
        raise ValueError(f"{status} is not an authentication challenge (401 or 407)")
    challenge = select_challenge(challenge_response.headers.get_all(challenge_header))
    value = authorization(
        challenge,
        method=request.method,
        uri=request.uri,
        username=username,
        password=password,
        cnonce=cnonce,
        nonce_count=nonce_count,
    )
    headers = request.headers.copy()
    headers.set(credentials_header, value)
    return SipRequest(request.method, request.uri, headers, request.body)
