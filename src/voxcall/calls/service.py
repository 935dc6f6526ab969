"""Accepting, reading and cancelling call requests: the use cases behind the API.

Synchronous by design: each method is a few store transactions, run by the API in a worker
thread. Nothing here knows of HTTP.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from voxcall.billing.money import toman
from voxcall.billing.reservation import max_price
from voxcall.calls.accounts import AccountService
from voxcall.calls.call_windows import Holidays, opening_from, project_window
from voxcall.calls.dnc_lists import DncService, dnc_check, do_not_call
from voxcall.calls.errors import (
    InsufficientBalance,
    InvalidPhoneNumberError,
    InvalidServer,
    InvalidVoice,
    NotFound,
)
from voxcall.calls.ids import is_id
from voxcall.calls.numbers import InvalidPhoneNumber, PhoneNumber, parse_phone
from voxcall.calls.voices import over_quota
from voxcall.domain.calls import Call, CallClass, NewCall, longest_talk
from voxcall.domain.dialers import DialerConfig
from voxcall.domain.interaction import Gather, MachineDetection
from voxcall.domain.projects import Project
from voxcall.domain.voices import Voice
from voxcall.store.dnc import Listed
from voxcall.store.projects import InsufficientFunds
from voxcall.store.store import Store
from voxcall.store.voices import StorageQuotaExceeded

DEFAULT_TIME_TO_LIVE = 14400


@dataclass(frozen=True, slots=True)
class CallOptions:
    retry_count: int = 1
    server_id: str | None = None
    retry_interval: int | None = None
    time_to_live: int = DEFAULT_TIME_TO_LIVE
    gather: Gather | None = None  # api.md §11
    machine_detection: MachineDetection = MachineDetection.OFF


# (project id, Idempotency-Key, the response to keep for the accepted calls)
Idempotency = tuple[str, str, Callable[[list[Call]], str]]


@dataclass(frozen=True, slots=True)
class ServerInfo:
    id: str
    name: str
    channels: int
    busy_channels: int


class CallService:
    def __init__(self, store: Store, *, on_new_calls: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self.accounts = AccountService(store)
        self.dnc = DncService(store)
        self.on_new_calls = on_new_calls
        self.holidays = Holidays(lambda: [day for day, _ in store.holidays()])

    def check(
        self,
        project: Project,
        phone_numbers: Sequence[str],
        options: CallOptions,
        *,
        batch: bool = False,
        one_time_code: bool = False,
        voice_seconds: float = 0.0,
    ) -> None:
        """Refuse, before any speech is made for them, calls that `place` would refuse for
        their numbers, their dialer or a balance that cannot cover even `voice_seconds`."""
        numbers = _parse_numbers(project, phone_numbers, batch)
        self.dnc.refuse_listed(project, numbers, one_time_code=one_time_code, batch=batch)
        _, candidates = self.route(project, options.server_id, None)
        current = self.accounts.balance(project)
        talk = longest_talk(voice_seconds, options.gather, options.machine_detection)
        needed = len(numbers) * max_price(talk, [d.tariff for d in candidates])
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
        one_time_code: bool = False,
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
        row is written with the calls, or not at all. A number on a do-not-call list is
        refused (`one_time_code`: a one-time code, which the project's list does not stop),
        checked in the write of the calls.
        """
        numbers = _parse_numbers(project, phone_numbers, batch)
        voice = new_voice or self._voice(project.id, voice_id, settings_version)
        if voice is None:
            raise InvalidVoice("voiceId: no such voice")
        dialer_id, candidates = self.route(project, options.server_id, settings_version)
        talk = longest_talk(voice.duration, options.gather, options.machine_detection)
        reservation = max_price(talk, [d.tariff for d in candidates])
        now = int(time.time())
        campaign_id = uuid.uuid4().hex if batch else None
        call_class = CallClass.BATCH if batch else CallClass.SINGLE
        if one_time_code:
            call_class = CallClass.ONE_TIME_CODE
        expires_at = now + options.time_to_live
        held_until = self._held_until(project, one_time_code, now, expires_at)
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
                        expires_at=expires_at,
                        reserved_milli=reservation,
                        call_class=call_class,
                        gather=options.gather,
                        machine_detection=options.machine_detection,
                        not_before=held_until(number.e164),
                    )
                    for number in numbers
                ],
                idempotency=idempotency,
                settings_version=settings_version,
                new_voice=new_voice,
                dnc=dnc_check(project, numbers, one_time_code=one_time_code),
            )
        except Listed as exc:
            raise do_not_call(numbers, exc.e164s, batch=batch) from exc
        except InsufficientFunds as exc:
            raise _insufficient(exc.needed_milli, len(numbers)) from exc
        except StorageQuotaExceeded as exc:
            raise over_quota(exc) from exc
        self.on_new_calls()
        return calls

    def _held_until(
        self, project: Project, one_time_code: bool, now: int, expires_at: int
    ) -> Callable[[str], float | None]:
        """When the first attempt to a number may start, if its project's default window is
        closed `now` (None: at once), so that the claim does not see the call before then.
        (The scheduler checks the window again when it claims the call.) One-time codes are
        never held."""
        window = None if one_time_code else project_window(project)
        if window is None:
            return lambda e164: None
        holidays = self.holidays.now()

        def held_until(e164: str) -> float | None:
            opening = opening_from(window, e164, now, holidays, expires_at)
            return opening if opening > now else None

        return held_until

    def _voice(self, project_id: str, voice_id: str, settings_version: int | None) -> Voice | None:
        if not is_id(voice_id):
            return None
        cached = None
        if settings_version is not None:
            cached = self.store.settings.voice(project_id, voice_id, settings_version)
        return cached or self.store.get_voice(project_id, voice_id)

    def route(
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
        call = self.store.get_call(project.id, call_id) if is_id(call_id) else None
        if call is None:
            raise NotFound("id: no such call")
        return call

    def campaign(self, project: Project, campaign_id: str) -> list[Call]:
        calls = self.store.campaign_calls(project.id, campaign_id) if is_id(campaign_id) else []
        if not calls:
            raise NotFound("campaignId: no such campaign")
        return calls

    def cancel(self, project: Project, call_id: str) -> Call:
        call = self.store.cancel_call(project.id, call_id) if is_id(call_id) else None
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
