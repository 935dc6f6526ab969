"""A real HTTP webhook receiver for tests, on 127.0.0.1, scriptable while it runs.

It records every request as it arrives (before any scripted delay), answers 500 to the first
`fail_first` requests and `status` after that, optionally after `delay` seconds. `stop()`
closes the port (a client then gets connection refused) and `start()` opens it again on the
same port. With `keep_alive` it speaks HTTP/1.1 and serves several requests on a connection;
`connections` counts the connections it accepted, `max_in_flight` the most requests it held
at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float  # time.time() on arrival
    status: int  # what it was answered


class Receiver:
    def __init__(
        self,
        *,
        fail_first: int = 0,
        status: int = 200,
        delay: float = 0.0,
        reply_headers: dict[str, str] | None = None,
        keep_alive: bool = False,
    ) -> None:
        self.fail_first = fail_first
        self.status = status
        self.delay = delay
        self.reply_headers = reply_headers or {}
        self.keep_alive = keep_alive
        self.connections = 0
        self.max_in_flight = 0
        self._in_flight = 0
        self.port = 0  # chosen by the first start, kept by later ones
        self._lock = threading.Lock()
        self._requests: list[Received] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._release = threading.Event()  # cuts scripted delays short at stop

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/hook"

    def received(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    def start(self) -> None:
        assert self._server is None, "already running"
        self._release = threading.Event()
        server = _Server((HOST, self.port), _KeepAliveHandler if self.keep_alive else _Handler)
        server.receiver = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Close the port; requests in progress are answered at once and their threads
        joined."""
        if self._server is None:
            return
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None
        self._thread.join()
        self._server = None

    def __enter__(self) -> Receiver:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _arrived(self, method: str, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            status = 500 if len(self._requests) < self.fail_first else self.status
            self._requests.append(Received(method, path, headers, body, time.time(), status))
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            return status

    def _answered(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _connected(self) -> None:
        with self._lock:
            self.connections += 1


class _Server(ThreadingHTTPServer):
    # Handler threads are joined at server_close, so that a stopped receiver leaves none.
    daemon_threads = False
    block_on_close = True
    request_queue_size = 64  # a burst of connections is queued, not dropped
    receiver: Receiver

    def process_request(self, request: Any, client_address: Any) -> None:
        self.receiver._connected()
        super().process_request(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # A connection accepted but not yet written to (the client's loop may be the one that
    # calls stop() and joins this thread) gives up reading after this, so that stop() ends.
    timeout = 2.0

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def _handle(self) -> None:
        receiver = self.server.receiver
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        status = receiver._arrived(self.command, self.path, headers, body)
        if receiver.delay:
            receiver._release.wait(receiver.delay)
        try:
            self.send_response(status)
            for name, value in receiver.reply_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()
        except ConnectionError:
            pass  # the client gave up waiting (its timeout): what a slow receiver is for
        finally:
            receiver._answered()

    def log_message(self, format: str, *args: object) -> None:
        pass  # the test reads `received()`, not stderr


class _KeepAliveHandler(_Handler):
    protocol_version = "HTTP/1.1"
    timeout = 5.0  # an idle connection's thread ends after this, so that stop() can join it
