"""The store's webhook outbox on SQLite and PostgreSQL: a lease takes only what can be sent
now, and outcomes are recorded many at a time."""

from __future__ import annotations

import sqlite3
import time
import uuid
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import event

from tests.webhooks.outbox import final_calls, outbox_events, webhook_project
from voxcall.domain.calls import CallStatus
from voxcall.domain.reports import DeliveryAttempt
from voxcall.domain.webhooks import KEPT_FIRST_REQUESTS, KEPT_LAST_REQUESTS, WebhookOutcome
from voxcall.store import schema
from voxcall.store.store import Store

URL = "http://127.0.0.1:9/hook"  # never called: these tests only lease
CALL_COLUMNS = list(schema.calls.columns.keys())


def test_a_lease_takes_no_more_than_each_project_has_room_for(any_store: Store) -> None:
    projects = [webhook_project(any_store, name, URL)[0] for name in ("a", "b", "c")]
    for project in projects:
        final_calls(any_store, project, [CallStatus.NORMAL] * 5)
    a, b, c = (project.id for project in projects)

    leased = any_store.lease_webhooks(
        time.time(), limit=100, lease=30.0, per_project=3, room={a: 4, b: 0}
    )
    taken = {p: sum(d.project_id == p for d in leased) for p in (a, b, c)}
    assert taken == {a: 4, b: 0, c: 3}  # a room of its own, else per_project
    assert all(d.attempts == 1 for d in leased)
    # What was not taken was not tried: its attempts count stays 0 and it is due now.
    untaken = [e for p in projects for e in outbox_events(any_store, p) if e["attempts"] == 0]
    assert len(untaken) == 15 - 7
    assert all(e["next_attempt_at"] <= time.time() for e in untaken)


def test_a_lease_takes_the_oldest_first_within_its_limit(any_store: Store) -> None:
    a, _ = webhook_project(any_store, "a", URL)
    b, _ = webhook_project(any_store, "b", URL)
    final_calls(any_store, a, [CallStatus.ERROR] * 2)
    final_calls(any_store, b, [CallStatus.ERROR] * 2)
    final_calls(any_store, a, [CallStatus.ERROR] * 2)
    oldest = sorted(
        (e for p in (a, b) for e in outbox_events(any_store, p)),
        key=lambda e: (e["next_attempt_at"], e["id"]),
    )
    now = time.time()

    first = any_store.lease_webhooks(now, limit=3, lease=30.0, per_project=2)
    # a's two oldest, then b's oldest: a's third is beyond its room of two.
    assert sorted(d.id for d in first) == sorted(
        [oldest[0]["id"], oldest[1]["id"], oldest[2]["id"]]
    )
    second = any_store.lease_webhooks(now, limit=10, lease=30.0, per_project=2)
    assert {d.id for d in second} == {e["id"] for e in oldest} - {d.id for d in first}
    assert any_store.lease_webhooks(now, limit=10, lease=30.0, per_project=2) == []
    # Once the lease has run out, each is due again, for its second attempt.
    again = any_store.lease_webhooks(now + 31.0, limit=10, lease=30.0, per_project=10)
    assert len(again) == 6 and {d.attempts for d in again} == {2}


def test_outcomes_are_recorded_together(any_store: Store) -> None:
    project, _ = webhook_project(any_store, "p", URL)
    final_calls(any_store, project, [CallStatus.NORMAL] * 4)
    now = time.time()
    a, b, c, d = any_store.lease_webhooks(now, limit=4, lease=30.0, per_project=4)
    any_store.webhook_outcomes(
        [
            WebhookOutcome(a.id, now, now + 1, 0.25, 204),
            WebhookOutcome(b.id, now, now + 2, 0.5, 500, retry_at=now + 60),
            WebhookOutcome(c.id, now, now + 3, 5.0, None, "timeout after 5 s"),  # given up
        ]
    )
    events = {e["id"]: e for e in outbox_events(any_store, project)}
    assert (events[a.id]["delivered_at"], events[a.id]["last_error"]) == (now + 1, "")
    assert events[b.id]["next_attempt_at"] == now + 60
    assert (events[b.id]["delivered_at"], events[b.id]["failed_at"]) == (None, None)
    assert events[b.id]["last_error"] == "HTTP 500"
    assert (events[c.id]["failed_at"], events[c.id]["last_error"]) == (now + 3, "timeout after 5 s")
    assert events[c.id]["delivered_at"] is None
    # Not recorded: still leased, for the lease's 30 s.
    assert events[d.id]["last_error"] == "" and events[d.id]["next_attempt_at"] == now + 30.0
    assert {e["attempts"] for e in events.values()} == {1}
    # Due again: b at its retry, d once its lease ran out; a and c never again.
    again = any_store.lease_webhooks(now + 61, limit=9, lease=30.0, per_project=9)
    assert {x.id for x in again} == {b.id, d.id}
    # Each recorded request, with its status code or the error that came instead.
    requests = {x.call.id: any_store.delivery_attempts(project.id, x.call.id) for x in (a, b, c, d)}
    assert requests == {
        a.call.id: [DeliveryAttempt(now, 0.25, 204, None)],
        b.call.id: [DeliveryAttempt(now, 0.5, 500, None)],
        c.call.id: [DeliveryAttempt(now, 5.0, None, "timeout after 5 s")],
        d.call.id: [],
    }
    last_status = {x.call_id: x.last_status for x in any_store.deliveries(project.id)}
    assert last_status == {a.call.id: 204, b.call.id: 500, c.call.id: None, d.call.id: None}


def test_an_event_keeps_its_first_and_latest_requests(any_store: Store) -> None:
    project, _ = webhook_project(any_store, "p", URL)
    final_calls(any_store, project, [CallStatus.NORMAL] * 2)
    now = time.time()
    down, up = any_store.lease_webhooks(now, limit=2, lease=30.0, per_project=2)

    def failed(event_id: str, n: int) -> WebhookOutcome:
        return WebhookOutcome(event_id, now + n, now + n, 1.0, 503, retry_at=now + n + 1)

    # One request at a time, then two of one event in one write, beside another's first.
    for n in range(KEPT_FIRST_REQUESTS + KEPT_LAST_REQUESTS + 5):
        any_store.webhook_outcomes([failed(down.id, n)])
    total = KEPT_FIRST_REQUESTS + KEPT_LAST_REQUESTS + 7
    any_store.webhook_outcomes([failed(down.id, total - 2), failed(down.id, total - 1)])
    any_store.webhook_outcomes([failed(up.id, 0)])

    kept = [r.sent_at - now for r in any_store.delivery_attempts(project.id, down.call.id)]
    assert kept == [
        *range(KEPT_FIRST_REQUESTS),
        *range(total - KEPT_LAST_REQUESTS, total),
    ]
    not_kept = {d.call_id: d.requests_not_kept for d in any_store.deliveries(project.id)}
    assert not_kept == {down.call.id: total - len(kept), up.call.id: 0}
    assert len(any_store.delivery_attempts(project.id, up.call.id)) == 1
    # A resend goes on counting: its requests are the event's latest.
    assert any_store.redeliver(project.id, down.id)
    any_store.webhook_outcomes([failed(down.id, total)])
    kept = [r.sent_at - now for r in any_store.delivery_attempts(project.id, down.call.id)]
    assert kept[KEPT_FIRST_REQUESTS - 1 :] == [2, *range(total + 1 - KEPT_LAST_REQUESTS, total + 1)]
    (delivery,) = any_store.deliveries(project.id, call_id=down.call.id)
    assert delivery.requests_not_kept == total + 1 - len(kept)


def test_an_outcome_without_an_answer_says_why() -> None:
    with pytest.raises(ValueError, match="needs its transport error"):
        WebhookOutcome("e", 0.0, 1.0, 1.0, None)
    assert WebhookOutcome("e", 0.0, 1.0, 1.0, 200).error is None
    assert WebhookOutcome("e", 0.0, 1.0, 1.0, 301).error == "HTTP 301"
    cut_short = WebhookOutcome("e", 0.0, 1.0, 1.0, 200, "timeout after 1 s")
    assert cut_short.error == "timeout after 1 s"


def _pending(db: Path, project_id: str, count: int, due: float) -> None:
    """`count` final calls with an event waiting for a first attempt, written directly."""
    calls = [
        dict.fromkeys(CALL_COLUMNS, 0)
        | {"gather": None, "machine_detection": "off", "digits": "", "answered_by": None}
        | {"id": uuid.uuid4().hex, "project_id": project_id, "status": "NORMAL", "phase": "final"}
        for _ in range(count)
    ]
    with closing(sqlite3.connect(db)) as raw, raw:  # foreign keys are off on a raw connection
        raw.executemany(
            f"INSERT INTO calls ({', '.join(CALL_COLUMNS)})"
            f" VALUES ({', '.join(f':{c}' for c in CALL_COLUMNS)})",
            calls,
        )
        raw.executemany(
            "INSERT INTO webhook_events (id, project_id, call_id, created_at,"
            " next_attempt_at, attempts, delivered_at, failed_at, last_error)"
            " VALUES (?, ?, ?, ?, ?, 0, NULL, NULL, '')",
            ((uuid.uuid4().hex, project_id, call["id"], due, due) for call in calls),
        )


def test_a_lease_costs_the_same_whatever_the_backlog(tmp_path: Path) -> None:
    """Counted in SQLite virtual-machine steps (not time): a lease over 20,000 due events
    does about what one over 200 does, since it seeks each project's oldest events."""
    db = tmp_path / "db.sqlite"
    store = Store.open(f"sqlite:///{db}", create=True)
    try:
        big, _ = webhook_project(store, "big", URL)
        small, _ = webhook_project(store, "small", URL)
        steps = [0]

        def count(connection: sqlite3.Connection, _: object) -> None:
            connection.set_progress_handler(lambda: steps.__setitem__(0, steps[0] + 1) or 0, 1)

        store.engine.dispose()
        event.listen(store.engine, "connect", count)
        cost = []
        for backlog in (200, 20_000):
            _pending(db, big.id, backlog, time.time() - 60)
            _pending(db, small.id, 5, time.time() - 30)
            steps[0] = 0
            leased = store.lease_webhooks(time.time(), limit=32, lease=30.0, per_project=16)
            cost.append(steps[0])
            assert sorted(d.project_id for d in leased) == sorted([big.id] * 16 + [small.id] * 5)
        assert cost[1] < 2 * cost[0]
    finally:
        store.close()
