"""A voice: the recorded (or synthesized) message a call plays."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Voice:
    id: str
    project_id: str
    name: str
    format: str
    size: int
    duration: float
    created_at: int
    kind: str = "upload"  # upload | tts | otp
    source_hash: str | None = None
    stored_bytes: int = 0  # both its files on disk: what counts against the storage quota


def fits_quota(used: int, adding: int, quota: int) -> bool:
    """Whether `adding` bytes of voice files fit beside the `used` ones in a project's
    storage quota."""
    return used + adding <= quota
