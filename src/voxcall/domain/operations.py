"""What the operator's pages read of the whole service: each dialer's recent activity, the
call queue by class, the workers and the webhook backlog. Values only; the store fills them."""

from __future__ import annotations

from dataclasses import dataclass

RECENT = 3600  # seconds of a dialer's attempts its answer rate covers
RATE_WINDOW = 60  # seconds of started attempts its calls per second are averaged over
# How far back a dialer's last error is looked for: the hour the answer rate covers, a range
# of ix_attempts_dialer_started (a day of a busy trunk's attempts took 0.3 s to walk).
ERROR_LOOKBACK = RECENT


@dataclass(frozen=True, slots=True)
class DialerActivity:
    """One dialer's channels in use and its attempts of the last hour."""

    busy: int = 0
    attempts: int = 0  # started in the last RECENT seconds
    answered: int = 0  # of those
    started_last_minute: int = 0
    last_error: str | None = None  # the cause of its newest ERROR attempt, if in the hour
    last_error_at: float | None = None

    @property
    def answer_rate(self) -> float | None:
        return self.answered / self.attempts if self.attempts else None

    @property
    def calls_per_second(self) -> float:
        return self.started_last_minute / RATE_WINDOW


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    id: str
    host: str
    pid: int
    started_at: float
    heartbeat_at: float


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """Calls waiting for an attempt, by class (the claim's order, api.md §10)."""

    one_time_code: int = 0
    single: int = 0  # single and text-to-speech calls
    batch: int = 0
    campaign: int = 0  # released campaign numbers (those not released wait in their list)
    dialing: int = 0  # calls with an attempt on a line now
    pending_webhooks: int = 0
