"""The webhook outbox as the deliverer sees it: a leased event and how its delivery ended."""

from __future__ import annotations

from dataclasses import dataclass

from voxcall.domain.calls import Call


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """An outbox event leased for one delivery attempt."""

    id: str
    project_id: str
    call: Call  # final: the event is rendered from it
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
