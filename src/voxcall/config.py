"""Where voxcall keeps its state, from flags and environment variables."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from voxcall.store.database import DB_TIMEOUT

# Seconds an attempt may take beyond its ring timeout and voice before the watchdog ends it as
# ERROR: more than the SIP dialer's own longest wait (64*T1 = 32 s for a final response to the
# INVITE after our CANCEL).
ATTEMPT_WATCHDOG = 60.0


class DataFolderMismatch(Exception):
    """The data folder's files and database do not belong together."""


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
    # Seconds a transaction may wait for a locked or slow database before it gives up
    # (a request then answers 503, having written nothing).
    db_timeout: float = DB_TIMEOUT
    # The console's wall clock: its dates and what "today" is.
    timezone: str = "Asia/Tehran"

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
            worker_lease=_positive("VOXCALL_WORKER_LEASE", "30"),
            audio_workers=int(workers),
            attempt_watchdog=_positive("VOXCALL_ATTEMPT_WATCHDOG", str(ATTEMPT_WATCHDOG)),
            db_timeout=_positive("VOXCALL_DB_TIMEOUT", str(DB_TIMEOUT)),
            timezone=_zone("VOXCALL_TIMEZONE", "Asia/Tehran"),
        )

    @property
    def voices_dir(self) -> Path:
        return self.data_dir / "voices"

    def prepare(self) -> None:
        """Make the data folder; refuse to begin a new embedded database beside old voices.

        Voice files with no database mean the database was lost or moved (or --data points
        at the wrong place): a fresh one would orphan them and forget every call and balance.
        """
        database = self.data_dir / "voxcall.db"
        fresh = not database.exists() or database.stat().st_size == 0
        if self.embedded and fresh and self.voices_dir.is_dir() and any(self.voices_dir.iterdir()):
            raise DataFolderMismatch(
                f"{self.data_dir} holds voice files but no database ({database.name}); voxcall "
                "will not start an empty one beside them. Restore voxcall.db (and its -wal "
                "file) from a backup, or point --data / VOXCALL_DATABASE_URL at the database "
                f"of these voices; to start afresh on purpose, move {self.voices_dir} away."
            )
        self.voices_dir.mkdir(parents=True, exist_ok=True)


def _zone(name: str, default: str) -> str:
    """An IANA time zone name from the environment; ValueError naming the variable."""
    text = os.environ.get(name, default)
    try:
        ZoneInfo(text)
    except (ValueError, ZoneInfoNotFoundError):
        raise ValueError(f"{name}: not a time zone name, got {text!r}") from None
    return text


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
