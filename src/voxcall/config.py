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

    @classmethod
    def load(cls, data_dir: Path | None = None) -> Settings:
        folder = (data_dir or Path(os.environ.get("VOXCALL_DATA", "./var"))).resolve()
        url = os.environ.get("VOXCALL_DATABASE_URL") or f"sqlite:///{folder / 'voxcall.db'}"
        speed = float(os.environ.get("VOXCALL_SANDBOX_SPEED", "1"))
        if speed <= 0:
            raise ValueError("VOXCALL_SANDBOX_SPEED: must be a positive number")
        return cls(data_dir=folder, database_url=url, sandbox_speed=speed)

    @property
    def voices_dir(self) -> Path:
        return self.data_dir / "voices"

    def prepare(self) -> None:
        self.voices_dir.mkdir(parents=True, exist_ok=True)
