"""Rows as small frozen dataclasses: what the store hands to the layers above it."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from voxcall.billing.money import FREE, Tariff


class CallStatus(enum.Enum):
    """The public status of a call request (api.md §2), with its Bitel status code."""

    WAITING = 0
    NORMAL = 1
    NO_ANSWER = 2
    USER_BUSY = 3
    EXPIRED = 10
    ERROR = 11
    UNKNOWN = 20

    @property
    def code(self) -> int:
        return self.value

    @property
    def is_final(self) -> bool:
        return self is not CallStatus.WAITING


class Phase(enum.Enum):
    """Where a WAITING call is in the scheduler; every final call is `FINAL`."""

    QUEUED = "queued"
    DIALING = "dialing"
    FINAL = "final"


# What a project's voice files may take on disk unless the operator sets otherwise.
DEFAULT_STORAGE_QUOTA = 500 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    name: str
    rate_limit: int
    default_dialer_id: str | None
    allowed_regions: tuple[str, ...]
    created_at: int
    balance_milli: int = 0
    reserved_milli: int = 0
    webhook_url: str | None = None
    storage_quota: int = DEFAULT_STORAGE_QUOTA  # bytes of voice files

    @property
    def available_milli(self) -> int:
        return self.balance_milli - self.reserved_milli


@dataclass(frozen=True, slots=True)
class DialerConfig:
    id: str
    name: str
    driver: str
    options: dict[str, object]
    channels: int
    cps: float
    retry_interval: int
    ring_timeout: int
    enabled: bool
    is_default: bool
    tariff: Tariff = FREE


@dataclass(frozen=True, slots=True)
class Voice:
    id: str
    project_id: str
    name: str
    format: str
    size: int
    duration: float
    created_at: int
    kind: str = "upload"  # upload | tts | otp
    source_hash: str | None = None
    stored_bytes: int = 0  # both its files on disk: what counts against the storage quota


@dataclass(frozen=True, slots=True)
class Call:
    id: str
    project_id: str
    campaign_id: str | None
    voice_id: str
    national_number: str
    e164: str
    dialer_id: str | None
    status: CallStatus
    phase: Phase
    retry_count: int
    retry_interval: int | None
    request_date: int
    expires_at: int
    next_attempt_at: float
    execution_date: int
    attempts: int
    bill_sec: int
    price_milli: int
    reserved_milli: int
    cause: str


@dataclass(frozen=True, slots=True)
class NewCall:
    """A call request as accepted, before the store gives it a row."""

    id: str
    project_id: str
    campaign_id: str | None
    voice_id: str
    national_number: str
    e164: str
    dialer_id: str | None
    retry_count: int
    retry_interval: int | None
    request_date: int
    expires_at: int
    reserved_milli: int = 0  # the most this call can cost, held from the balance


@dataclass(frozen=True, slots=True)
class ClaimedAttempt:
    """An attempt the store has recorded as started: the dialer may now place it."""

    attempt_id: str
    number: int
    call: Call
    dialer_id: str
    started_at: float


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """How an attempt ended, and what that makes of its call (decided by `voxcall.calls`)."""

    attempt_id: str
    result: str  # AttemptResult name, or "UNKNOWN"
    answered_at: float | None
    ended_at: float
    bill_sec: int
    cause: str
    call_status: CallStatus  # WAITING when the call will be retried
    next_attempt_at: float | None  # set when call_status is WAITING
    price_milli: int = 0  # what the attempt costs; debited when the call ends NORMAL


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: str
    kind: str  # topup | debit | adjustment
    amount_milli: int
    balance_after_milli: int
    call_id: str | None
    note: str
    created_at: float


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """An outbox event leased for one delivery attempt."""

    id: str
    project_id: str
    call_id: str
    payload: str
    url: str
    secret: str
    attempts: int  # including this one
    created_at: float


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    """How one delivery attempt ended: delivered (no error), to be tried again at
    `retry_at`, or given up (an error and no `retry_at`)."""

    event_id: str
    at: float
    error: str | None = None
    retry_at: float | None = None


@dataclass(frozen=True, slots=True)
class IdempotentReplay:
    """What an Idempotency-Key already stands for."""

    state: str  # new | pending | done | conflict
    status_code: int | None = None
    response: str | None = None


@dataclass(frozen=True, slots=True)
class Backlog:
    """Work the database holds that is not done yet (for metrics)."""

    queued_calls: int
    dialing_calls: int
    pending_webhooks: int
