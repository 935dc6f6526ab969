"""The delivery loop against real HTTP receivers on 127.0.0.1 and a real SQLite store.

Calls are made final through the store, which writes their events; the deliverer runs with
short intervals so that retries, outages, give-ups and lease expiry take seconds.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey

from tests.webhooks.outbox import (
    BILL_SEC,
    CAMPAIGN,
    NUMBER,
    final_calls,
    outbox_events,
    webhook_project,
)
from tests.webhooks.receiver import Received, Receiver
from voxcall.domain.calls import CallStatus
from voxcall.domain.projects import Project
from voxcall.domain.webhooks import WebhookDelivery, WebhookOutcome
from voxcall.store.database import StoreUnavailable
from voxcall.store.store import Store
from voxcall.webhooks.delivery import (
    USER_AGENT,
    Outbox,
    WebhookDeliverer,
    describe_failure,
    next_attempt,
)
from voxcall.webhooks.signing import new_secret, verify

PAYLOAD_FIELDS = {
    "digits",
    "answeredBy",
    "requestId",
    "campaignId",
    "balanceSubtracted",
    "cause",
    "statusCode",
    "billSec",
    "number",
    "requestDate",
    "executionDate",
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


def _all_delivered(store: Store, project: Project) -> Callable[[], bool]:
    return lambda: all(e["delivered_at"] is not None for e in outbox_events(store, project))


async def eventually(check: Callable[[], bool], *, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within} s")
        await asyncio.sleep(0.01)


@asynccontextmanager
async def running(deliverer: WebhookDeliverer) -> AsyncIterator[WebhookDeliverer]:
    task = asyncio.create_task(deliverer.run())
    try:
        yield deliverer
    finally:
        await deliverer.stop()
        await task


def _deliverer(store: Outbox, **options: Any) -> WebhookDeliverer:
    settings: dict[str, Any] = {
        "poll_interval": 0.02,
        "timeout": 1.0,
        "lease": 2.0,
        "backoff_base": 0.05,
        "backoff_cap": 0.2,
    }
    settings.update(options)
    return WebhookDeliverer(store, **settings)


def _check_request(request: Received, secret: str) -> dict[str, Any]:
    """What every delivery must look like on the wire; returns its payload."""
    assert (request.method, request.path) == ("POST", "/hook")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == USER_AGENT
    assert len(request.headers["x-voxcall-event-id"]) == 32
    signature = request.headers["x-voxcall-signature"]
    # Signed when sent, with the project's secret.
    assert verify(request.body, signature, secret, now=int(request.at), tolerance=2)
    payload: dict[str, Any] = json.loads(request.body)
    assert set(payload) == PAYLOAD_FIELDS
    return payload


# -- the schedule -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "created_at", "now", "jitter", "expected"),
    [
        (1, 0.0, 10.0, 0.0, 12.0),  # base
        (2, 0.0, 10.0, 0.0, 14.0),
        (3, 0.0, 10.0, 0.0, 18.0),
        (9, 0.0, 10.0, 0.0, 522.0),  # 2 * 2**8 = 512
        (10, 0.0, 10.0, 0.0, 610.0),  # 1024 is capped at 600
        (10_000, 0.0, 10.0, 0.0, 610.0),  # no overflow however many attempts
        (1, 0.0, 10.0, 0.5, 13.0),  # jitter stretches the delay
        (20, 0.0, 10.0, 0.1, 670.0),  # ... the capped one too
        (1, 0.0, 86_398.0, 0.0, 86_400.0),  # the last retry inside the window
        (1, 0.0, 86_399.0, 0.0, None),  # past the window: give up
        (12, 1_000.0, 86_801.0, 0.0, None),  # the window counts from the event's creation
        (12, 1_000.0, 86_800.0, 0.0, 87_400.0),
    ],
)
def test_next_attempt(
    attempts: int, created_at: float, now: float, jitter: float, expected: float | None
) -> None:
    assert (
        next_attempt(
            attempts,
            created_at,
            now,
            base=2.0,
            cap=600.0,
            window=86_400.0,
            jitter=jitter,
        )
        == expected
    )


def test_next_attempt_counts_from_one() -> None:
    with pytest.raises(ValueError, match="attempts must be at least 1, not 0"):
        next_attempt(0, 0.0, 0.0, base=2.0, cap=600.0, window=86_400.0)


def test_the_default_schedule_covers_a_day_and_an_hour_long_outage() -> None:
    """With the defaults, a receiver that comes back after an hour is retried within the cap,
    and retries go on until the day is over."""
    created = now = 0.0
    attempts = 1
    times = [now]
    while retry := next_attempt(attempts, created, now, base=2.0, cap=600.0, window=86_400.0):
        now = retry
        attempts += 1
        times.append(now)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) == 600.0
    assert times[-1] > 86_400.0 - 600.0
    assert next(t for t in times if t >= 3600.0) <= 3600.0 + 600.0
    assert 140 < attempts < 160


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (TimeoutError(), "timeout after 1.5 s"),
        (aiohttp.ServerTimeoutError("Timeout on reading data from socket"), "timeout after 1.5 s"),
        (aiohttp.ConnectionTimeoutError("Connection timeout"), "timeout after 1.5 s"),
        (
            aiohttp.ClientConnectorError(
                ConnectionKey("127.0.0.1", 1, False, True, None, None, None),
                ConnectionRefusedError(111, "Connect call failed"),
            ),
            "connection failed: Cannot connect to host 127.0.0.1:1 ssl:default "
            "[Connect call failed]",
        ),
        (aiohttp.ServerDisconnectedError(), "bad response: Server disconnected"),
        (
            aiohttp.NonHttpUrlClientError("ftp://example.com/hook"),
            "unsupported URL: ftp://example.com/hook",
        ),
        (aiohttp.InvalidURL("http://h:x/"), "invalid URL: http://h:x/"),
        (aiohttp.ClientOSError(), "network error"),
        (
            aiohttp.ClientPayloadError("Response payload is not completed"),
            "bad response: Response payload is not completed",
        ),
        (aiohttp.ClientError("bad gzip"), "HTTP error: bad gzip"),
    ],
)
def test_failures_are_described_in_one_place(exc: Exception, expected: str) -> None:
    assert describe_failure(exc, 1.5) == expected


def test_only_request_failures_are_described() -> None:
    with pytest.raises(TypeError):
        describe_failure(KeyError("bug"), 1.5)


# -- delivery -----------------------------------------------------------------------


async def test_failing_then_down_then_back_loses_nothing(store: Store, receiver: Receiver) -> None:
    receiver.fail_first = 3
    project, secret = webhook_project(store, "p", receiver.url)
    statuses = [
        CallStatus.NORMAL,
        CallStatus.NORMAL,
        CallStatus.NO_ANSWER,
        CallStatus.USER_BUSY,
        CallStatus.ERROR,
        CallStatus.EXPIRED,
    ]
    calls = final_calls(store, project, statuses)
    async with running(_deliverer(store)):
        await eventually(lambda: len(receiver.received()) >= 3)  # three 500s
        receiver.stop()  # then down: connection refused
        await eventually(
            lambda: (
                sum("connection failed" in e["last_error"] for e in outbox_events(store, project))
                >= 2
            )
        )
        assert any(e["delivered_at"] is None for e in outbox_events(store, project))
        receiver.start()  # back, on the same port
        await eventually(_all_delivered(store, project))

    requests = receiver.received()
    assert [r.status for r in requests[:3]] == [500, 500, 500]
    delivered: dict[str, dict[str, Any]] = {}
    for request in requests:
        payload = _check_request(request, secret)  # the failed attempts were signed too
        if request.status == 200:
            delivered[payload["requestId"]] = payload
    assert set(delivered) == set(calls)  # each final call's event arrived

    for call_id, payload in delivered.items():
        call = store.get_call(project.id, call_id)
        assert call is not None
        assert payload == {
            "requestId": call_id,
            "campaignId": CAMPAIGN,
            "balanceSubtracted": 3.5 if call.status is CallStatus.NORMAL else 0.0,
            "cause": call.status.name,
            "statusCode": call.status.code,
            "billSec": BILL_SEC if call.status is CallStatus.NORMAL else 0,
            "number": NUMBER,
            "requestDate": call.request_date,
            "executionDate": call.execution_date,
            "digits": "",
            "answeredBy": None,
        }
        assert isinstance(payload["balanceSubtracted"], float)
        assert isinstance(payload["requestDate"], int) and payload["requestDate"] > 0
        if call.status is CallStatus.NORMAL:
            assert payload["balanceSubtracted"] > 0
            assert payload["executionDate"] >= payload["requestDate"]

    # No final call is without its delivered event, and each has exactly one.
    events = outbox_events(store, project)
    assert sorted(e["call_id"] for e in events) == sorted(calls)
    assert all(e["delivered_at"] and e["failed_at"] is None for e in events)
    assert all(e["last_error"] == "" for e in events)


async def test_every_request_is_recorded_with_its_status_code_or_error(
    any_store: Store, receiver: Receiver
) -> None:
    """A receiver answering 200, then 500, then a closed port: each request is kept with
    what came back, on each backend."""
    store = any_store
    project, _ = webhook_project(store, "p", receiver.url)
    before = time.time()
    (ok,) = final_calls(store, project, [CallStatus.NORMAL])
    async with running(_deliverer(store)) as deliverer:
        await eventually(_all_delivered(store, project))
        receiver.status = 500
        (refused,) = final_calls(store, project, [CallStatus.NO_ANSWER])
        deliverer.wake()
        await eventually(lambda: len(store.delivery_attempts(project.id, refused)) >= 1)
        receiver.stop()
        await eventually(
            lambda: store.delivery_attempts(project.id, refused)[-1].status_code is None
        )
    after = time.time()

    (delivered,) = store.delivery_attempts(project.id, ok)
    assert (delivered.status_code, delivered.error) == (200, None)
    tried = store.delivery_attempts(project.id, refused)
    answered = list(itertools.takewhile(lambda a: a.status_code is not None, tried))
    unanswered = tried[len(answered) :]
    # 500s (one, or more if a retry came before the port closed), the code saying what
    # went wrong; then refused connections, each with its error.
    assert answered and {(a.status_code, a.error) for a in answered} == {(500, None)}
    assert unanswered and all(a.status_code is None for a in unanswered)
    assert all((a.error or "").startswith("connection failed: ") for a in unanswered)
    for attempt in (delivered, *tried):
        assert before <= attempt.sent_at <= after and attempt.duration >= 0
    assert [a.sent_at for a in tried] == sorted(a.sent_at for a in tried)
    # The event's last try: the deliveries list shows its status code beside its error.
    last = {d.call_id: d for d in store.deliveries(project.id)}
    assert (last[ok].last_status, last[ok].last_error, last[ok].state) == (200, "", "delivered")
    assert last[refused].last_status is None
    assert last[refused].last_error.startswith("connection failed: ")
    assert last[refused].attempts == len(tried)
    # Another project's call: none of its requests.
    other, _ = webhook_project(store, "q", receiver.url)
    assert store.delivery_attempts(other.id, ok) == []


async def test_a_slow_receiver_does_not_delay_another_project(store: Store) -> None:
    with Receiver(delay=5.0) as slow, Receiver() as fast:
        a, _ = webhook_project(store, "a", slow.url)
        final_calls(store, a, [CallStatus.NORMAL] * 8)  # A's events are the oldest
        b, secret_b = webhook_project(store, "b", fast.url)
        b_calls = final_calls(store, b, [CallStatus.ERROR] * 3)
        # Fewer slots than A has events: a slow project must not be able to take them all.
        deliverer = _deliverer(store, timeout=2.0, lease=5.0, concurrency=6)
        started = time.monotonic()
        async with running(deliverer):
            await eventually(_all_delivered(store, b), within=3.0)
            elapsed = time.monotonic() - started
            a_requests = len(slow.received())
        assert elapsed < 1.5  # well before any of A's requests could time out
        assert a_requests == 4  # A has its per-project share in flight, no more
        assert {_check_request(r, secret_b)["requestId"] for r in fast.received()} == set(b_calls)

    # stop() let A's requests run to the 2 s timeout and recorded it; A's other events wait.
    a_events = outbox_events(store, a)
    assert all(e["delivered_at"] is None for e in a_events)
    errors = sorted(e["last_error"] for e in a_events)
    assert errors.count("timeout after 2 s") == 4
    assert set(errors) == {"", "timeout after 2 s"}


async def test_a_burst_is_delivered_at_once_each_event_tried_once(
    any_store: Store, receiver: Receiver
) -> None:
    """150 final calls of one project to a fast receiver: all sent within seconds, although
    that is more than one project may have in flight, and each with one attempt. (Leasing
    more than a project's lane could take left the rest leased, unsent, for a whole lease.)"""
    project, secret = webhook_project(any_store, "p", receiver.url)
    calls = final_calls(any_store, project, [CallStatus.NORMAL] * 150)
    # The production lease and timeout: an event stranded in a lease would wait 30 s.
    deliverer = _deliverer(any_store, lease=30.0, timeout=5.0)
    async with running(deliverer):
        await eventually(_all_delivered(any_store, project), within=10.0)
    ids = [_check_request(r, secret)["requestId"] for r in receiver.received()]
    assert sorted(ids) == sorted(calls)  # each sent once
    assert {e["attempts"] for e in outbox_events(any_store, project)} == {1}


async def test_a_hanging_receiver_does_not_delay_another_projects_burst(
    any_store: Store,
) -> None:
    with Receiver(delay=30.0) as hanging, Receiver() as fast:
        a, _ = webhook_project(any_store, "a", hanging.url)
        final_calls(any_store, a, [CallStatus.NORMAL] * 50)  # A's events are the oldest
        b, _ = webhook_project(any_store, "b", fast.url)
        b_calls = final_calls(any_store, b, [CallStatus.NORMAL] * 100)
        deliverer = _deliverer(any_store, lease=30.0, timeout=5.0)
        async with running(deliverer):
            # All of B while A's first requests still hang (they time out after 5 s).
            await eventually(_all_delivered(any_store, b), within=4.0)
            a_attempts = sorted(e["attempts"] for e in outbox_events(any_store, a))
            a_requests = len(hanging.received())
            hanging.stop()  # answers A's requests now, rather than at the timeout
        assert a_requests == 4  # A holds its per-project share, no more
        assert a_attempts == [0] * 46 + [1] * 4  # and only those four were leased
        assert sorted(json.loads(r.body)["requestId"] for r in fast.received()) == sorted(b_calls)
    assert {e["attempts"] for e in outbox_events(any_store, b)} == {1}


async def test_events_that_came_while_their_lane_was_full_follow_at_once(store: Store) -> None:
    """A round that finds a lane full leases nothing for it; the lane's next free slot must
    start a round, rather than its waiting events the poll interval (here a minute)."""
    with Receiver(delay=0.3) as receiver:
        project, _ = webhook_project(store, "p", receiver.url)
        final_calls(store, project, [CallStatus.NORMAL] * 2)
        deliverer = _deliverer(store, poll_interval=60.0, per_project=2, per_project_max=2)
        async with running(deliverer):
            await eventually(lambda: len(receiver.received()) == 2)  # the lane is full
            final_calls(store, project, [CallStatus.NORMAL] * 2)
            deliverer.wake()  # as the scheduler does: a round that finds no room
            await eventually(_all_delivered(store, project), within=5.0)


async def test_a_receiver_that_keeps_up_is_sent_more_at_once(store: Store) -> None:
    """A lane starts at per_project requests at once and grows by one per 2xx answer up to
    per_project_max; a receiver that fails stays at per_project."""
    with Receiver(delay=0.2) as keeps_up, Receiver(delay=0.2, status=500) as failing:
        a, _ = webhook_project(store, "a", keeps_up.url)
        final_calls(store, a, [CallStatus.NORMAL] * 40)
        b, _ = webhook_project(store, "b", failing.url)
        final_calls(store, b, [CallStatus.NORMAL] * 40)
        deliverer = _deliverer(store, per_project=2, per_project_max=5, backoff_base=30.0)
        async with running(deliverer):
            await eventually(_all_delivered(store, a), within=10.0)
        first = sorted(r.at for r in keeps_up.received())[:3]
    assert first[2] - first[0] > 0.15  # two at first: the third waited for an answer
    assert keeps_up.max_in_flight == 5
    assert failing.max_in_flight == 2
    assert len(failing.received()) > 2


async def test_a_connection_serves_many_deliveries(store: Store) -> None:
    with Receiver(keep_alive=True) as receiver:
        project, _ = webhook_project(store, "p", receiver.url)
        final_calls(store, project, [CallStatus.NORMAL] * 60)
        async with running(_deliverer(store, per_project=2, per_project_max=4)):
            await eventually(_all_delivered(store, project))
        # The answer is read to its end, so that its connection goes back to the pool.
        assert 1 <= receiver.connections <= 4


class _SlowDiskOutbox:
    """The real store's outbox, whose writes of outcomes take 0.1 s each, as on a busy disk."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.batches: list[int] = []

    def lease_webhooks(self, now: float, **options: Any) -> list[WebhookDelivery]:
        return self.store.lease_webhooks(now, **options)

    def webhook_outcomes(self, outcomes: Sequence[WebhookOutcome]) -> None:
        self.batches.append(len(outcomes))
        time.sleep(0.1)
        self.store.webhook_outcomes(outcomes)


async def test_outcomes_ended_together_are_written_together(
    store: Store, receiver: Receiver
) -> None:
    project, _ = webhook_project(store, "p", receiver.url)
    final_calls(store, project, [CallStatus.NORMAL] * 60)
    slow = _SlowDiskOutbox(store)
    async with running(_deliverer(slow, lease=30.0, timeout=5.0)):
        await eventually(_all_delivered(store, project), within=10.0)
    assert sum(slow.batches) == 60
    # One write at a time, each taking what ended meanwhile, not one write each.
    assert len(slow.batches) <= 20


async def test_gives_up_after_the_window(store: Store, receiver: Receiver) -> None:
    receiver.status = 500
    project, _ = webhook_project(store, "p", receiver.url)
    final_calls(store, project, [CallStatus.NO_ANSWER])
    async with running(_deliverer(store, window=0.5, backoff_cap=0.05)):
        await eventually(lambda: outbox_events(store, project)[0]["failed_at"] is not None)
        given_up = len(receiver.received())
        await asyncio.sleep(0.3)  # several back-offs: nothing more is sent
        assert len(receiver.received()) == given_up
    (event,) = outbox_events(store, project)
    assert event["delivered_at"] is None
    assert event["last_error"] == "HTTP 500"
    assert event["attempts"] == given_up >= 3  # about 0.05 s apart within 0.5 s
    # Given up only once the next retry (at most 0.055 s later) would pass the window.
    assert event["failed_at"] > event["created_at"] + 0.5 - 0.06
    assert all(r.status == 500 for r in receiver.received())


async def test_an_answer_trickled_past_the_timeout_is_a_timeout(store: Store) -> None:
    """The timeout bounds the whole request: a receiver sending its answer one byte at a time,
    each in time, still holds the request no longer than the timeout."""

    handlers: set[asyncio.Task[Any]] = set()

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            while not reader.at_eof():  # until the deliverer hangs up
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.05)
        finally:
            writer.close()

    server = await asyncio.start_server(trickle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    project, _ = webhook_project(store, "p", f"http://127.0.0.1:{port}/hook")
    (call,) = final_calls(store, project, [CallStatus.NORMAL])
    try:
        async with running(_deliverer(store, timeout=0.5, backoff_base=10.0, backoff_cap=10.0)):
            await eventually(lambda: outbox_events(store, project)[0]["last_error"] != "")
    finally:
        server.close()
        for handler in handlers:
            handler.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
    (event,) = outbox_events(store, project)
    assert (event["last_error"], event["delivered_at"]) == ("timeout after 0.5 s", None)
    # The status line came, the answer did not: both are kept.
    (request,) = store.delivery_attempts(project.id, call)
    assert (request.status_code, request.error) == (200, "timeout after 0.5 s")


async def test_a_proxy_from_the_environment_is_used(
    store: Store, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", receiver.url.removesuffix("/hook"))
    project, _ = webhook_project(store, "p", "http://receiver.invalid/hook")
    final_calls(store, project, [CallStatus.NORMAL])
    async with running(_deliverer(store)):
        await eventually(_all_delivered(store, project))
    (request,) = receiver.received()
    assert request.path == "http://receiver.invalid/hook"  # the absolute form, to a proxy


async def test_redirects_are_not_followed(store: Store) -> None:
    with Receiver(status=307, reply_headers={"Location": "/elsewhere"}) as receiver:
        project, _ = webhook_project(store, "p", receiver.url)
        final_calls(store, project, [CallStatus.USER_BUSY])
        async with running(_deliverer(store, backoff_base=10.0, backoff_cap=10.0)):
            await eventually(lambda: outbox_events(store, project)[0]["last_error"] != "")
        (request,) = receiver.received()
    assert request.path == "/hook"
    (event,) = outbox_events(store, project)
    assert (event["last_error"], event["delivered_at"]) == ("HTTP 307", None)


async def test_at_least_once_across_a_crash(store: Store, receiver: Receiver) -> None:
    receiver.delay = 3.0  # holds the first request until the crash
    project, secret = webhook_project(store, "p", receiver.url)
    final_calls(store, project, [CallStatus.NORMAL])
    crashed = _deliverer(store, timeout=0.5, lease=1.0)
    task = asyncio.create_task(crashed.run())
    await eventually(lambda: len(receiver.received()) == 1)
    task.cancel()  # dies mid-request: no outcome is recorded, as after kill -9
    with pytest.raises(asyncio.CancelledError):
        await task
    (event,) = outbox_events(store, project)
    assert (event["attempts"], event["delivered_at"], event["last_error"]) == (1, None, "")
    lease_ends = event["next_attempt_at"]

    receiver.delay = 0.0
    async with running(_deliverer(store, timeout=0.5, lease=1.0)):
        await eventually(_all_delivered(store, project), within=3.0)
    first, second = receiver.received()
    assert second.at >= lease_ends  # not before the crashed lease ran out
    assert first.body == second.body
    assert first.headers["x-voxcall-event-id"] == second.headers["x-voxcall-event-id"]
    _check_request(first, secret)
    _check_request(second, secret)
    (event,) = outbox_events(store, project)
    assert event["attempts"] == 2


async def test_a_cleared_webhook_is_not_sent_to(store: Store, receiver: Receiver) -> None:
    project, _ = webhook_project(store, "p", receiver.url)
    calls = final_calls(store, project, [CallStatus.NORMAL, CallStatus.ERROR])
    store.set_webhook(project.id, None, None)
    async with running(_deliverer(store, timeout=0.5, lease=1.0)) as deliverer:
        await asyncio.sleep(1.5)  # past a lease: nothing was even taken
        assert receiver.received() == []
        events = outbox_events(store, project)
        assert all(
            e["delivered_at"] is None and e["failed_at"] is None and e["attempts"] == 0
            for e in events
        )
        # Set again: the events were kept, and go to the new address with the new secret.
        with Receiver() as other:
            secret = new_secret()
            store.set_webhook(project.id, other.url, secret)
            deliverer.wake()
            await eventually(_all_delivered(store, project), within=3.0)
            ids = {_check_request(r, secret)["requestId"] for r in other.received()}
    assert ids == set(calls)
    assert receiver.received() == []


async def test_wake_from_another_thread(store: Store, receiver: Receiver) -> None:
    project, _ = webhook_project(store, "p", receiver.url)
    async with running(_deliverer(store, poll_interval=30.0)) as deliverer:
        await asyncio.sleep(0.1)  # the first round has found nothing and sleeps
        final_calls(store, project, [CallStatus.NORMAL])
        thread = threading.Thread(target=deliverer.wake)
        thread.start()
        thread.join()
        await eventually(_all_delivered(store, project), within=2.0)  # not the 30 s poll


class _FlakyOutbox:
    """The real store's outbox, whose database is unreachable for the first few lease rounds."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.outages = 3

    def lease_webhooks(self, now: float, **options: Any) -> list[WebhookDelivery]:
        if self.outages:
            self.outages -= 1
            raise StoreUnavailable("database is locked")
        return self.store.lease_webhooks(now, **options)

    def webhook_outcomes(self, outcomes: Sequence[WebhookOutcome]) -> None:
        self.store.webhook_outcomes(outcomes)


async def test_the_loop_survives_an_unavailable_store(
    store: Store, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    project, _ = webhook_project(store, "p", receiver.url)
    final_calls(store, project, [CallStatus.NORMAL])
    flaky = _FlakyOutbox(store)
    with caplog.at_level(logging.ERROR, logger="voxcall.webhooks"):
        async with running(_deliverer(flaky, poll_interval=0.01)):
            await eventually(_all_delivered(store, project))
    assert flaky.outages == 0
    # Paused 0.02, 0.04, 0.08 s: doubling from the poll interval.
    assert [r.getMessage() for r in caplog.records if r.name == "voxcall.webhooks"] == [
        f"store unavailable, webhook leasing paused {pause} s: database is locked"
        for pause in ("0.0", "0.0", "0.1")
    ]


def test_settings_are_checked(store: Store) -> None:
    with pytest.raises(ValueError, match="lease"):
        WebhookDeliverer(store, lease=1.0, timeout=5.0)
    with pytest.raises(ValueError, match="concurrency"):
        WebhookDeliverer(store, concurrency=0)
