"""A campaign (api.md §8): a list of numbers called with one message under one policy, and
the rules of its status and of how many of its numbers may be released to the dialers."""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from voxcall.domain.calls import CallStatus
from voxcall.domain.interaction import Gather, MachineDetection

CALLS_PER_MINUTE_BURST = 60.0  # seconds of callsPerMinute budget an idle campaign may save
# A released call's time to live, a single call's default; the campaign's endAt cuts it.
CALL_TIME_TO_LIVE = 14400


def released_call_expiry(request_date: int, end_at: int) -> int:
    """When a call released at `request_date` expires: after its time to live, or when
    the campaign ends if that is first, for calls not final then are EXPIRED (api.md §8)."""
    return min(request_date + CALL_TIME_TO_LIVE, end_at)


class CampaignState(enum.Enum):
    """What the client asked of the campaign; its public status is derived (`status`)."""

    ACTIVE = "active"
    PAUSED = "paused"
    CANCELLED = "cancelled"


class CampaignStatus(enum.Enum):
    SCHEDULED = "SCHEDULED"
    RUNNING = "RUNNING"
    OUTSIDE_WINDOW = "OUTSIDE_WINDOW"
    PAUSED = "PAUSED"
    NO_BALANCE = "NO_BALANCE"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True, slots=True)
class Skips:
    """Numbers of the list that were not taken, by reason (api.md §8 `skipped`)."""

    invalid: int = 0
    not_allowed: int = 0
    duplicate: int = 0
    do_not_call: int = 0

    @property
    def total(self) -> int:
        return self.invalid + self.not_allowed + self.duplicate + self.do_not_call


@dataclass(frozen=True, slots=True)
class RejectedLine:
    line: int
    value: str
    reason: str  # a SkipReason value: invalid, notAllowed, duplicate, doNotCall


@dataclass(frozen=True, slots=True)
class CampaignPolicy:
    """How the campaign's calls are placed: fixed at creation."""

    voice_id: str
    dialer_id: str | None
    retry_count: int
    retry_interval: int | None
    start_at: int
    end_at: int
    window: str | None  # the window as JSON (§10), or None: the project's default
    max_channels: int | None
    calls_per_minute: int | None
    reservation_milli: int  # the most one call can cost, reserved as it is released
    gather: Gather | None = None  # api.md §11, copied onto every call released
    machine_detection: MachineDetection = MachineDetection.OFF


# What reading a list skipped: counts by reason, and the first lines skipped.
ListSkips = tuple[Skips, tuple[RejectedLine, ...]]


@dataclass(frozen=True, slots=True)
class NewCampaign:
    id: str
    project_id: str
    name: str
    policy: CampaignPolicy
    created_at: int


@dataclass(frozen=True, slots=True)
class Campaign:
    id: str
    project_id: str
    name: str
    policy: CampaignPolicy
    state: CampaignState
    total: int  # numbers in its list
    released: int  # numbers handed to the call queue, from the start of the list
    no_balance: bool  # the last release found the balance short of the next call
    skips: Skips
    rejected: tuple[RejectedLine, ...]
    created_at: int
    started_at: int | None
    finished_at: int | None
    # Calls by status, and what they were debited; numbers not released yet are WAITING,
    # or EXPIRED once the campaign has ended without them.
    counts: dict[CallStatus, int] = field(default_factory=dict)
    price_milli: int = 0

    def counted(self, finals: Mapping[CallStatus, int], price_milli: int) -> Campaign:
        """The campaign with its released calls made final, by status, and their debits.
        Its other released calls are WAITING, and so are its numbers never released, or
        EXPIRED once it has ended (api.md §8: they have no call object)."""
        counts = dict.fromkeys(CallStatus, 0) | dict(finals)
        counts[CallStatus.WAITING] = self.released - sum(finals.values())
        ended = self.finished_at is not None or self.state is CampaignState.CANCELLED
        counts[CallStatus.EXPIRED if ended else CallStatus.WAITING] += self.total - self.released
        return dataclasses.replace(self, counts=counts, price_milli=price_milli)

    def status(self, now: float, *, window_open: bool = True) -> CampaignStatus:
        if self.state is CampaignState.CANCELLED:
            return CampaignStatus.CANCELLED
        if self.finished_at is not None:
            return CampaignStatus.DONE
        if self.state is CampaignState.PAUSED:
            return CampaignStatus.PAUSED
        if now < self.policy.start_at:
            return CampaignStatus.SCHEDULED
        if self.no_balance:
            return CampaignStatus.NO_BALANCE
        if not window_open:
            return CampaignStatus.OUTSIDE_WINDOW
        return CampaignStatus.RUNNING


@dataclass(frozen=True, slots=True)
class ReleasePlan:
    """How many numbers one release may move into the call queue, and its pacing."""

    count: int
    paced_from: float  # when the callsPerMinute budget starts to count
    spacing: float  # seconds of that budget one call spends (0: no callsPerMinute)

    def next_release_at(self, released: int) -> float:
        """The pacing state once `released` (at most `count`) calls are released."""
        return self.paced_from + released * self.spacing


def release_plan(
    *,
    waiting: int,
    in_flight: int,
    channel_cap: int,
    calls_per_minute: int | None,
    next_release_at: float,
    now: float,
) -> ReleasePlan:
    """How many of `waiting` unreleased numbers to release now.

    At most `channel_cap` of the campaign's calls are in the call queue at once (`in_flight`
    of them are), so a campaign never holds more than its channels' worth of reservations;
    `calls_per_minute` is a token bucket whose budget accrues from `next_release_at` and
    saves at most a minute's worth while idle.
    """
    count = max(0, min(waiting, channel_cap - in_flight))
    if calls_per_minute is None:
        return ReleasePlan(count, next_release_at, 0.0)
    spacing = 60.0 / calls_per_minute
    start = max(next_release_at, now - CALLS_PER_MINUTE_BURST)
    count = min(count, max(0, math.floor((now - start) / spacing)))
    return ReleasePlan(count, start, spacing)
