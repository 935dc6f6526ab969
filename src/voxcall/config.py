"""Where voxcall keeps its state, from flags and environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


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

    @classmethod
    def load(cls, data_dir: Path | None = None) -> Settings:
        folder = (data_dir or Path(os.environ.get("VOXCALL_DATA", "./var"))).resolve()
        url = os.environ.get("VOXCALL_DATABASE_URL")
        speed = float(os.environ.get("VOXCALL_SANDBOX_SPEED", "1"))
        if not speed > 0:
            raise ValueError("VOXCALL_SANDBOX_SPEED: must be a positive number (or inf)")
        workers = os.environ.get("VOXCALL_AUDIO_WORKERS", str(os.cpu_count() or 1))
        if not workers.isdigit() or int(workers) < 1:
            raise ValueError("VOXCALL_AUDIO_WORKERS: must be a positive integer")
        return cls(
            data_dir=folder,
            database_url=url or f"sqlite:///{folder / 'voxcall.db'}",
            sandbox_speed=speed,
            embedded=not url,
            worker_lease=float(os.environ.get("VOXCALL_WORKER_LEASE", "30")),
            audio_workers=int(workers),
        )

    @property
    def voices_dir(self) -> Path:
        return self.data_dir / "voices"

    def prepare(self) -> None:
        self.voices_dir.mkdir(parents=True, exist_ok=True)
