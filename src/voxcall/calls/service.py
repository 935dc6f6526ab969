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

from voxcall.audio.decode import SAMPLE_RATE, InvalidAudio, decode_voice
from voxcall.audio.otp import otp_pcm
from voxcall.audio.tts import TtsError, TtsUnavailable, synthesize, tts_key
from voxcall.audio.wav import read_wav_pcm, wav_bytes
from voxcall.billing.money import toman
from voxcall.billing.reservation import max_price
from voxcall.calls.accounts import AccountService
from voxcall.calls.errors import (
    FileTooLarge,
    InsufficientBalance,
    InvalidFile,
    InvalidPhoneNumberError,
    InvalidServer,
    InvalidText,
    InvalidVoice,
    NotFound,
    OverStorageQuota,
    SpeechUnavailable,
    VoiceInUse,
)
from voxcall.calls.numbers import InvalidPhoneNumber, PhoneNumber, parse_phone
from voxcall.domain.calls import Call, NewCall
from voxcall.domain.dialers import DialerConfig
from voxcall.domain.projects import Project
from voxcall.domain.voices import Voice
from voxcall.store.files import VoiceFiles
from voxcall.store.projects import InsufficientFunds
from voxcall.store.store import Store
from voxcall.store.voices import StorageQuotaExceeded

DEFAULT_TIME_TO_LIVE = 14400
MAX_VOICE_BYTES = 10 * 1024 * 1024
MAX_VOICE_SECONDS = 300.0
# Voice files older than this without a voice row were left by a request that never
# committed (see VoiceService.sweep).
ORPHAN_AGE = 3600.0
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


@dataclass(frozen=True, slots=True)
class Speech:
    """A voice spoken for a request. `wav` is set when it is new: then nothing of it is
    stored yet, and its row goes in with the calls that play it (or nowhere)."""

    voice: Voice
    wav: bytes | None

    @property
    def new(self) -> bool:
        return self.wav is not None


def _is_id(value: str) -> bool:
    return len(value) == 32 and all(c in "0123456789abcdef" for c in value)


class CallService:
    def __init__(self, store: Store, *, on_new_calls: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self.accounts = AccountService(store)
        self.on_new_calls = on_new_calls

    def check(
        self,
        project: Project,
        phone_numbers: Sequence[str],
        options: CallOptions,
        *,
        batch: bool = False,
        voice_seconds: float = 0.0,
    ) -> None:
        """Refuse, before any speech is made for them, calls that `place` would refuse for
        their numbers, their dialer or a balance that cannot cover even `voice_seconds`."""
        numbers = _parse_numbers(project, phone_numbers, batch)
        _, candidates = self._route(project, options.server_id, None)
        current = self.accounts.balance(project)
        needed = len(numbers) * max_price(voice_seconds, [d.tariff for d in candidates])
        if needed > current.available_milli:
            raise _insufficient(needed, len(numbers))

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
        new_voice: Voice | None = None,
    ) -> list[Call]:
        """Validate and durably queue one call per number, all or none.

        A batch shares a new campaign id. With `idempotency`, the response is stored in the
        same transaction as the calls. With `settings_version` (`project` came from the
        settings cache at that version), the voice and dialers may come from the cache too,
        and StaleSettings says they changed before the calls could be written. `new_voice`
        (whose id is `voice_id`): speech made for these calls, whose files are on disk; its
        row is written with the calls, or not at all.
        """
        numbers = _parse_numbers(project, phone_numbers, batch)
        voice = new_voice or self._voice(project.id, voice_id, settings_version)
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
                        voice_id=voice.id,
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
                new_voice=new_voice,
            )
        except InsufficientFunds as exc:
            raise _insufficient(exc.needed_milli, len(numbers)) from exc
        except StorageQuotaExceeded as exc:
            raise _over_quota(exc) from exc
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

    def servers(self, project: Project) -> list[ServerInfo]:
        busy = self.store.busy_channels()
        return [
            ServerInfo(d.id, d.name, d.channels, busy.get(d.id, 0))
            for d in self.store.list_dialers(enabled_only=True)
        ]


def _global_default(dialers: Iterable[DialerConfig]) -> DialerConfig | None:
    return next((d for d in dialers if d.is_default), None)


def _parse_numbers(
    project: Project, phone_numbers: Sequence[str], batch: bool
) -> list[PhoneNumber]:
    numbers = []
    for index, raw in enumerate(phone_numbers):
        try:
            numbers.append(parse_phone(raw, allowed_regions=project.allowed_regions))
        except InvalidPhoneNumber as exc:
            field = f"phoneNumbers[{index}]" if batch else "phoneNumber"
            raise InvalidPhoneNumberError(f"{field}: {exc}") from exc
    return numbers


def _insufficient(needed_milli: int, calls: int) -> InsufficientBalance:
    return InsufficientBalance(
        f"balance: {toman(needed_milli):g} Toman must be available for {calls} call(s)"
    )


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f}"


def _over_quota(exc: StorageQuotaExceeded) -> OverStorageQuota:
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
        if len(data) > MAX_VOICE_BYTES:
            raise FileTooLarge(f"file: larger than {MAX_VOICE_BYTES // (1024 * 1024)} MiB")
        # The upload alone would not fit: refused before it is decoded.
        used = self.store.storage_used(project.id)
        if used + len(data) > project.storage_quota:
            raise _over_quota(StorageQuotaExceeded(used, len(data), project.storage_quota))
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
            raise _over_quota(exc) from exc
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
        return self._speech(project, pcm, kind="tts", name=text[:60], source_hash=key)

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
                if _is_id(prelude_voice_id)
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
        removed = self.store.retire_code_voices()
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
