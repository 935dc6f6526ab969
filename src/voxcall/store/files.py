"""Voice files on disk: the upload as it came, and the 8 kHz version callees hear."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


class DiskUnavailable(Exception):
    """The data folder cannot be written (full, read-only, failing); nothing was kept."""


class VoiceFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, project_id: str, voice_id: str) -> Path:
        return self.root / project_id / voice_id

    def original_path(self, project_id: str, voice_id: str) -> Path:
        return self._dir(project_id, voice_id) / "original"

    def wav_path(self, project_id: str, voice_id: str) -> Path:
        return self._dir(project_id, voice_id) / "8k.wav"

    def save(self, project_id: str, voice_id: str, *, original: bytes, wav: bytes) -> None:
        """Write both files durably before the voice row is committed.

        DiskUnavailable if the disk refuses them; then no file of this voice is left.
        """
        folder = self._dir(project_id, voice_id)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _write_durably(self.original_path(project_id, voice_id), original)
            _write_durably(self.wav_path(project_id, voice_id), wav)
        except OSError as exc:
            self.delete(project_id, voice_id)
            raise DiskUnavailable(f"{self.root}: {exc.strerror or exc}") from exc

    def delete(self, project_id: str, voice_id: str) -> None:
        shutil.rmtree(self._dir(project_id, voice_id), ignore_errors=True)

    def stored(self, older_than: float) -> Iterator[tuple[str, str]]:
        """(project id, voice id) of every voice folder last changed before `older_than`
        (epoch seconds)."""
        for project in sorted(self.root.iterdir()) if self.root.is_dir() else []:
            for folder in sorted(project.iterdir()) if project.is_dir() else []:
                if folder.is_dir() and folder.stat().st_mtime < older_than:
                    yield project.name, folder.name

    def holds_voices(self) -> bool:
        """Whether any project's voice files are here."""
        return self.root.is_dir() and any(self.root.iterdir())

    def check_writable(self, room: int) -> None:
        """DiskUnavailable unless `room` bytes are free here and a file can be written now."""
        try:
            stat = os.statvfs(self.root)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".health-") as probe:
                probe.write(b"\0" * 4096)
                probe.flush()
                os.fsync(probe.fileno())
        except OSError as exc:
            raise DiskUnavailable(f"{self.root}: {exc.strerror or exc}") from exc
        free = stat.f_bavail * stat.f_frsize
        if free < room:
            raise DiskUnavailable(f"{self.root}: {free} bytes free, a voice may need {room}")


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
