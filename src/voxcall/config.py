"""Where voxcall keeps its state, from flags and environment variables."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

# Seconds an attempt may take beyond its ring timeout and voice before the watchdog ends it as
# ERROR: more than the SIP dialer's own longest wait (64*T1 = 32 s for a final response to the
# INVITE after our CANCEL).
ATTEMPT_WATCHDOG = 60.0


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    database_url: str
    sandbox_speed: float
    # The embedded default (SQLite in the data folder): created on first use.
    embedded: bool = True
    # A worker silent for this long is dead: its calls are UNKNOWN, its work taken over.
    worker_lease: float = 30.0
    # Uploads decoded (and texts spoken) at once; the others wait their turn, holding no
    # thread, so that a burst of uploads cannot take the threads other requests need.
    audio_workers: int = os.cpu_count() or 1
    attempt_watchdog: float = ATTEMPT_WATCHDOG

    @classmethod
    def load(cls, data_dir: Path | None = None) -> Settings:
        folder = (data_dir or Path(os.environ.get("VOXCALL_DATA", "./var"))).resolve()
        url = os.environ.get("VOXCALL_DATABASE_URL")
        workers = os.environ.get("VOXCALL_AUDIO_WORKERS", str(os.cpu_count() or 1))
        if not workers.isdigit() or int(workers) < 1:
            raise ValueError("VOXCALL_AUDIO_WORKERS: must be a positive integer")
        return cls(
            data_dir=folder,
            database_url=url or f"sqlite:///{folder / 'voxcall.db'}",
            sandbox_speed=_positive("VOXCALL_SANDBOX_SPEED", "1"),
            embedded=not url,
            worker_lease=float(os.environ.get("VOXCALL_WORKER_LEASE", "30")),
            audio_workers=int(workers),
            attempt_watchdog=_positive("VOXCALL_ATTEMPT_WATCHDOG", str(ATTEMPT_WATCHDOG)),
        )

    @property
    def voices_dir(self) -> Path:
        return self.data_dir / "voices"

    def prepare(self) -> None:
        self.voices_dir.mkdir(parents=True, exist_ok=True)


def _positive(name: str, default: str) -> float:
    """A positive number (inf allowed) from the environment; ValueError naming the variable."""
    text = os.environ.get(name, default)
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:
        raise ValueError(f"{name}: must be a positive number (or inf), got {text!r}")
    return value
