"""The RTP pacer in a process of its own, so that nothing the main process does delays a packet.

A pacer thread is not enough: under load the main thread holds the GIL (and loses its CPU
while holding it), and the pacer thread waits for it. bench/sip_media.py --busy-only
measured the gaps of 200 playing streams while 200 calls/s were set up and the API ran at
capacity: p99 |gap - 20 ms| 19 to 20 ms with the pacer on the caller's loop, 59 to 65 ms
with a pacer thread (sys.setswitchinterval did not help), 1.5 to 4.3 ms in this process
(BENCHMARKS.md, 3b).

`MediaProcess` has the pacer's interface. `play` hands the child a duplicate of the call's
RTP socket and the payload (in a memfd) over a Unix socket; the child runs an `RtpPacer`
and sends each stream's report back, which resolves the future on the caller's loop. The
callee's RTP is read there too: `listen` hands the child another duplicate of the socket and
the names of the listeners to run over it (inbound.py, listeners.py); their events come back
to `on_event`. The caller keeps owning its socket and may close it at once after `stop` or
`unlisten`: the child's duplicates are the child's, closed when the stream or the listening
ends there (until then the port stays bound, and the port pool skips a busy port). When the
parent goes, the child reads end-of-file and exits.

The receiver runs on the child's main loop, the pacer on a thread of its own. SipDialer
has two children, one it only plays through (started with it) and one it only listens
through (started by the first `listen`): a tick of
the receiver (a numpy pass over every listening call's audio) holds the GIL for
milliseconds, and a pacer thread waiting for it sent late (bench/sip_media.py --listen-only
at 500 calls: p99 jitter 10 to 16 ms in one process, 1.3 ms in two, and 10 % less CPU
without the threads' hand-offs of the GIL).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from voxcall.dialers.sip.inbound import InboundFormat, InboundMedia, MediaEvent, RtpReceiver
from voxcall.dialers.sip.listeners import ListenerSpec, build_listeners, check_spec
from voxcall.dialers.sip.media import PlaybackReport, RtpPacer, check_play, check_remote

log = logging.getLogger("voxcall.sip")

_MESSAGE = 4096  # the largest control message, either way
READY_TIMEOUT = 10.0  # seconds the child may take to start


def _child_gone_error() -> OSError:
    return OSError("RTP media process exited")


class MediaProcess:
    """An `RtpPacer` and an `RtpReceiver` in a child process, from `start` to `close`."""

    def __init__(self) -> None:
        self._channel: _Channel | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: asyncio.Future[None] | None = None
        self._streams: dict[int, asyncio.Future[PlaybackReport]] = {}
        self._ids: dict[asyncio.Future[PlaybackReport], int] = {}
        self._listening: dict[int, Callable[[MediaEvent], None]] = {}
        self._next_id = 0
        self._closed = False

    @property
    def active_streams(self) -> int:
        return len(self._streams)

    @property
    def pid(self) -> int | None:
        """The child's process id, once started."""
        return self._child.pid if self._child is not None else None

    def play(
        self, sock: socket.socket, remote: tuple[str, int], payload: bytes, payload_type: int
    ) -> asyncio.Future[PlaybackReport]:
        """As `RtpPacer.play`, on the loop that started the child."""
        check_play(sock, remote, payload_type)
        loop = asyncio.get_running_loop()
        if self._closed:
            raise RuntimeError("RtpPacer is closed")
        if self._loop is not loop:
            raise RuntimeError("MediaProcess is not started on this event loop")
        future: asyncio.Future[PlaybackReport] = loop.create_future()
        if not payload:
            future.set_result(PlaybackReport(0, 0, 0.0))
            return future
        stream_id = self._next_id
        self._next_id += 1
        memfd = os.memfd_create("voxcall-rtp-payload")
        try:
            os.write(memfd, payload)
            sent = self._send(
                {"op": "play", "id": stream_id, "remote": remote, "pt": payload_type},
                (sock.fileno(), memfd),
            )
        finally:
            os.close(memfd)
        if not sent:
            future.set_exception(_child_gone_error())
            return future
        self._streams[stream_id] = future
        self._ids[future] = stream_id
        future.add_done_callback(self.stop)  # a cancelled future stops its stream
        return future

    def redirect(
        self, playback: asyncio.Future[PlaybackReport], remote: tuple[str, int] | None
    ) -> None:
        """As `RtpPacer.redirect`."""
        if remote is not None:
            check_remote(remote)
        stream_id = self._ids.get(playback)
        if stream_id is None:
            if playback.done():
                return
            raise ValueError("not a stream of this RtpPacer")
        self._send({"op": "redirect", "id": stream_id, "remote": remote})

    def stop(self, playback: asyncio.Future[PlaybackReport]) -> None:
        """End a stream now, cancelling its future. The child stops using its duplicate of
        the socket at once; the caller may close its own."""
        stream_id = self._ids.pop(playback, None)
        if stream_id is not None:
            del self._streams[stream_id]
            self._send({"op": "stop", "id": stream_id})
        playback.cancel()

    def listen(
        self,
        sock: socket.socket,
        media_format: InboundFormat,
        listeners: ListenerSpec,
        on_event: Callable[[MediaEvent], None],
    ) -> int:
        """As `listeners.Receiver.listen`: the child reads a duplicate of `sock`, runs the
        listeners there and sends their events back."""
        check_spec(listeners)
        if self._closed:
            raise RuntimeError("RtpPacer is closed")
        if self._channel is None:
            self._launch(asyncio.get_running_loop())  # its commands wait in the socket
        handle = self._next_id
        self._next_id += 1
        command = {
            "op": "listen",
            "id": handle,
            "format": media_format.to_json(),
            "listeners": {name: dict(settings) for name, settings in listeners.items()},
        }
        if self._send(command, (sock.fileno(),)):
            self._listening[handle] = on_event
        return handle

    def unlisten(self, handle: int) -> None:
        """As `listeners.Receiver.unlisten`: the child closes its duplicate of the socket."""
        if self._listening.pop(handle, None) is not None:
            self._send({"op": "unlisten", "id": handle})

    def close(self) -> None:
        """Cancel every stream and end the child (it exits when its control socket closes)."""
        self._closed = True
        for future in list(self._streams.values()):
            future.cancel()
        self._streams.clear()
        self._ids.clear()
        self._listening.clear()
        if self._channel is not None:
            assert self._loop is not None
            self._loop.remove_reader(self._channel.sock)
            self._channel.close()
            self._channel = None
        if self._child is not None:
            try:
                self._child.wait(5)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait()

    async def start(self) -> None:
        """Start the child and wait until it is ready (it imports what the pacer needs).
        Without it, the first `listen` starts the child and does not wait: a dialer whose
        calls never listen has no receiving process."""
        self._launch(asyncio.get_running_loop())
        assert self._ready is not None
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                await self._ready
        except TimeoutError:
            self.close()
            raise RuntimeError(f"RTP media process not ready after {READY_TIMEOUT:g} s") from None

    def _launch(self, loop: asyncio.AbstractEventLoop) -> None:
        ours = self._spawn()
        self._channel, self._loop = _Channel(ours, loop, self._cannot_send), loop
        self._ready = loop.create_future()
        # Started by `listen`, nobody waits for it: a child that dies first is not an error
        # left unread (its calls' listening ends, and their timers bound what they wait for).
        self._ready.add_done_callback(lambda ready: ready.cancelled() or ready.exception())
        loop.add_reader(ours, self._on_reports)

    def _spawn(self) -> socket.socket:
        """Fork and exec the child (a few milliseconds); returns our end of its socket."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            self._child = subprocess.Popen(
                [sys.executable, "-m", "voxcall.dialers.sip.media_process", str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                # The listeners' numpy products are small: OpenBLAS's threads would spend
                # more CPU waking than they save (3 to 7 times the CPU of one thread).
                env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
            )
        return ours

    def _send(self, message: dict[str, Any], fds: tuple[int, ...] = ()) -> bool:
        """Send a command to the child; False if it is gone (then every stream has failed)."""
        if self._channel is not None:
            self._channel.send(message, fds)
        return self._channel is not None

    def _cannot_send(self, error: OSError) -> None:
        log.error("RTP media process: cannot send to it: %s", error)
        self._child_gone()

    def _on_reports(self) -> None:
        while self._channel is not None:
            try:
                data = self._channel.sock.recv(_MESSAGE)
            except BlockingIOError:
                return
            except OSError as exc:  # reset: it died with our commands unread
                log.error("RTP media process: %s", exc)
                data = b""
            if not data:
                self._child_gone()
                return
            report = json.loads(data)
            if "event" in report:
                on_event = self._listening.get(report["listen"])
                if on_event is not None:  # else: unlistened meanwhile
                    on_event(MediaEvent.from_json(report["event"]))
                continue
            if "ready" in report:
                assert self._ready is not None
                self._ready.set_result(None)
                continue
            future = self._streams.pop(report["id"], None)
            if future is None:
                continue  # stopped meanwhile
            del self._ids[future]
            if "errno" in report:
                future.set_exception(OSError(report["errno"], report["error"]))
            else:
                future.set_result(PlaybackReport(**report["report"]))

    def _child_gone(self) -> None:
        """The child exited: every stream ends with that error, and nothing more plays."""
        assert self._channel is not None and self._loop is not None
        self._loop.remove_reader(self._channel.sock)
        self._channel.close()
        self._channel = None
        self._closed = True
        for future in self._streams.values():
            future.set_exception(_child_gone_error())
        self._streams.clear()
        self._ids.clear()
        self._listening.clear()
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(_child_gone_error())


class _Channel:
    """One end of the control socket: JSON messages, with descriptors, sent in order.

    A Unix datagram socket holds only a few unread messages (net.unix.max_dgram_qlen, often
    10): while the other end is behind, messages wait here, with copies of their descriptors
    (their owners may close them meanwhile), and go as it reads. Neither end ever blocks.
    """

    def __init__(
        self,
        sock: socket.socket,
        loop: asyncio.AbstractEventLoop,
        broken: Callable[[OSError], None],
    ) -> None:
        sock.setblocking(False)
        self.sock = sock
        self._loop = loop
        self._broken = broken
        self._backlog: collections.deque[tuple[bytes, list[int]]] = collections.deque()

    def send(self, message: dict[str, Any], fds: tuple[int, ...] = ()) -> None:
        data = json.dumps(message).encode()
        if not self._backlog:
            try:
                socket.send_fds(self.sock, [data], list(fds))
                return
            except BlockingIOError:
                self._loop.add_writer(self.sock, self._flush)
            except OSError as exc:
                self._broken(exc)
                return
        self._backlog.append((data, [os.dup(fd) for fd in fds]))

    def _flush(self) -> None:
        while self._backlog:
            data, fds = self._backlog[0]
            try:
                socket.send_fds(self.sock, [data], fds)
            except BlockingIOError:
                return
            except OSError as exc:
                self._broken(exc)
                return
            self._backlog.popleft()
            for fd in fds:
                os.close(fd)
        self._loop.remove_writer(self.sock)

    def close(self) -> None:
        self._loop.remove_writer(self.sock)
        for _, fds in self._backlog:
            for fd in fds:
                os.close(fd)
        self._backlog.clear()
        self.sock.close()


# -- the child ------------------------------------------------------------------------------


async def _serve(control: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[None] = loop.create_future()

    def parent_gone(error: OSError | None = None) -> None:
        if not ended.done():
            ended.set_result(None)

    channel = _Channel(control, loop, parent_gone)
    pacer = RtpPacer()
    receiver = RtpReceiver(loop)
    playing: dict[int, tuple[asyncio.Future[PlaybackReport], socket.socket]] = {}
    listening: dict[int, socket.socket] = {}

    def send_event(handle: int, event: MediaEvent) -> None:
        channel.send({"listen": handle, "event": event.to_json()})

    def report(stream_id: int, future: asyncio.Future[PlaybackReport]) -> None:
        _, sock = playing.pop(stream_id)
        sock.close()
        if future.cancelled():
            return
        error = future.exception()
        if isinstance(error, OSError):
            message: dict[str, Any] = {"id": stream_id, "errno": error.errno, "error": str(error)}
        else:
            result = future.result()
            message = {"id": stream_id, "report": dataclasses.asdict(result)}
        channel.send(message)

    def on_message() -> None:
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(control, _MESSAGE, 2)
            except BlockingIOError:
                return
            except OSError:  # reset: the parent died
                data = b""
            if not data:
                parent_gone()
                return
            command = json.loads(data)
            stream_id = command["id"]
            if command["op"] == "play":
                sock = socket.socket(fileno=fds[0])
                sock.setblocking(False)  # O_NONBLOCK is set; the object must know it too
                # The memfd's file offset is shared with the parent, which wrote it: pread.
                payload = os.pread(fds[1], os.fstat(fds[1]).st_size, 0)
                os.close(fds[1])
                future = pacer.play(sock, tuple(command["remote"]), payload, command["pt"])
                playing[stream_id] = (future, sock)
                future.add_done_callback(functools.partial(report, stream_id))
            elif command["op"] == "redirect" and stream_id in playing:
                remote = command["remote"]
                pacer.redirect(playing[stream_id][0], tuple(remote) if remote else None)
            elif command["op"] == "stop" and stream_id in playing:
                pacer.stop(playing[stream_id][0])
            elif command["op"] == "listen":
                sock = socket.socket(fileno=fds[0])
                media = InboundMedia(
                    InboundFormat.from_json(command["format"]),
                    build_listeners(command["listeners"]),
                )
                listening[stream_id] = sock
                receiver.listen(sock, media, functools.partial(send_event, stream_id))
            elif command["op"] == "unlisten" and stream_id in listening:
                receiver.unlisten(listening.pop(stream_id))

    loop.add_reader(control, on_message)
    channel.send({"ready": True})
    try:
        await ended
    finally:
        loop.remove_reader(control)
        receiver.close()
        pacer.close()
        channel.close()


def main() -> None:
    # Ctrl-C or a SIGTERM to the process group must not end the media of calls the parent
    # lets finish: the child ends when the parent closes its socket (or dies).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    control = socket.socket(fileno=int(sys.argv[1]))
    asyncio.run(_serve(control))


if __name__ == "__main__":
    main()
