"""Prometheus metrics of one voxcall process.

Counters say what this process did (HTTP answers, attempts ended, calls made final, webhook
tries); sum them over processes. Gauges say what the shared database holds now (calls queued
or dialing, channels in use per dialer, webhook events waiting) and are read when scraped,
so every process reports the same values. Nothing carries a project id: the operator's view,
not a tenant's.

`voxcall serve --metrics-port N` serves them (on 127.0.0.1 unless `--metrics-host` says
otherwise), for the API and worker roles alike.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from voxcall.store.database import StoreUnavailable
from voxcall.store.store import Store

log = logging.getLogger("voxcall.metrics")

# Intake answers in milliseconds; an upload or a text to speech can take seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._http_requests = Counter(
            "voxcall_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self._http_seconds = Histogram(
            "voxcall_http_request_seconds",
            "Time from a request's arrival to the end of its answer.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._attempts = Counter(
            "voxcall_attempts",
            "Call attempts ended, by dialer and result.",
            ["dialer", "result"],
            registry=self.registry,
        )
        self._watchdog = Counter(
            "voxcall_attempts_watchdog",
            "Attempts ended as ERROR by the watchdog: the dialer gave no outcome in time.",
            ["dialer"],
            registry=self.registry,
        )
        self._calls_final = Counter(
            "voxcall_calls_final",
            "Calls made final by this process's attempts, by status.",
            ["status"],
            registry=self.registry,
        )
        self._webhook_tries = Counter(
            "voxcall_webhook_tries",
            "Webhook deliveries tried: delivered, retry (to be tried again) or given_up.",
            ["result"],
            registry=self.registry,
        )

    def http_answered(self, method: str, route: str, status: int, seconds: float) -> None:
        self._http_requests.labels(method, route, str(status)).inc()
        self._http_seconds.labels(route).observe(seconds)

    def attempt_ended(self, dialer_id: str, result: str, final_status: str | None) -> None:
        """`final_status`: the call's status if the attempt made it final."""
        self._attempts.labels(dialer_id, result).inc()
        if final_status is not None:
            self._calls_final.labels(final_status).inc()

    def watchdog_fired(self, dialer_id: str) -> None:
        self._watchdog.labels(dialer_id).inc()

    def webhook_tried(self, result: str) -> None:
        self._webhook_tries.labels(result).inc()

    def watch(self, store: Store) -> None:
        """Report the gauges of `store` at each scrape."""
        self.registry.register(StoreGauges(store))

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        """Serve /metrics from a thread of this process."""
        start_http_server(port, addr=host, registry=self.registry)


class StoreGauges(Collector):
    """What the database holds now: a few indexed counts per scrape."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("voxcall_store_up", "1 if the database answered this scrape.")
        try:
            backlog = self.store.backlog()
            dialers = self.store.list_dialers()
            busy = self.store.busy_channels()
        except StoreUnavailable as exc:
            log.warning("metrics: the database did not answer: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        calls = GaugeMetricFamily(
            "voxcall_calls", "Calls not yet final, by phase.", labels=["phase"]
        )
        calls.add_metric(["queued"], backlog.queued_calls)
        calls.add_metric(["dialing"], backlog.dialing_calls)
        yield calls
        webhooks = GaugeMetricFamily(
            "voxcall_webhook_events_pending", "Webhook events not yet delivered or given up."
        )
        webhooks.add_metric([], backlog.pending_webhooks)
        yield webhooks
        in_use = GaugeMetricFamily(
            "voxcall_channels_busy", "Channels in use, by dialer.", labels=["dialer"]
        )
        limit = GaugeMetricFamily(
            "voxcall_channels", "Channels a dialer may use (0: disabled).", labels=["dialer"]
        )
        for dialer in dialers:
            in_use.add_metric([dialer.id], busy.get(dialer.id, 0))
            limit.add_metric([dialer.id], dialer.channels if dialer.enabled else 0)
        yield in_use
        yield limit
