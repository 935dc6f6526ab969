"""A real HTTP webhook receiver for tests, on 127.0.0.1, scriptable while it runs.

It records every request as it arrives (before any scripted delay), answers 500 to the first
`fail_first` requests and `status` after that, optionally after `delay` seconds. `stop()`
closes the port (a client then gets connection refused) and `start()` opens it again on the
same port.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

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
    ) -> None:
        self.fail_first = fail_first
        self.status = status
        self.delay = delay
        self.reply_headers = reply_headers or {}
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
        server = _Server((HOST, self.port), _Handler)
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
            return status


class _Server(ThreadingHTTPServer):
    # Handler threads are joined at server_close, so that a stopped receiver leaves none.
    daemon_threads = False
    block_on_close = True
    receiver: Receiver


class _Handler(BaseHTTPRequestHandler):
    server: _Server

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

    def log_message(self, format: str, *args: object) -> None:
        pass  # the test reads `received()`, not stderr
