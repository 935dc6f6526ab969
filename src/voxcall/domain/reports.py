"""What the console reads about a project: a day's summary, calls over time, pages of calls
and of the ledger, tokens and webhook deliveries. Values only; the store fills them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from voxcall.domain.calls import Call, CallStatus
from voxcall.domain.money import LedgerEntry
from voxcall.domain.webhooks import KEPT_FIRST_REQUESTS

BUCKET = 600  # seconds a bar of the calls-over-time chart covers


@dataclass(frozen=True, slots=True)
class Summary:
    """A project's calls requested since a moment (the console's "today")."""

    by_status: dict[CallStatus, int]
    attempted: int  # calls with at least one attempt
    answered: int
    billed_seconds: int  # of the answered calls
    spend_milli: int

    @property
    def answer_rate(self) -> float | None:
        return self.answered / self.attempted if self.attempted else None

    @property
    def average_bill_sec(self) -> float | None:
        return self.billed_seconds / self.answered if self.answered else None


@dataclass(frozen=True, slots=True)
class CallFilter:
    """The calls page's filters; None: any."""

    status: CallStatus | None = None
    number: str | None = None  # the national form, as stored
    campaign_id: str | None = None
    since: int | None = None  # request_date >= since (epoch seconds)
    until: int | None = None  # request_date < until


@dataclass(frozen=True, slots=True)
class CallCursor:
    """Where a page of calls, newest first, continues: after this (request_date, id)."""

    request_date: int
    id: str

    def __str__(self) -> str:
        return f"{self.request_date}.{self.id}"

    @classmethod
    def parse(cls, text: str) -> CallCursor | None:
        when, _, call_id = text.partition(".")
        if not when.isdigit() or not call_id.isalnum() or len(call_id) > 32:
            return None
        return cls(int(when), call_id)


@dataclass(frozen=True, slots=True)
class CallPage:
    calls: list[Call]
    next: CallCursor | None  # None: this is the last page


@dataclass(frozen=True, slots=True)
class TokenInfo:
    prefix: str
    created_at: int
    revoked_at: int | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """A webhook event of a call, and how its delivery went."""

    id: str
    call_id: str
    created_at: float
    attempts: int
    delivered_at: float | None
    failed_at: float | None
    last_error: str
    last_status: int | None  # the status code of its last recorded attempt, if one answered
    requests_not_kept: int  # its requests deleted to keep its history short

    @property
    def state(self) -> str:
        if self.delivered_at is not None:
            return "delivered"
        return "failed" if self.failed_at is not None else "pending"


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One request of a webhook event to its receiver: its status code, or the transport
    error (a timeout, a refused connection...) when no answer came."""

    sent_at: float
    duration: float  # seconds
    status_code: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class DeliveryRequests:
    """The kept requests of a webhook event, oldest first: its first ones, then as many not
    kept, then its latest (voxcall.domain.webhooks.KEPT_FIRST_REQUESTS and KEPT_LAST_REQUESTS).
    """

    first: list[DeliveryAttempt]
    not_kept: int
    last: list[DeliveryAttempt]

    @classmethod
    def around_gap(cls, kept: list[DeliveryAttempt], not_kept: int) -> DeliveryRequests:
        """The gap, if there is one, follows the first KEPT_FIRST_REQUESTS kept."""
        if not not_kept:
            return cls(kept, 0, [])
        return cls(kept[:KEPT_FIRST_REQUESTS], not_kept, kept[KEPT_FIRST_REQUESTS:])


@dataclass(frozen=True, slots=True)
class Attempt:
    number: int
    dialer_id: str
    state: str
    result: str | None
    started_at: float
    answered_at: float | None
    ended_at: float | None
    bill_sec: int
    cause: str

    @property
    def ring_seconds(self) -> float | None:
        end = self.answered_at if self.answered_at is not None else self.ended_at
        return None if end is None else end - self.started_at


@dataclass(frozen=True, slots=True)
class LedgerPage:
    entries: list[LedgerEntry]
    next: int | None  # the seq the next (older) page starts before


@dataclass(frozen=True, slots=True)
class Timeline:
    """Calls requested per BUCKET seconds, by status, from `start`."""

    start: int
    buckets: int
    counts: dict[CallStatus, list[int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Activity:
    """A project's calls requested in one BUCKET (its index from a start) with one status."""

    bucket: int
    status: CallStatus
    calls: int
    attempted: int  # of them, with at least one attempt
    billed_seconds: int  # of the answered ones
    spend_milli: int


def summarise(activity: Iterable[Activity], from_bucket: int = 0) -> Summary:
    """The summary of the buckets from `from_bucket` on."""
    kept = [a for a in activity if a.bucket >= from_bucket]
    by_status: dict[CallStatus, int] = {}
    for a in kept:
        by_status[a.status] = by_status.get(a.status, 0) + a.calls
    return Summary(
        by_status=by_status,
        attempted=sum(a.attempted for a in kept),
        answered=by_status.get(CallStatus.NORMAL, 0),
        billed_seconds=sum(a.billed_seconds for a in kept),
        spend_milli=sum(a.spend_milli for a in kept),
    )


def timeline_of(activity: Iterable[Activity], start: int, buckets: int) -> Timeline:
    timeline = Timeline(start, buckets)
    for a in activity:
        timeline.counts.setdefault(a.status, [0] * buckets)[a.bucket] += a.calls
    return timeline
