"""What the console shows a project: its day, its calls, its money and its integrations,
always scoped to the project (another project's id is NotFound, like an unknown one)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from voxcall.calls.errors import NotFound
from voxcall.calls.ids import is_id
from voxcall.domain.calls import Call
from voxcall.domain.projects import Project
from voxcall.domain.reports import (
    BUCKET,
    Attempt,
    CallCursor,
    CallFilter,
    CallPage,
    Delivery,
    DeliveryRequests,
    LedgerPage,
    Summary,
    Timeline,
    TokenInfo,
    summarise,
    timeline_of,
)
from voxcall.store.store import Store

DAY_BUCKETS = 24 * 3600 // BUCKET
EXPORT_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Overview:
    project: Project  # as it is now: balance and reservations
    today: Summary
    timeline: Timeline
    in_progress: list[Call]


@dataclass(frozen=True, slots=True)
class CallDetail:
    call: Call
    attempts: list[Attempt]
    deliveries: list[Delivery]
    delivery_requests: DeliveryRequests  # the kept requests of its webhook event


def start_of_day(now: float, zone: ZoneInfo) -> int:
    """Midnight of `now`'s date on the wall clock of `zone`, in epoch seconds."""
    local = dt.datetime.fromtimestamp(now, zone)
    return int(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())


class ReportService:
    def __init__(self, store: Store, *, on_redeliver: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self.on_redeliver = on_redeliver

    def _current(self, project: Project) -> Project:
        current = self.store.get_project(project.id)
        if current is None:
            raise NotFound("project: no longer exists")
        return current

    def overview(self, project: Project, now: float, zone: ZoneInfo) -> Overview:
        # The chart's last bar holds `now`; 24 hours of bars end with it. Today began within
        # them: its summary is of the bars from midnight on (midnight starts a bar wherever
        # the zone's offset is a whole number of 10 minutes, as nearly every zone's is).
        start = (int(now) // BUCKET + 1 - DAY_BUCKETS) * BUCKET
        activity = self.store.activity(project.id, start, DAY_BUCKETS)
        midnight = -(-(start_of_day(now, zone) - start) // BUCKET)
        return Overview(
            project=self._current(project),
            today=summarise(activity, midnight),
            timeline=timeline_of(activity, start, DAY_BUCKETS),
            in_progress=self.store.calls_in_progress(project.id),
        )

    def in_progress(self, project: Project) -> list[Call]:
        return self.store.calls_in_progress(project.id)

    def calls(
        self, project: Project, where: CallFilter, after: CallCursor | None, limit: int = 50
    ) -> CallPage:
        return self.store.call_page(project.id, where, after, limit)

    def export(self, project: Project, where: CallFilter) -> Iterator[Call]:
        """Every call the filter keeps, newest first, read a batch at a time."""
        after = None
        while True:
            page = self.store.call_page(project.id, where, after, EXPORT_BATCH)
            yield from page.calls
            if page.next is None:
                return
            after = page.next

    def call(self, project: Project, call_id: str) -> CallDetail:
        call = self.store.get_call(project.id, call_id) if is_id(call_id) else None
        if call is None:
            raise NotFound("id: no such call")
        deliveries = self.store.deliveries(project.id, call_id=call.id)
        not_kept = sum(d.requests_not_kept for d in deliveries)  # a call has one event at most
        return CallDetail(
            call,
            self.store.attempts(call.id),
            deliveries,
            DeliveryRequests.around_gap(
                self.store.delivery_attempts(project.id, call.id), not_kept
            ),
        )

    def ledger(self, project: Project, before: int | None, limit: int = 50) -> LedgerPage:
        return self.store.ledger_page(project.id, before, limit)

    def whole_ledger(self, project: Project) -> Iterator[LedgerPage]:
        before = None
        while True:
            page = self.store.ledger_page(project.id, before, EXPORT_BATCH)
            yield page
            if page.next is None:
                return
            before = page.next

    def tokens(self, project: Project) -> list[TokenInfo]:
        return self.store.tokens(project.id)

    def deliveries(self, project: Project) -> list[Delivery]:
        return self.store.deliveries(project.id)

    def redeliver(self, project: Project, event_id: str) -> None:
        if not is_id(event_id) or not self.store.redeliver(project.id, event_id):
            raise NotFound("id: no such delivery")
        self.on_redeliver()
