"""Tokens, voices and dialers kept in memory between changes to them.

A call request reads its project (by token), its voice and the enabled dialers before it
writes anything; read from the database each time, those reads cost more than the write. Every
change that could alter them (a token revoked, a project or dialer updated, a voice deleted)
adds one to a version number in the database, in the same transaction. Entries here hold for
the version they were read at. A request that used them names that version when it writes its
calls, and the write is refused if the version has moved on (`StaleSettings`), so a revoked
token or a disabled dialer takes effect at once, not after some expiry time.

Only what exists is kept: an unknown token or voice is read afresh each time, so a new token
or voice needs no version change and random tokens cannot fill the cache.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TypeVar

from voxcall.domain.dialers import DialerConfig
from voxcall.domain.projects import Project
from voxcall.domain.voices import Voice

K = TypeVar("K")
V = TypeVar("V")
MAX_ENTRIES = 10_000  # per kind; past it the kind starts empty again


class StaleSettings(Exception):
    """Settings read for this request changed before it could be written."""


@dataclass
class SettingsCache:
    version: int = -1  # -1: nothing read yet
    _projects: dict[str, Project] = field(default_factory=dict)  # by token hash
    _voices: dict[tuple[str, str], Voice] = field(default_factory=dict)
    _dialers: list[DialerConfig] | None = None  # the enabled ones
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def project(self, token_hash: str) -> tuple[Project, int] | None:
        with self._lock:
            project = self._projects.get(token_hash)
            return None if project is None else (project, self.version)

    def voice(self, project_id: str, voice_id: str, version: int) -> Voice | None:
        with self._lock:
            return self._voices.get((project_id, voice_id)) if version == self.version else None

    def enabled_dialers(self, version: int) -> list[DialerConfig] | None:
        with self._lock:
            return self._dialers if version == self.version else None

    def keep_project(self, version: int, token_hash: str, project: Project) -> None:
        with self._lock:
            if self._at(version):
                _bounded(self._projects)[token_hash] = project

    def keep_voice(self, version: int, voice: Voice) -> None:
        with self._lock:
            if self._at(version):
                _bounded(self._voices)[(voice.project_id, voice.id)] = voice

    def keep_dialers(self, version: int, dialers: list[DialerConfig]) -> None:
        with self._lock:
            if self._at(version):
                self._dialers = dialers

    def _at(self, version: int) -> bool:
        """Move to `version` if it is newer (dropping what older versions left); False if
        `version` is older than what is kept, so its reads must not be kept."""
        if version > self.version:
            self.version = version
            self._projects = {}
            self._voices = {}
            self._dialers = None
        return version == self.version


def _bounded(entries: dict[K, V]) -> dict[K, V]:
    if len(entries) >= MAX_ENTRIES:
        entries.clear()
    return entries
