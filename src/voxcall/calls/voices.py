"""Voices of a project: uploaded, spoken from text, or a one-time code read out; their files
and rows kept together, and swept when nothing will play them again.

Synchronous by design, like CallService: the API runs each method in a worker thread.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from voxcall.audio.decode import SAMPLE_RATE, InvalidAudio, decode_voice
from voxcall.audio.otp import otp_pcm
from voxcall.audio.tts import TtsError, TtsUnavailable, canonical_text, synthesize, tts_key
from voxcall.audio.wav import read_wav_pcm, wav_bytes
from voxcall.calls.errors import (
    FileTooLarge,
    InvalidFile,
    InvalidText,
    InvalidVoice,
    NotFound,
    OverStorageQuota,
    SpeechUnavailable,
    VoiceInUse,
)
from voxcall.calls.ids import is_id
from voxcall.calls.names import check_name
from voxcall.domain.projects import Project
from voxcall.domain.voices import Voice, fits_quota
from voxcall.store.files import VoiceFiles
from voxcall.store.store import Store
from voxcall.store.voices import StorageQuotaExceeded

MAX_VOICE_BYTES = 10 * 1024 * 1024
MAX_VOICE_SECONDS = 300.0
# Voice files older than this without a voice row were left by a request that never
# committed (see VoiceService.sweep).
ORPHAN_AGE = 3600.0
# The most one voice writes to disk: the largest upload and the longest 8 kHz copy of it.
MAX_VOICE_DISK = MAX_VOICE_BYTES + int(MAX_VOICE_SECONDS * 8000 * 2) + 1024


@dataclass(frozen=True, slots=True)
class Speech:
    """A voice spoken for a request. `wav` is set when it is new: then nothing of it is
    stored yet, and its row goes in with the calls that play it (or nowhere)."""

    voice: Voice
    wav: bytes | None

    @property
    def new(self) -> bool:
        return self.wav is not None


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f}"


def over_quota(exc: StorageQuotaExceeded) -> OverStorageQuota:
    return OverStorageQuota(
        f"storage: the project's voices would take {_mib(exc.used + exc.adding)} MiB, over its "
        f"quota of {_mib(exc.quota)} MiB (delete voices it no longer needs)"
    )


class VoiceService:
    def __init__(self, store: Store, files: VoiceFiles) -> None:
        self.store = store
        self.files = files

    def upload(self, project: Project, data: bytes, *, name: str | None, filename: str) -> Voice:
        """Decode, check and store a voice; nothing is kept when any step fails."""
        if name:
            check_name("name", name)
        else:  # named after the file
            check_name("filename", filename)
        if len(data) > MAX_VOICE_BYTES:
            raise FileTooLarge(f"file: larger than {MAX_VOICE_BYTES // (1024 * 1024)} MiB")
        # The upload alone would not fit: refused before it is decoded.
        used = self.store.storage_used(project.id)
        if not fits_quota(used, len(data), project.storage_quota):
            raise over_quota(StorageQuotaExceeded(used, len(data), project.storage_quota))
        try:
            decoded = decode_voice(data, max_duration=MAX_VOICE_SECONDS)
        except InvalidAudio as exc:
            raise InvalidFile(str(exc)) from exc
        wav = wav_bytes(decoded.pcm)
        voice = Voice(
            id=uuid.uuid4().hex,
            project_id=project.id,
            name=(name or filename or "voice")[:200],
            format=decoded.format,
            size=len(data),
            duration=round(decoded.duration, 3),
            created_at=int(time.time()),
            stored_bytes=len(data) + len(wav),
        )
        return self._keep(voice, original=data, wav=wav)

    def _keep(self, voice: Voice, *, original: bytes, wav: bytes) -> Voice:
        """Files first, then the row; a failed row leaves no files behind."""
        self.files.save(voice.project_id, voice.id, original=original, wav=wav)
        try:
            self.store.add_voice(voice)
        except StorageQuotaExceeded as exc:
            self.files.delete(voice.project_id, voice.id)
            raise over_quota(exc) from exc
        except BaseException:
            self.files.delete(voice.project_id, voice.id)
            raise
        return voice

    def from_text(self, project: Project, text: str, language: str) -> Voice:
        """A voice speaking `text`, synthesized once per distinct text and language."""
        speech = self.spoken(project, text, language)
        if speech.wav is None:  # the project already has it
            return speech.voice
        return self._keep(speech.voice, original=speech.wav, wav=speech.wav)

    def spoken(self, project: Project, text: str, language: str) -> Speech:
        """`text` spoken, for calls that will store it with themselves: the project's voice
        of the same text and language if it has one, else new speech (nothing stored yet)."""
        try:
            key = tts_key(text, language)
        except TtsError as exc:
            raise InvalidText(str(exc)) from exc
        cached = self.store.voice_by_source(project.id, key)
        if cached is not None:
            return Speech(cached, wav=None)
        pcm = self._speak(lambda: synthesize(text, language))
        # Named by the canonical text: no control character (PostgreSQL refuses a NUL).
        name = canonical_text(text, language)[:60]
        return self._speech(project, pcm, kind="tts", name=name, source_hash=key)

    def spoken_code(
        self,
        project: Project,
        code: str,
        language: str,
        *,
        repeat_count: int,
        prelude_voice_id: str | None,
    ) -> Speech:
        """A one-time code read digit by digit, for its call to store (never listed: it
        holds the code). Like any voice it may last MAX_VOICE_SECONDS at most."""
        prelude = None
        if prelude_voice_id is not None:
            voice = (
                self.store.get_voice(project.id, prelude_voice_id)
                if is_id(prelude_voice_id)
                else None
            )
            if voice is None:
                raise InvalidVoice("voiceId: no such voice")
            prelude, _ = read_wav_pcm(self.files.wav_path(project.id, voice.id).read_bytes())
        pcm = self._speak(
            lambda: otp_pcm(code, language, repeat_count=repeat_count, prelude=prelude)
        )
        seconds = len(pcm) / 2 / SAMPLE_RATE
        if seconds > MAX_VOICE_SECONDS:
            field = "voiceId" if prelude else "repeatCount"
            raise InvalidText(
                f"{field}: the spoken code would last {seconds:.1f} s, longer than a voice "
                f"may ({MAX_VOICE_SECONDS:g} s)"
            )
        return self._speech(project, pcm, kind="otp", name="one-time code", source_hash=None)

    def save_speech(self, speech: Speech) -> None:
        """Write new speech's files, before the transaction that stores its row."""
        if speech.wav is not None:
            voice = speech.voice
            self.files.save(voice.project_id, voice.id, original=speech.wav, wav=speech.wav)

    def discard_speech(self, speech: Speech) -> None:
        """Remove new speech's files if its row was not stored (its request failed)."""
        voice = speech.voice
        if speech.wav is not None and self.store.get_voice(voice.project_id, voice.id) is None:
            self.files.delete(voice.project_id, voice.id)

    @staticmethod
    def _speak(make: Callable[[], bytes]) -> bytes:
        try:
            return make()
        except TtsUnavailable as exc:
            raise SpeechUnavailable(str(exc)) from exc
        except TtsError as exc:
            raise InvalidText(str(exc)) from exc

    @staticmethod
    def _speech(
        project: Project, pcm: bytes, *, kind: str, name: str, source_hash: str | None
    ) -> Speech:
        wav = wav_bytes(pcm)
        voice = Voice(
            id=uuid.uuid4().hex,
            project_id=project.id,
            name=name,
            format="wav",
            size=len(wav),
            duration=round(len(pcm) / 2 / SAMPLE_RATE, 3),
            created_at=int(time.time()),
            kind=kind,
            source_hash=source_hash,
            stored_bytes=2 * len(wav),  # kept as both the original and the 8 kHz file
        )
        return Speech(voice, wav=wav)

    def check_writable(self) -> None:
        """DiskUnavailable unless the data folder can take one more voice of any size."""
        self.files.check_writable(room=MAX_VOICE_DISK)

    def sweep(self, *, orphan_age: float = ORPHAN_AGE) -> int:
        """Remove generated voices no call will use again, and files no voice owns; how
        many voices' files were removed.

        One-time-code voices go once their calls are final. Files without a voice row are
        what a request left when it was cancelled, or its process died, between writing them
        and committing the row: removed once `orphan_age` seconds old, so that a request
        still on its way to its commit keeps them.
        """
        # a one-time code is heard by its own calls alone: its voice goes once they are final
        removed = self.store.retire_unused_voices(kind="otp")
        live: dict[str, set[str]] = {}
        for project_id, voice_id in self.files.stored(time.time() - orphan_age):
            if project_id not in live:
                live[project_id] = self.store.live_voice_ids(project_id)
            if voice_id not in live[project_id]:
                removed.append((project_id, voice_id))
        for project_id, voice_id in removed:
            self.files.delete(project_id, voice_id)
        return len(removed)

    def list(self, project: Project) -> list[Voice]:
        return self.store.list_voices(project.id)

    def get(self, project: Project, voice_id: str) -> Voice:
        voice = self.store.get_voice(project.id, voice_id) if is_id(voice_id) else None
        if voice is None:
            raise NotFound("voiceId: no such voice")
        return voice

    def audio_path(self, project: Project, voice_id: str, *, original: bool) -> Path:
        voice = self.get(project, voice_id)
        if original:
            return self.files.original_path(project.id, voice.id)
        return self.files.wav_path(project.id, voice.id)

    def delete(self, project: Project, voice_id: str) -> None:
        deleted = self.store.delete_voice(project.id, voice_id) if is_id(voice_id) else None
        if deleted is None:
            raise NotFound("voiceId: no such voice")
        if not deleted:
            raise VoiceInUse("voiceId: a call that is not final uses this voice")
        self.files.delete(project.id, voice_id)
