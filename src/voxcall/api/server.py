"""The HTTP server's guard against slow and too many clients: uvicorn's httptools protocol
with a header timeout and a connection cap.

uvicorn has neither. Its keep-alive timeout only runs between requests, so a client that opens
a connection and sends half a request line holds it (and a file descriptor) forever; and its
`limit_concurrency` answers 503 only once a request's headers are in, so connections that
never send them pile up until accept() fails with EMFILE. Here a request's headers must arrive
within `header_timeout` of its first byte (of the connection, for the first request), or the
connection is closed; so is one whose body stops arriving for `body_timeout` (a client whose
Content-Length promised more than it sends would otherwise hold its request open for ever); and
a connection beyond `max_connections` has its request answered 503 `Unavailable` and is closed
(within a second if it sends none), so open connections stay below the file-descriptor limit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from voxcall.api.errors import envelope

log = logging.getLogger("voxcall.api")

# File descriptors kept for everything but client connections (or half the limit, if less):
# database connections (three each for SQLite), SIP and RTP sockets, voice files, espeak-ng
# pipes, webhook connections.
RESERVED_FDS = 1024
# The soft RLIMIT_NOFILE is raised to the hard one, but no further than this.
MAX_FDS = 65536

# A connection beyond the cap has this long to send its request before it is closed.
REFUSED_WAIT = 1.0

# The answer to a request on a connection beyond the cap; the connection closes after it.
_too_many = envelope(
    503,
    "Unavailable",
    "too many connections open; try again",
    {"retry-after": "1", "connection": "close"},
)


# The answer to bytes that are not an HTTP request (a Content-Length that is not a number,
# or less than the body sent, whose rest is read as the next request): uvicorn's, in the
# envelope of every answer (api.md §1) instead of text.
_NOT_HTTP = json.dumps(
    {"result": None, "error": "InvalidRequest", "message": "request: not a valid HTTP/1.1 request"},
    separators=(",", ":"),
).encode()


def raise_fd_limit() -> int:
    """Raise this process's soft limit on open files to the hard one (systemd: LimitNOFILE);
    return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else MAX_FDS
    target = min(target, MAX_FDS)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def connection_room(fd_limit: int) -> int:
    """Client connections that fit under `fd_limit` beside what the rest of voxcall opens."""
    return max(fd_limit // 2, fd_limit - RESERVED_FDS)


def guarded_http(
    header_timeout: float, max_connections: int, body_timeout: float = 60.0
) -> type[HttpToolsProtocol]:
    """uvicorn's `http` protocol class, with these limits."""

    class GuardedHttp(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None
        _body_timer: asyncio.TimerHandle | None = None
        _header_timeout = header_timeout
        _warned_at = 0.0  # of the class: one warning a minute, not one per refused client

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                if time.monotonic() - GuardedHttp._warned_at > 60:
                    GuardedHttp._warned_at = time.monotonic()
                    log.warning("%d connections open: refusing more", max_connections)
                # answered after its request (a reply sent before it can be lost to a reset)
                self.app = _too_many
                self._header_timeout = min(header_timeout, REFUSED_WAIT)
            self._expect_headers()

        def connection_lost(self, exc: Exception | None) -> None:
            self._headers_arrived()
            self._body_arrived()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._expect_headers()  # a later request on a kept-alive connection

        def on_headers_complete(self) -> None:
            self._headers_arrived()
            super().on_headers_complete()
            self._expect_body()  # cancelled at once by a request without a body

        def on_body(self, body: bytes) -> None:
            super().on_body(body)
            self._expect_body()

        def on_message_complete(self) -> None:
            self._body_arrived()
            super().on_message_complete()

        def send_400_response(self, msg: str) -> None:
            head = [b"HTTP/1.1 400 Bad Request\r\n"]
            head += [
                name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
            ]
            head += [
                b"content-type: application/json\r\n",
                b"content-length: %d\r\n" % len(_NOT_HTTP),
                b"connection: close\r\n\r\n",
            ]
            self.transport.write(b"".join(head) + _NOT_HTTP)
            self.transport.close()

        def _expect_headers(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(self._header_timeout, self._too_slow)

        def _headers_arrived(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _expect_body(self) -> None:
            self._body_arrived()
            self._body_timer = self.loop.call_later(body_timeout, self._body_stalled)

        def _body_arrived(self) -> None:
            if self._body_timer is not None:
                self._body_timer.cancel()
                self._body_timer = None

        def _body_stalled(self) -> None:
            if self.flow.read_paused:  # the app has not taken what came: not the client's wait
                self._expect_body()
                return
            self._body_timer = None
            if not self.transport.is_closing():
                log.debug("closing a connection: no request body for %g s", body_timeout)
                self.transport.close()

        def _too_slow(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                log.debug("closing a connection: no request headers in %g s", self._header_timeout)
                self.transport.close()

    return GuardedHttp
