"""Accepting, reading and cancelling call requests and voices: the use cases behind the API.

Synchronous by design: each method is a few store transactions, run by the API in a worker
thread. Nothing here knows of HTTP.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from voxcall.audio.decode import InvalidAudio, decode_voice
from voxcall.audio.otp import otp_pcm
from voxcall.audio.tts import TtsError, TtsUnavailable, synthesize, tts_key
from voxcall.audio.wav import read_wav_pcm, wav_bytes
from voxcall.billing.money import toman
from voxcall.billing.reservation import max_price
from voxcall.calls.errors import (
    FileTooLarge,
    InsufficientBalance,
    InvalidFile,
    InvalidPhoneNumberError,
    InvalidServer,
    InvalidText,
    InvalidVoice,
    NotFound,
    SpeechUnavailable,
    VoiceInUse,
)
from voxcall.calls.numbers import InvalidPhoneNumber, parse_phone
from voxcall.store.files import VoiceFiles
from voxcall.store.records import Call, DialerConfig, NewCall, Project, Voice
from voxcall.store.store import InsufficientFunds, Store

DEFAULT_TIME_TO_LIVE = 14400
MAX_VOICE_BYTES = 10 * 1024 * 1024
MAX_VOICE_SECONDS = 300.0
# The most one voice writes to disk: the largest upload and the longest 8 kHz copy of it.
MAX_VOICE_DISK = MAX_VOICE_BYTES + int(MAX_VOICE_SECONDS * 8000 * 2) + 1024


@dataclass(frozen=True, slots=True)
class CallOptions:
    retry_count: int = 1
    server_id: str | None = None
    retry_interval: int | None = None
    time_to_live: int = DEFAULT_TIME_TO_LIVE


# (project id, Idempotency-Key, the response to keep for the accepted calls)
Idempotency = tuple[str, str, Callable[[list[Call]], str]]


@dataclass(frozen=True, slots=True)
class ServerInfo:
    id: str
    name: str
    channels: int
    busy_channels: int


def _is_id(value: str) -> bool:
    return len(value) == 32 and all(c in "0123456789abcdef" for c in value)


class CallService:
    def __init__(self, store: Store, *, on_new_calls: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self.on_new_calls = on_new_calls

    def place(
        self,
        project: Project,
        phone_numbers: Sequence[str],
        voice_id: str,
        options: CallOptions,
        *,
        batch: bool = False,
        idempotency: Idempotency | None = None,
        settings_version: int | None = None,
    ) -> list[Call]:
        """Validate and durably queue one call per number, all or none.

        A batch shares a new campaign id. With `idempotency`, the response is stored in the
        same transaction as the calls. With `settings_version` (`project` came from the
        settings cache at that version), the voice and dialers may come from the cache too,
        and StaleSettings says they changed before the calls could be written.
        """
        numbers = []
        for index, raw in enumerate(phone_numbers):
            try:
                numbers.append(parse_phone(raw, allowed_regions=project.allowed_regions))
            except InvalidPhoneNumber as exc:
                field = f"phoneNumbers[{index}]" if batch else "phoneNumber"
                raise InvalidPhoneNumberError(f"{field}: {exc}") from exc
        voice = self._voice(project.id, voice_id, settings_version)
        if voice is None:
            raise InvalidVoice("voiceId: no such voice")
        dialer_id, candidates = self._route(project, options.server_id, settings_version)
        reservation = max_price(voice.duration, [d.tariff for d in candidates])
        now = int(time.time())
        campaign_id = uuid.uuid4().hex if batch else None
        try:
            calls = self.store.insert_calls(
                [
                    NewCall(
                        id=uuid.uuid4().hex,
                        project_id=project.id,
                        campaign_id=campaign_id,
                        voice_id=voice_id,
                        national_number=number.national,
                        e164=number.e164,
                        dialer_id=dialer_id,
                        retry_count=options.retry_count,
                        retry_interval=options.retry_interval,
                        request_date=now,
                        expires_at=now + options.time_to_live,
                        reserved_milli=reservation,
                    )
                    for number in numbers
                ],
                idempotency=idempotency,
                settings_version=settings_version,
            )
        except InsufficientFunds as exc:
            raise InsufficientBalance(
                f"balance: {toman(exc.needed_milli):g} Toman must be available for "
                f"{len(numbers)} call(s)"
            ) from exc
        self.on_new_calls()
        return calls

    def _voice(self, project_id: str, voice_id: str, settings_version: int | None) -> Voice | None:
        if not _is_id(voice_id):
            return None
        cached = None
        if settings_version is not None:
            cached = self.store.settings.voice(project_id, voice_id, settings_version)
        return cached or self.store.get_voice(project_id, voice_id)

    def _route(
        self, project: Project, server_id: str | None, settings_version: int | None
    ) -> tuple[str | None, list[DialerConfig]]:
        """The dialer a new call must use (None: the least-loaded enabled one takes it), and
        the dialers that may place it, whose tariffs bound what it can cost."""
        dialers = None
        if settings_version is not None:
            dialers = self.store.settings.enabled_dialers(settings_version)
        if dialers is None:
            dialers = self.store.list_dialers(enabled_only=True)
        enabled = {d.id: d for d in dialers}
        if server_id is not None:
            if server_id not in enabled:
                raise InvalidServer(f"serverId: no enabled dialer {server_id!r}")
            return server_id, [enabled[server_id]]
        if not enabled:
            raise InvalidServer("serverId: no dialer is enabled")
        if project.default_dialer_id in enabled:
            return project.default_dialer_id, [enabled[project.default_dialer_id]]
        default = _global_default(enabled.values())
        if default is not None:
            return default.id, [default]
        return None, list(enabled.values())

    def status(self, project: Project, call_id: str) -> Call:
        call = self.store.get_call(project.id, call_id) if _is_id(call_id) else None
        if call is None:
            raise NotFound("id: no such call")
        return call

    def campaign(self, project: Project, campaign_id: str) -> list[Call]:
        calls = self.store.campaign_calls(project.id, campaign_id) if _is_id(campaign_id) else []
        if not calls:
            raise NotFound("campaignId: no such campaign")
        return calls

    def cancel(self, project: Project, call_id: str) -> Call:
        call = self.store.cancel_call(project.id, call_id) if _is_id(call_id) else None
        if call is None:
            raise NotFound("id: no such call")
        return call

    def account(self, project: Project) -> Project:
        """The project as it is now, with its balance and reservations."""
        current = self.store.get_project(project.id)
        if current is None:
            raise NotFound("project: no longer exists")
        return current

    def servers(self, project: Project) -> list[ServerInfo]:
        busy = self.store.busy_channels()
        return [
            ServerInfo(d.id, d.name, d.channels, busy.get(d.id, 0))
            for d in self.store.list_dialers(enabled_only=True)
        ]


def _global_default(dialers: Iterable[DialerConfig]) -> DialerConfig | None:
    return next((d for d in dialers if d.is_default), None)


class VoiceService:
    def __init__(self, store: Store, files: VoiceFiles) -> None:
        self.store = store
        self.files = files

    def upload(self, project: Project, data: bytes, *, name: str | None, filename: str) -> Voice:
        """Decode, check and store a voice; nothing is kept when any step fails."""
        if len(data) > MAX_VOICE_BYTES:
            raise FileTooLarge(f"file: larger than {MAX_VOICE_BYTES // (1024 * 1024)} MiB")
        try:
            decoded = decode_voice(data, max_duration=MAX_VOICE_SECONDS)
        except InvalidAudio as exc:
            raise InvalidFile(str(exc)) from exc
        voice = Voice(
            id=uuid.uuid4().hex,
            project_id=project.id,
            name=(name or filename or "voice")[:200],
            format=decoded.format,
            size=len(data),
            duration=round(decoded.duration, 3),
            created_at=int(time.time()),
        )
        return self._keep(voice, original=data, wav=wav_bytes(decoded.pcm))

    def _keep(self, voice: Voice, *, original: bytes, wav: bytes) -> Voice:
        """Files first, then the row; a failed row leaves no files behind."""
        self.files.save(voice.project_id, voice.id, original=original, wav=wav)
        try:
            self.store.add_voice(voice)
        except BaseException:
            self.files.delete(voice.project_id, voice.id)
            raise
        return voice

    def from_text(self, project: Project, text: str, language: str) -> Voice:
        """A voice speaking `text`, synthesized once per distinct text and language."""
        try:
            key = tts_key(text, language)
        except TtsError as exc:
            raise InvalidText(str(exc)) from exc
        cached = self.store.voice_by_source(project.id, key)
        if cached is not None:
            return cached
        pcm = self._speak(lambda: synthesize(text, language))
        return self._store_pcm(project, pcm, kind="tts", name=text[:60], source_hash=key)

    def for_code(
        self,
        project: Project,
        code: str,
        language: str,
        *,
        repeat_count: int,
        prelude_voice_id: str | None,
    ) -> Voice:
        """A one-time code read digit by digit; the voice is never listed (it holds the code)."""
        prelude = None
        if prelude_voice_id is not None:
            voice = (
                self.store.get_voice(project.id, prelude_voice_id)
                if _is_id(prelude_voice_id)
                else None
            )
            if voice is None:
                raise InvalidVoice("voiceId: no such voice")
            prelude, _ = read_wav_pcm(self.files.wav_path(project.id, voice.id).read_bytes())
        pcm = self._speak(
            lambda: otp_pcm(code, language, repeat_count=repeat_count, prelude=prelude)
        )
        return self._store_pcm(project, pcm, kind="otp", name="one-time code", source_hash=None)

    @staticmethod
    def _speak(make: Callable[[], bytes]) -> bytes:
        try:
            return make()
        except TtsUnavailable as exc:
            raise SpeechUnavailable(str(exc)) from exc
        except TtsError as exc:
            raise InvalidText(str(exc)) from exc

    def _store_pcm(
        self, project: Project, pcm: bytes, *, kind: str, name: str, source_hash: str | None
    ) -> Voice:
        wav = wav_bytes(pcm)
        voice = Voice(
            id=uuid.uuid4().hex,
            project_id=project.id,
            name=name,
            format="wav",
            size=len(wav),
            duration=round(len(pcm) / 2 / 8000, 3),
            created_at=int(time.time()),
            kind=kind,
            source_hash=source_hash,
        )
        return self._keep(voice, original=wav, wav=wav)

    def check_writable(self) -> None:
        """DiskUnavailable unless the data folder can take one more voice of any size."""
        self.files.check_writable(room=MAX_VOICE_DISK)

    def list(self, project: Project) -> list[Voice]:
        return self.store.list_voices(project.id)

    def get(self, project: Project, voice_id: str) -> Voice:
        voice = self.store.get_voice(project.id, voice_id) if _is_id(voice_id) else None
        if voice is None:
            raise NotFound("voiceId: no such voice")
        return voice

    def audio_path(self, project: Project, voice_id: str, *, original: bool) -> Path:
        voice = self.get(project, voice_id)
        if original:
            return self.files.original_path(project.id, voice.id)
        return self.files.wav_path(project.id, voice.id)

    def delete(self, project: Project, voice_id: str) -> None:
        deleted = self.store.delete_voice(project.id, voice_id) if _is_id(voice_id) else None
        if deleted is None:
            raise NotFound("voiceId: no such voice")
        if not deleted:
            raise VoiceInUse("voiceId: a call that is not final uses this voice")
        self.files.delete(project.id, voice_id)
