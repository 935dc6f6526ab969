"""Voice files on disk: the upload as it came, and the 8 kHz version callees hear."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


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
        """Write both files durably before the voice row is committed."""
        folder = self._dir(project_id, voice_id)
        folder.mkdir(parents=True, exist_ok=True)
        _write_durably(self.original_path(project_id, voice_id), original)
        _write_durably(self.wav_path(project_id, voice_id), wav)

    def delete(self, project_id: str, voice_id: str) -> None:
        shutil.rmtree(self._dir(project_id, voice_id), ignore_errors=True)


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
