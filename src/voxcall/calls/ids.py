"""Ids of projects' calls, campaigns and voices: 32 lowercase hex digits (a uuid4's hex)."""

from __future__ import annotations


def is_id(value: str) -> bool:
    """Whether `value` can be an id; anything else is looked up as no such thing."""
    return len(value) == 32 and all(c in "0123456789abcdef" for c in value)
