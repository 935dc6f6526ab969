"""The webhook outbox as the deliverer sees it: a leased event and how its delivery ended."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from voxcall.domain.calls import Call

# The requests of an event that are kept: its first ones (how its delivery began) and its
# latest (how it is going). Those between are deleted, and counted, as each new one is
# recorded, so that a receiver down for 24 h leaves 23 rows per event, not 100 and more.
KEPT_FIRST_REQUESTS = 3
KEPT_LAST_REQUESTS = 20


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


def delivery_error(status_code: int | None, transport_error: str | None) -> str | None:
    """What went wrong with a request, as an event's `last_error` keeps it: the transport
    error if there was one (even after a status line: an answer cut short), else a status
    other than 2xx; None when it was delivered."""
    if transport_error is not None:
        return transport_error
    if status_code is None:
        raise ValueError("a request without an answer needs its transport error")
    return None if 200 <= status_code < 300 else f"HTTP {status_code}"


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    """How one delivery attempt ended: delivered (no error), to be tried again at
    `retry_at`, or given up (an error and no `retry_at`); and what the receiver answered."""

    event_id: str
    sent_at: float  # when the request started
    at: float  # when it ended
    duration: float  # seconds the request took (a monotonic clock's, not at - sent_at)
    status_code: int | None  # the receiver's status; None when none came
    transport_error: str | None = None  # a timeout, a refused connection...
    retry_at: float | None = None

    def __post_init__(self) -> None:
        delivery_error(self.status_code, self.transport_error)  # refuses neither

    @property
    def error(self) -> str | None:
        return delivery_error(self.status_code, self.transport_error)


def lease_shares(
    oldest_pending: Iterable[tuple[str, float | None]],
    now: float,
    *,
    limit: int,
    per_project: int,
    room: Mapping[str, int],
) -> list[tuple[str, int]]:
    """Which projects a lease of at most `limit` events takes from, and at most how many of
    each, from each project's oldest pending event: the projects whose oldest is due, oldest
    first, each its `room` if it has one there, else `per_project` (a project without room
    is passed over). The first `limit` of them hold the `limit` oldest events any lease may
    take, so one project's backlog never starves another's."""
    due = sorted(
        (oldest, project)
        for project, oldest in oldest_pending
        if oldest is not None and oldest <= now and room.get(project, per_project) > 0
    )
    return [(project, room.get(project, per_project)) for _, project in due[:limit]]
