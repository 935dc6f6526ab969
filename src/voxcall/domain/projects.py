"""A project: one customer of voxcall, with its balance and limits."""

from __future__ import annotations

from dataclasses import dataclass

# What a project's voice files may take on disk unless the operator sets otherwise.
DEFAULT_STORAGE_QUOTA = 500 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    name: str
    rate_limit: int
    default_dialer_id: str | None
    allowed_regions: tuple[str, ...]
    created_at: int
    balance_milli: int = 0
    reserved_milli: int = 0
    webhook_url: str | None = None
    storage_quota: int = DEFAULT_STORAGE_QUOTA  # bytes of voice files
    window: str | None = None  # the default calling window as JSON (§10); None: always open

    @property
    def available_milli(self) -> int:
        return self.balance_milli - self.reserved_milli
