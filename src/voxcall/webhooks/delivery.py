"""The webhook delivery loop: POST each outbox event until its receiver answers 2xx.

The store writes one event per final call in the same transaction as the final status; here
events are leased, sent and their outcome recorded. A lease hides an event from other
deliverers for `lease` seconds, so an event whose outcome was never recorded (a crash, a
shutdown, an unreachable database) is simply sent again later: delivery is at least once.

Fairness: a project has a lane of its own here, and all lanes together run at most
`concurrency` requests. A lane starts at `per_project` requests at once and may run one more
after each request its receiver answers 2xx, up to `per_project_max`; a failed request (an
error status, a timeout, no connection) sets it back to `per_project`. So a receiver that keeps
up takes more of the slots during a burst, and a slow or dead one holds at most `per_project`
of them, for at most a timeout each, while the other projects keep going. Each round leases
only what the lanes have room for, so every leased event is sent at once: a lease is a real
attempt, and none waits unsent for its lease to run out.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from voxcall.backoff import Backoff
from voxcall.domain.webhooks import WebhookDelivery, WebhookOutcome, delivery_error
from voxcall.metrics import Metrics
from voxcall.store.database import StoreUnavailable
from voxcall.webhooks.event import event_body
from voxcall.webhooks.signing import sign

log = logging.getLogger("voxcall.webhooks")

USER_AGENT = "voxcall-webhooks/1"
JITTER = 0.1  # each retry is up to 10 % later than its back-off, so retries do not bunch up
STORE_RETRY_CAP = 30.0  # the longest pause between lease attempts while the database is down
STOP_MARGIN = 1.0  # beyond the timeout, for an in-flight delivery to record its outcome
CONCURRENCY = 32  # requests in flight at most, all projects together
PER_PROJECT = 4  # requests in flight for one project, at first and after a failure
PER_PROJECT_MAX = 16  # ... and at most, once its receiver keeps answering
MAX_ANSWER = 65_536  # bytes of a receiver's answer read at most
ROUND_GAP = 0.01  # seconds between the starts of two lease rounds at least
# An idle lane keeps its limit this long (seconds), so that a burst's lulls (a lane empty
# between two rounds) do not set its limit back; a lane at `per_project` is not kept.
LANE_MEMORY = 60.0


class Outbox(Protocol):
    """What the deliverer needs of the store: lease due events, record how they went."""

    def lease_webhooks(
        self,
        now: float,
        *,
        limit: int,
        lease: float,
        per_project: int,
        room: Mapping[str, int] | None = None,
    ) -> list[WebhookDelivery]: ...

    def webhook_outcomes(self, outcomes: Sequence[WebhookOutcome]) -> None: ...


def next_attempt(
    attempts: int,
    created_at: float,
    now: float,
    *,
    base: float,
    cap: float,
    window: float,
    jitter: float = 0.0,
) -> float | None:
    """When to try an event again after its `attempts`-th attempt failed at `now`, or None to
    give up because that would be past `created_at + window`.

    The delay is `min(cap, base * 2**(attempts-1))`, stretched by the fraction `jitter`
    (drawn by the caller, so that this stays a pure function).
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, not {attempts}")
    # Past 2**64 every sane cap has long been reached; the bound keeps the float finite.
    delay = min(cap, base * 2.0 ** min(attempts - 1, 64)) * (1.0 + jitter)
    retry_at = now + delay
    return None if retry_at > created_at + window else retry_at


# Every way a request can fail, mapped to the short text kept in `last_error`. Most specific
# first: a proxy's connection error is a connection error, that an OS error, all client errors;
# aiohttp's timeouts are TimeoutErrors.
_TIMEOUTS = (TimeoutError,)
_FAILURES: tuple[tuple[type[Exception], str], ...] = (
    (aiohttp.ClientProxyConnectionError, "proxy error"),
    (aiohttp.ClientConnectorError, "connection failed"),
    (aiohttp.ServerDisconnectedError, "bad response"),
    (aiohttp.ClientResponseError, "bad response"),  # an unparsable status line or header
    (aiohttp.ClientPayloadError, "bad response"),
    (aiohttp.NonHttpUrlClientError, "unsupported URL"),
    (aiohttp.InvalidURL, "invalid URL"),
    (aiohttp.ClientOSError, "network error"),
    (aiohttp.ClientError, "HTTP error"),
)
REQUEST_FAILURES: tuple[type[Exception], ...] = (*_TIMEOUTS, *(kind for kind, _ in _FAILURES))


def describe_failure(exc: Exception, timeout: float) -> str:
    """The one place a failed request becomes an error string."""
    if isinstance(exc, _TIMEOUTS):
        return f"timeout after {timeout:g} s"
    for kind, label in _FAILURES:
        if isinstance(exc, kind):
            detail = str(exc)[:200]
            return f"{label}: {detail}" if detail else label
    raise TypeError(f"not a request failure: {exc!r}")


@dataclass(slots=True)
class _Lane:
    """One project's requests in flight, and how many it may have (see the module's doc)."""

    limit: int
    in_flight: int = 0
    used: float = 0.0  # loop.time() when its last request ended


async def _drain(reply: aiohttp.ClientResponse) -> None:
    """Read a short answer to its end; give up on a long one (its connection is closed)."""
    read = 0
    async for chunk in reply.content.iter_any():
        read += len(chunk)
        if read > MAX_ANSWER:
            return


def _session(concurrency: int, timeout: float) -> aiohttp.ClientSession:
    """The HTTP client of all deliveries: aiohttp (its parser in C) takes a fraction of the
    CPU per request that httpx did, and the deliverer is CPU-bound in a burst."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency),
        timeout=aiohttp.ClientTimeout(total=timeout),
        auto_decompress=False,  # the answer is drained, never read
        # A proxy from HTTP(S)_PROXY and NO_PROXY, as before; only if one is set, because
        # aiohttp then reads the environment and ~/.netrc again at each request (a tenth of
        # the serve process's CPU in a burst).
        trust_env=bool(urllib.request.getproxies()),
    )


class WebhookDeliverer:
    def __init__(
        self,
        store: Outbox,
        *,
        poll_interval: float = 0.5,
        lease: float = 30.0,
        timeout: float = 5.0,
        window: float = 86400.0,
        backoff_base: float = 2.0,
        backoff_cap: float = 600.0,
        concurrency: int = CONCURRENCY,
        per_project: int = PER_PROJECT,
        per_project_max: int = PER_PROJECT_MAX,
        metrics: Metrics | None = None,
    ) -> None:
        if min(poll_interval, timeout, window, backoff_base, backoff_cap) <= 0:
            raise ValueError("intervals, timeout, window and back-off must be positive")
        if lease <= timeout:
            raise ValueError(f"lease ({lease:g} s) must be longer than the timeout ({timeout:g} s)")
        if concurrency < 1 or per_project < 1:
            raise ValueError("concurrency and per_project must be at least 1")
        if per_project_max < per_project:
            raise ValueError("per_project_max must be at least per_project")
        self.store = store
        self.metrics = metrics or Metrics()
        self.poll_interval = poll_interval
        self.lease = lease
        self.timeout = timeout
        self.window = window
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.concurrency = concurrency
        self.per_project = per_project
        self.per_project_max = per_project_max
        self._client: aiohttp.ClientSession | None = None  # made in the loop that uses it
        self._lanes: dict[str, _Lane] = {}  # by project: in flight, or used lately
        self._lanes_swept = 0.0  # loop.time() of the last sweep of idle lanes
        self._held: set[str] = set()  # events sent or being recorded here
        self._sending = 0  # requests in flight
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._more_due = False
        self._stopping = False
        self._leasing_done = asyncio.Event()  # run() leases nothing more
        self._outcomes: list[tuple[WebhookOutcome, asyncio.Future[None]]] = []  # to write
        self._writing = False
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle ------------------------------------------------------------------

    async def run(self) -> None:
        """Lease and deliver until `stop`. Cancelled instead, it abandons what is in flight
        (unrecorded, so re-sent once the leases run out), as a crash would."""
        self._loop = loop = asyncio.get_running_loop()
        self._client = self._client or _session(self.concurrency, self.timeout)
        store_down = Backoff(first=self.poll_interval * 2, cap=STORE_RETRY_CAP)
        try:
            while not self._stopping:
                self._wake.clear()
                started = loop.time()
                pause = self.poll_interval
                try:
                    await self._lease_round()
                    store_down.succeeded()
                except StoreUnavailable as exc:
                    pause = store_down.failed()
                    log.error("store unavailable, webhook leasing paused %.1f s: %s", pause, exc)
                except Exception:
                    log.exception("webhook lease round failed")
                try:
                    await asyncio.wait_for(self._wake.wait(), pause)
                except TimeoutError:
                    pass
                # Each round is a write transaction: while deliveries end one after another,
                # the room they leave is leased in one round, not in one round each.
                await asyncio.sleep(started + ROUND_GAP - loop.time())
        finally:
            self._leasing_done.set()
            if not self._stopping:
                await self._abandon()

    def wake(self) -> None:
        """Ask for a lease round now (an event was written); safe to call from any thread."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def stop(self) -> None:
        """Lease nothing more; let in-flight deliveries end (each is bounded by the timeout),
        cancel what is left after that, and close the HTTP client."""
        self._stopping = True
        self._wake.set()
        if self._loop is not None:
            # A round still leasing sends what it leased: wait for it before counting tasks.
            await self._leasing_done.wait()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=self.timeout + STOP_MARGIN)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        await self._close()

    async def _abandon(self) -> None:
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        await self._close()

    async def _close(self) -> None:
        if self._client is not None:
            await self._client.close()

    # -- leasing --------------------------------------------------------------------

    async def _lease_round(self) -> None:
        limit = self.concurrency - self._sending
        if limit <= 0:
            self._more_due = True
            return
        self._forget_idle_lanes()
        room = {project: lane.limit - lane.in_flight for project, lane in self._lanes.items()}
        now = time.time()
        leased = await asyncio.to_thread(
            functools.partial(
                self.store.lease_webhooks,
                now,
                limit=limit,
                lease=self.lease,
                per_project=self.per_project,
                room=room,
            )
        )
        # More may be due if the limit or a lane's room, not the events, ended the lease: a
        # lane that had no room at all included, since its events were not even looked at.
        taken: dict[str, int] = {}
        for delivery in leased:
            taken[delivery.project_id] = taken.get(delivery.project_id, 0) + 1
        self._more_due = (
            len(leased) == limit
            or any(taken.get(project, 0) >= n for project, n in room.items())
            or any(n == self.per_project for project, n in taken.items() if project not in room)
        )
        for delivery in leased:
            if delivery.id in self._held:
                continue  # its lease ran out while this deliverer still holds it
            lane = self._lanes.get(delivery.project_id)
            if lane is None:
                lane = self._lanes[delivery.project_id] = _Lane(self.per_project)
            lane.in_flight += 1
            self._sending += 1
            self._held.add(delivery.id)
            task = asyncio.create_task(self._run_one(delivery, lane))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _forget_idle_lanes(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._lanes_swept < LANE_MEMORY:
            return
        self._lanes_swept = now
        for project, lane in list(self._lanes.items()):
            if lane.in_flight == 0 and now - lane.used > LANE_MEMORY:
                del self._lanes[project]

    async def _run_one(self, delivery: WebhookDelivery, lane: _Lane) -> None:
        try:
            outcome = await self._send_on(lane, delivery)
            if outcome is not None:
                await self._record(outcome)
        finally:
            self._held.discard(delivery.id)

    async def _send_on(self, lane: _Lane, delivery: WebhookDelivery) -> WebhookOutcome | None:
        """Send it; its slot and its lane's are free again as soon as the exchange ends,
        while its outcome waits for the next write."""
        outcome = None
        try:
            outcome = await self._deliver(delivery)
        except Exception:
            # The boundary: nothing may kill the loop. The event is re-sent after its lease.
            log.exception("delivery of webhook event %s failed", delivery.id)
        finally:
            self._sending -= 1
            delivered = outcome is not None and outcome.error is None
            lane.limit = (
                min(lane.limit + 1, self.per_project_max) if delivered else self.per_project
            )
            lane.in_flight -= 1
            lane.used = asyncio.get_running_loop().time()
            if lane.in_flight == 0 and lane.limit == self.per_project:
                del self._lanes[delivery.project_id]  # nothing learnt to keep
            if self._more_due and not self._stopping:
                self._wake.set()
        return outcome

    # -- one delivery ---------------------------------------------------------------

    async def _deliver(self, delivery: WebhookDelivery) -> WebhookOutcome:
        """Send it: how it went, and when to try again if it failed."""
        body = event_body(delivery.call)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Voxcall-Event-Id": delivery.id,
            "X-Voxcall-Signature": sign(body, delivery.secret, int(time.time())),
        }
        assert self._client is not None  # run() made it before leasing this
        status: int | None = None
        failure: str | None = None
        sent_at, started = time.time(), time.monotonic()
        try:
            # The session's total timeout bounds the whole request, reading the answer
            # included, so that a receiver trickling its answer cannot hold a slot longer.
            async with self._client.post(
                delivery.url, data=body, headers=headers, allow_redirects=False
            ) as reply:
                status = reply.status  # only the status counts, but ...
                await _drain(reply)  # ... a body read to its end lets the connection be reused
        except REQUEST_FAILURES as exc:
            failure = describe_failure(exc, self.timeout)
        error = delivery_error(status, failure)
        now, duration = time.time(), time.monotonic() - started
        if error is None:
            self.metrics.webhook_tried("delivered")
            log.debug("webhook event %s delivered to project %s", delivery.id, delivery.project_id)
            return WebhookOutcome(delivery.id, sent_at, now, duration, status)
        retry_at = next_attempt(
            delivery.attempts,
            delivery.created_at,
            now,
            base=self.backoff_base,
            cap=self.backoff_cap,
            window=self.window,
            jitter=random.random() * JITTER,
        )
        self.metrics.webhook_tried("given_up" if retry_at is None else "retry")
        if retry_at is None:
            log.error(
                "webhook event %s for project %s given up after %d attempts: %s",
                delivery.id,
                delivery.project_id,
                delivery.attempts,
                error,
            )
        else:
            log.info(
                "webhook event %s attempt %d failed (%s); retry in %.1f s",
                delivery.id,
                delivery.attempts,
                error,
                retry_at - now,
            )
        return WebhookOutcome(delivery.id, sent_at, now, duration, status, failure, retry_at)

    async def _record(self, outcome: WebhookOutcome) -> None:
        """Queue the outcome for the next write and wait for that write. One write at a time
        records all the outcomes queued meanwhile in one transaction: one commit for many
        deliveries, rather than one each."""
        written = asyncio.get_running_loop().create_future()
        self._outcomes.append((outcome, written))
        if not self._writing:
            self._writing = True
            writer = asyncio.create_task(self._write_outcomes())
            self._tasks.add(writer)
            writer.add_done_callback(self._tasks.discard)
        # Shielded: a shutdown must not lose an outcome the receiver has already seen.
        await asyncio.shield(written)

    async def _write_outcomes(self) -> None:
        try:
            while self._outcomes:
                batch, self._outcomes = self._outcomes, []
                try:
                    await asyncio.to_thread(self.store.webhook_outcomes, [o for o, _ in batch])
                except StoreUnavailable as exc:
                    log.error(
                        "outcomes of %d webhook events not recorded, they will be sent again: %s",
                        len(batch),
                        exc,
                    )
                except Exception:
                    # Never leave a delivery waiting: its event is re-sent after its lease.
                    log.exception("outcomes of %d webhook events not recorded", len(batch))
                for _, written in batch:
                    written.set_result(None)
        finally:
            self._writing = False
