"""`voxcall serve` against slow and too many clients: 2,000 connections that never finish
their request headers are closed after --header-timeout while other clients are served, a
body that stops arriving is closed after --body-timeout (one that trickles in is served), and
connections beyond --max-connections are answered 503 Unavailable."""

from __future__ import annotations

import contextlib
import resource
import selectors
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.audio.samples import speech_wav
from tests.e2e.server import Server, voxcall, voxcall_json

pytestmark = pytest.mark.slow

SLOW = 2000
HEADER_TIMEOUT = 8.0  # long enough to open them all and be served meanwhile on a busy box


@pytest.fixture(autouse=True)
def enough_files() -> None:
    """This process holds SLOW sockets; serve inherits the limit (and raises its own)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = SLOW + 1000
    if soft < need:
        assert hard == resource.RLIM_INFINITY or hard >= need, f"RLIMIT_NOFILE hard {hard}"
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


@contextlib.contextmanager
def slow_clients(port: int, n: int) -> Iterator[list[socket.socket]]:
    """n connections, each with half a request sent and never the rest."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(n):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.settimeout(None)  # blocking: still_open() peeks with MSG_DONTWAIT
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: voxcall\r\n")
            sockets.append(sock)
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def still_open(sock: socket.socket) -> bool:
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True  # nothing to read, no EOF: open
    except ConnectionError:
        return False


def wait_all_closed(sockets: list[socket.socket], timeout: float) -> None:
    open_ = set(sockets)
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            selector.register(sock, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while open_ and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=1):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if not still_open(sock):
                    open_.discard(sock)
                    selector.unregister(sock)
    assert not open_, f"{len(open_)} of {len(sockets)} slow connections still open"


def test_slow_clients_are_closed_and_others_served(tmp_path: Path) -> None:
    data = tmp_path / "data"
    voxcall(data, "dialer", "add", "sandbox", "--driver", "sandbox", "--default")
    project = voxcall_json(data, "project", "create", "acme")
    server = Server(data, speed=20, extra=("--header-timeout", str(HEADER_TIMEOUT)))
    server.start()
    try:
        client = server.client(project["token"], timeout=30)
        upload = client.post("/api/v2/file/voice", files={"file": ("m.wav", speech_wav("hi"))})
        voice_id = upload.json()["result"]["id"]
        with slow_clients(server.port, SLOW) as slow:
            opened = time.monotonic()
            body = {"phoneNumber": "09121234567", "voiceId": voice_id}
            placed = client.post("/api/v2/voice/single", json=body)
            assert placed.status_code == 200, placed.text
            assert client.get("/health").status_code == 200
            served = time.monotonic() - opened
            # all of them held open while the others were served
            assert served < HEADER_TIMEOUT
            closed = sum(not still_open(s) for s in slow)
            assert closed == 0, f"{closed} closed before the header timeout"
            wait_all_closed(slow, timeout=HEADER_TIMEOUT + 60)
            assert time.monotonic() - opened >= HEADER_TIMEOUT * 0.9
        assert client.get("/health").status_code == 200
    finally:
        server.stop()


def test_connections_beyond_the_cap_are_answered_503(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    server = Server(data, speed=20, extra=("--max-connections", "20", "--header-timeout", "3"))
    server.start()
    try:
        with slow_clients(server.port, 20) as slow:
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as extra:
                extra.sendall(b"GET /health HTTP/1.1\r\nHost: voxcall\r\n\r\n")
                answer = b""
                while chunk := extra.recv(65536):
                    answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 503 ")
            assert b"retry-after: 1" in head.lower()
            assert body == (
                b'{"result":null,"error":"Unavailable",'
                b'"message":"too many connections open; try again"}'
            )
            wait_all_closed(slow, timeout=60)  # the header timeout frees the places
        client = server.client("none", timeout=30)
        assert client.get("/health").status_code == 200
    finally:
        server.stop()


def test_a_stalled_body_is_closed_and_a_trickling_one_served(tmp_path: Path) -> None:
    """A Content-Length that promises more than is sent held the request open for ever; one
    that is not a number was answered in text."""
    data = tmp_path / "data"
    project = voxcall_json(data, "project", "create", "acme")
    server = Server(data, speed=20, extra=("--body-timeout", "1"))
    server.start()
    token = project["token"].encode()
    head = (
        b"POST /api/v2/dnc HTTP/1.1\r\nHost: voxcall\r\nAuthorization: Bearer " + token +
        b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    )  # fmt: skip
    body = b'{"phoneNumbers": ["09121234567"]}'
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as stalled:
            stalled.sendall(head % (len(body) + 100) + body)
            wait_all_closed([stalled], timeout=60)
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as trickling:
            trickling.sendall(head % len(body))
            for i in range(0, len(body), 4):  # 4 bytes each 0.25 s: 2 s in all
                trickling.sendall(body[i : i + 4])
                time.sleep(0.25)
            answer = trickling.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200 "), answer
        assert b'"added":1' in answer
        for lie in (b"abc", b"-5"):  # not HTTP: answered in the envelope, not in text
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as liar:
                liar.sendall(head.replace(b"%d", lie) + body)
                answer = b""
                while chunk := liar.recv(65536):
                    answer += chunk
            status, _, rest = answer.partition(b"\r\n")
            assert status == b"HTTP/1.1 400 Bad Request"
            assert b"content-type: application/json" in rest
            assert rest.endswith(
                b'{"result":null,"error":"InvalidRequest",'
                b'"message":"request: not a valid HTTP/1.1 request"}'
            )
        client = server.client(project["token"], timeout=30)
        assert client.get("/health").status_code == 200
        assert "Traceback" not in server.log()
    finally:
        server.stop()
