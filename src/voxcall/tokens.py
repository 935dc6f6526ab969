"""API tokens: shown once, stored only as a SHA-256 hash.

A token carries 256 random bits, so a fast hash is enough: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

PREFIX_LENGTH = 8


@dataclass(frozen=True, slots=True)
class NewToken:
    token: str  # give to the client; never stored
    prefix: str  # stored, to name the token when revoking it
    token_hash: str


def new_token() -> NewToken:
    token = "vx_" + secrets.token_urlsafe(32)
    return NewToken(token=token, prefix=token_prefix(token), token_hash=hash_token(token))


def token_prefix(token: str) -> str:
    return token[3 : 3 + PREFIX_LENGTH] if token.startswith("vx_") else token[:PREFIX_LENGTH]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
