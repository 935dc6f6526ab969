"""Prometheus metrics: counters of what this process did, gauges of what the database holds,
and the health check; then `serve --metrics-port` scraped over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.api.test_calls import upload
from tests.conftest import Tenant
from tests.e2e.server import Server, free_port
from tests.peers.postgres import PostgresServer
from voxcall.api.app import create_app
from voxcall.runtime import Services


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape(services: Services) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client import generate_latest

    return samples(generate_latest(services.metrics.registry).decode())


def test_a_call_counted_from_request_to_final(
    services: Services, tenant: Tenant, voice_mp3: bytes
) -> None:
    with TestClient(create_app(services), raise_server_exceptions=False) as client:
        voice = upload(client, tenant, voice_mp3)
        body = {"phoneNumber": "09121230001", "voiceId": voice, "retryCount": 0}
        busy = client.post("/api/v2/voice/single", headers=tenant.headers, json=body)
        body = {"phoneNumber": "09121234567", "voiceId": voice}
        answered = client.post("/api/v2/voice/single", headers=tenant.headers, json=body)
        assert busy.status_code == answered.status_code == 200
        deadline = time.monotonic() + 20
        while services.store.count_calls().get("WAITING", 0):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert client.get("/api/v2/voice/status/nope", headers=tenant.headers).status_code == 404
        assert client.get("/no/such/path").status_code == 404
    m = scrape(services)
    assert m[("voxcall_attempts_total", (("dialer", "sandbox"), ("result", "ANSWERED")))] == 1
    assert m[("voxcall_attempts_total", (("dialer", "sandbox"), ("result", "BUSY")))] == 1
    assert m[("voxcall_calls_final_total", (("status", "NORMAL"),))] == 1
    assert m[("voxcall_calls_final_total", (("status", "USER_BUSY"),))] == 1
    single = (("method", "POST"), ("route", "/api/v2/voice/single"), ("status", "200"))
    assert m[("voxcall_http_requests_total", single)] == 2
    status = (("method", "GET"), ("route", "/api/v2/voice/status/{call_id}"), ("status", "404"))
    assert m[("voxcall_http_requests_total", status)] == 1
    unmatched = (("method", "GET"), ("route", "unmatched"), ("status", "404"))
    assert m[("voxcall_http_requests_total", unmatched)] == 1
    assert m[("voxcall_http_request_seconds_count", (("route", "/api/v2/voice/single"),))] == 2
    assert m[("voxcall_calls", (("phase", "queued"),))] == 0
    assert m[("voxcall_calls", (("phase", "dialing"),))] == 0
    assert m[("voxcall_channels", (("dialer", "sandbox"),))] == 10
    assert m[("voxcall_channels_busy", (("dialer", "sandbox"),))] == 0
    assert m[("voxcall_webhook_events_pending", ())] == 0
    assert m[("voxcall_store_up", ())] == 1
    # no project id anywhere: the operator's view, not a tenant's
    assert tenant.project.id not in str(m)


def test_health_and_the_queue_gauge(services: Services, tenant: Tenant, voice_mp3: bytes) -> None:
    with TestClient(create_app(services, run_worker=False)) as client:  # nothing dials
        response = client.get("/health")
        voice = upload(client, tenant, voice_mp3)
        body = {"phoneNumbers": ["09121234567", "09121234568"], "voiceId": voice}
        assert client.post("/api/v2/voice/batch", headers=tenant.headers, json=body).is_success
    assert response.status_code == 200
    assert response.json() == {"result": {"status": "ok"}, "error": None}
    m = scrape(services)
    assert m[("voxcall_calls", (("phase", "queued"),))] == 2
    assert m[("voxcall_calls", (("phase", "dialing"),))] == 0


def test_health_and_metrics_when_the_database_is_gone(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """The database vanishes under a running API node: /health says 503, the metrics say so
    too, and neither hangs or crashes the process."""
    database = postgres_server.create_database()
    env = {"VOXCALL_DATABASE_URL": postgres_server.url(database)}
    data = tmp_path / "data"
    data.mkdir()
    upgraded = subprocess.run(
        [sys.executable, "-m", "voxcall", "db", "upgrade", "--data", str(data)],
        env={**os.environ, **env},
        capture_output=True,
        timeout=60,
    )
    assert upgraded.returncode == 0, upgraded.stderr
    metrics_port = free_port()
    server = Server(
        data, speed=100, role="api", env=env, extra=("--metrics-port", str(metrics_port))
    )
    server.start()
    try:
        with httpx.Client(timeout=10) as http:
            assert http.get(server.base + "/health").status_code == 200
            up = samples(http.get(f"http://127.0.0.1:{metrics_port}/metrics").text)
            assert up[("voxcall_store_up", ())] == 1
            postgres_server.drop_database(database)
            down = http.get(server.base + "/health")
            assert down.status_code == 503
            assert down.json()["error"] == "Unavailable"
            gone = samples(http.get(f"http://127.0.0.1:{metrics_port}/metrics").text)
            assert gone[("voxcall_store_up", ())] == 0
    finally:
        server.stop()
