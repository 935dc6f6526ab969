"""Outgoing G.711 RTP: a UDP port per call and one pacer that sends every call's stream.

The pacer runs its own event loop in its own thread, so call set-up, the API and the store,
which share the caller's loop, cannot delay a packet: with everything on one loop, streams
already playing saw gaps of tens of milliseconds while new calls were being set up. `play`
hands a stream over and returns a future of the caller's loop, resolved from the pacer's
thread with `call_soon_threadsafe`; `redirect` and `stop` take effect at once, from any
thread. The caller owns the RTP socket: the pacer sends on it from `play` until the stream
has ended (its future resolved) or `stop` returned; then the caller may close it. A thread
still shares the GIL with a busy caller, so SipDialer runs this pacer in a process of its
own (media_process.py).

Packet n of a stream is due at `start + n * ptime` on the pacer's clock (its loop's, or the
fake clock a test gives it), so lateness never accumulates. One `call_at` timer serves all
the streams and each tick sends what is due with a plain non-blocking `socket.sendto`, which
at 1,000 calls costs a fraction of a transport per stream. Streams are spread over `phases`
evenly spaced offsets inside the packet interval and, once a phase holds BURST streams, over
the millisecond slots between them, so that a tick never sends much more than BURST packets:
the position of a stream inside its burst (its jitter) stays well under a millisecond.
Measured with 1,000 calls on loopback (bench/sip_media.py): 4 bursts of 250 packets took
1.3 ms each and gave a p99 gap jitter of 2.2 ms at the receiver; 20 bursts of 50 gave 1.1 to
1.25 ms, for the same CPU.

A playing stream can be redirected (a re-INVITE moved the far end's media) or held (a
re-INVITE put the call on hold) with `RtpPacer.redirect`. A held stream's clock runs on: its
packets fall due and are dropped unsent, so the voice still ends on time and, on resuming, the
far end hears the voice where it would be had it not been held.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import ipaddress
import math
import random
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from voxcall.dialers.sip.g711 import ALAW_SILENCE, ULAW_SILENCE
from voxcall.dialers.sip.rtp import pack_header, uint16_add, uint32_add
from voxcall.dialers.sip.sdp import PCMA, PCMU

SAMPLE_RATE = 8000  # G.711 samples (and bytes) per second, and the RTP clock rate
MAX_LAG = 0.100  # a stream further behind than this skips ahead instead of catching up
SLOT_LENGTH = 0.001  # the finest tick: the resolution of the event loops' timers
BURST = 32  # streams a tick takes before new streams go to the slots between the phases


def silence_byte(payload_type: int) -> int:
    """The G.711 code for silence in `payload_type` (RFC 3551 static payload types)."""
    if payload_type == PCMU.payload_type:
        return ULAW_SILENCE
    if payload_type == PCMA.payload_type:
        return ALAW_SILENCE
    raise ValueError(f"payload type {payload_type} is not G.711: expected 0 (PCMU) or 8 (PCMA)")


class RtpPortPool:
    """Even UDP ports in [low, high] on `host`, one bound non-blocking socket per call.

    Released ports go to the back of the queue, so a port is reused as late as possible
    and stray packets of a finished call rarely reach the next one. `open` and `release`
    never wait, so calls on one event loop cannot interleave them; the lock makes them
    safe from other threads as well.
    """

    def __init__(self, host: str, low: int, high: int) -> None:
        try:
            version = ipaddress.ip_address(host).version
        except ValueError:
            raise ValueError(f"RTP host {host!r} is not an IP address") from None
        if not 0 < low <= high < 65536:
            raise ValueError(f"RTP port range {low}-{high} is not within 1-65535")
        ports = range(low + low % 2, high + 1, 2)  # RFC 3550 section 11: RTP on even ports
        if not ports:
            raise ValueError(f"RTP port range {low}-{high} has no even port")
        self._host = host
        self._family = socket.AF_INET6 if version == 6 else socket.AF_INET
        self._range = f"{low}-{high}"
        self._free = collections.deque(ports)
        self._in_use: dict[socket.socket, int] = {}
        self._lock = threading.Lock()

    @property
    def in_use(self) -> int:
        """How many sockets are open and not yet released."""
        return len(self._in_use)

    def open(self) -> socket.socket:
        """Bind a free even port; ports that another program holds are skipped."""
        with self._lock:
            for _ in range(len(self._free)):
                port = self._free.popleft()
                sock = socket.socket(self._family, socket.SOCK_DGRAM)
                try:
                    sock.bind((self._host, port))
                except OSError as exc:
                    sock.close()
                    self._free.append(port)
                    if exc.errno != errno.EADDRINUSE:
                        raise  # not a busy port: another port would fail the same way
                    continue
                sock.setblocking(False)
                self._in_use[sock] = port
                return sock
        raise RuntimeError(f"no free RTP port in {self._range}")

    def release(self, sock: socket.socket) -> None:
        """Close a socket from `open` and make its port available again."""
        with self._lock:
            port = self._in_use.pop(sock, None)
            if port is None:
                raise ValueError("socket is not open in this RTP port pool")
            sock.close()  # before the port is free, so that the next open can bind it
            self._free.append(port)


@dataclass(frozen=True)
class PlaybackReport:
    """How a stream went.

    Skipped packets were not sent, because the loop was more than MAX_LAG late or the
    socket's send buffer was full; held packets fell due while the stream was on hold. The
    audio of both is lost and the timestamps of later packets jump over it (sequence numbers
    count only what was sent). `duration` runs from when the first packet was due to the end
    of the last packet's audio.
    """

    packets_sent: int
    packets_skipped: int
    duration: float
    packets_held: int = 0


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class PacerClock(Protocol):
    """What the pacer needs of time: the event loop of its own thread, or a test's clock that
    moves only when told (then the pacer has no thread: callbacks run when the test says)."""

    def time(self) -> float: ...

    def call_at(self, when: float, callback: Callable[[], object], /) -> Cancellable: ...

    def call_soon_threadsafe(self, callback: Callable[[], object], /) -> object: ...


class Pacer(Protocol):
    """What a call needs of a pacer: `RtpPacer`, or the one in a process of its own."""

    def play(
        self, sock: socket.socket, remote: tuple[str, int], payload: bytes, payload_type: int
    ) -> asyncio.Future[PlaybackReport]: ...

    def redirect(
        self, playback: asyncio.Future[PlaybackReport], remote: tuple[str, int] | None
    ) -> None: ...

    def stop(self, playback: asyncio.Future[PlaybackReport]) -> None: ...


@dataclass(eq=False, slots=True)
class _Stream:
    sock: socket.socket
    remote: tuple[str, int] | None  # None: on hold; set under the pacer's lock
    payload: bytes  # whole packets: padded with silence
    packets: int
    payload_type: int
    ssrc: int
    first_sequence: int
    first_timestamp: int
    future: asyncio.Future[PlaybackReport]  # of the caller's loop
    first_tick: int = 0  # the pacer tick at which packet 0 is due (set by the pacer thread)
    next_index: int = 0  # the next packet of the message to send
    sent: int = 0
    skipped: int = 0
    held: int = 0
    marker: bool = True  # the next packet sent starts a talkspurt (RFC 3551 §4.1)
    ended: bool = False  # set under the pacer's lock: its socket is no longer touched


class RtpPacer:
    """Sends G.711 streams paced on an absolute clock, all driven by one timer on a loop in
    a thread of its own, started by the first `play` and stopped by `close` (or on the
    `clock` given, whose callbacks run where it runs them: a test's fake clock).

    Time is cut into ticks of about SLOT_LENGTH from an epoch; the S ticks of a packet
    interval are its slots, slot s owns the ticks t with t % S == s, and every stream
    belongs to one slot. A new stream takes the least loaded of the `phases` slots that
    start a phase, or, once that one holds BURST streams, the least loaded of all slots.
    The timer runs only while some stream is active, and wakes only for ticks whose slot
    has streams.

    `_lock` guards what the callers' threads and the pacer thread share: the streams not
    yet ended and each one's destination and end. The slots, the epoch and the timer belong
    to the pacer thread alone.
    """

    def __init__(
        self,
        ptime: float = 0.020,
        *,
        phases: int = 4,
        rng: random.Random | None = None,
        clock: PacerClock | None = None,
    ) -> None:
        samples = ptime * SAMPLE_RATE
        if ptime <= 0 or not math.isclose(samples, round(samples)):
            raise ValueError(f"ptime {ptime} is not a whole number of 1/{SAMPLE_RATE} s samples")
        if phases < 1:
            raise ValueError(f"phases must be at least 1, got {phases}")
        self._ptime = ptime
        self._packet_size = round(samples)
        self._split = max(1, round(ptime / phases / SLOT_LENGTH))  # slots per phase
        self._ticks = phases * self._split  # ticks per packet interval
        self._tick_length = ptime / self._ticks
        self._max_backlog = max(1, round(MAX_LAG / ptime))
        # RFC 3550 wants SSRC and the initial sequence number and timestamp unpredictable.
        self._rng = rng if rng is not None else random.SystemRandom()
        self._lock = threading.Lock()
        self._streams: dict[asyncio.Future[PlaybackReport], _Stream] = {}  # not yet ended
        self._incoming: list[_Stream] = []  # played, not yet given a slot
        self._closed = False
        self._given_clock = clock
        self._clock: PacerClock | None = None  # set by the first play
        self._thread: threading.Thread | None = None  # with no clock given, its loop is the clock
        self._thread_loop: asyncio.AbstractEventLoop | None = None
        self._slots: list[dict[_Stream, None]] = [{} for _ in range(self._ticks)]
        self._epoch = 0.0
        self._next_tick = 0  # the first tick not processed yet
        self._timer: Cancellable | None = None
        self._timer_tick = 0  # the tick the timer is set for

    @property
    def active_streams(self) -> int:
        """Streams played and not yet ended."""
        with self._lock:
            return len(self._streams)

    def play(
        self, sock: socket.socket, remote: tuple[str, int], payload: bytes, payload_type: int
    ) -> asyncio.Future[PlaybackReport]:
        """Start sending `payload` (G.711 bytes in `payload_type`) from `sock` to `remote`.

        The future, of the running loop, resolves after the last packet; `stop` it (or
        cancel it, which stops the stream a moment later) to end the stream at once, or give
        it to `redirect` to move or hold it. A send error (the peer refused, the socket was
        closed) ends it with that exception.
        """
        silence = check_play(sock, remote, payload_type)
        future: asyncio.Future[PlaybackReport] = asyncio.get_running_loop().create_future()
        if not payload:
            future.set_result(PlaybackReport(0, 0, 0.0))
            return future
        padded = payload + bytes([silence]) * (-len(payload) % self._packet_size)
        stream = _Stream(
            sock=sock,
            remote=remote,
            payload=padded,
            packets=len(padded) // self._packet_size,
            payload_type=payload_type,
            ssrc=self._rng.getrandbits(32),
            first_sequence=self._rng.getrandbits(16),
            first_timestamp=self._rng.getrandbits(32),
            future=future,
        )
        with self._lock:
            if self._closed:
                raise RuntimeError("RtpPacer is closed")
            clock = self._clock or self._start()
            self._streams[future] = stream
            self._incoming.append(stream)
        clock.call_soon_threadsafe(self._admit)
        future.add_done_callback(self.stop)  # a cancelled future stops its stream
        return future

    def redirect(
        self, playback: asyncio.Future[PlaybackReport], remote: tuple[str, int] | None
    ) -> None:
        """Send the rest of a stream from `play` to `remote`, or hold it (`remote` None).

        Held, the stream keeps its clock: the packets that fall due are counted as held and
        not sent, and it ends when it would have. Sequence numbers continue across a move or
        a hold; the first packet after a hold carries the marker bit, as a new talkspurt.
        Nothing happens to a stream that has ended.
        """
        if remote is not None:
            check_remote(remote)
        with self._lock:
            stream = self._streams.get(playback)
            if stream is None:
                if playback.done():
                    return
                raise ValueError("not a stream of this RtpPacer")
            if stream.remote is None and remote is not None:
                stream.marker = True
            stream.remote = remote

    def stop(self, playback: asyncio.Future[PlaybackReport]) -> None:
        """End a stream from `play` now, cancelling its future if it has not resolved. Once
        this returns the pacer no longer touches the stream's socket: it may be closed."""
        with self._lock:
            stream = self._streams.pop(playback, None)
            if stream is not None:
                stream.ended = True
        playback.cancel()

    def close(self) -> None:
        """Stop every stream (their futures are cancelled) and the pacer's thread."""
        with self._lock:
            self._closed = True
            streams = list(self._streams.values())
            self._streams.clear()
            self._incoming.clear()
            for stream in streams:
                stream.ended = True
            clock, loop, thread = self._clock, self._thread_loop, self._thread
            self._thread = None  # a second close has no thread to stop
        for stream in streams:
            _call_on_loop_of(stream.future, stream.future.cancel)
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
        elif clock is not None and clock is self._given_clock:
            clock.call_soon_threadsafe(self._halt)

    def _start(self) -> PacerClock:
        """Start pacing on the given clock, or on a loop in a thread of its own (under
        `_lock`)."""
        if self._given_clock is not None:
            self._clock, self._epoch = self._given_clock, self._given_clock.time()
            return self._given_clock
        loop = asyncio.SelectorEventLoop()
        self._clock = self._thread_loop = loop
        self._epoch = loop.time()
        self._thread = threading.Thread(
            target=self._run, args=(loop,), name="voxcall-rtp-pacer", daemon=True
        )
        self._thread.start()
        return loop

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            loop.run_forever()
        finally:
            self._halt()
            loop.close()

    def _halt(self) -> None:
        """Stop the timer and forget the slots: nothing is sent any more."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for slot in self._slots:
            slot.clear()

    # -- the pacer thread ---------------------------------------------------------------------

    def _admit(self) -> None:
        """Give the streams played since the last call a slot and a first packet time."""
        assert self._clock is not None
        with self._lock:
            incoming, self._incoming = self._incoming, []
        now_tick = math.ceil((self._clock.time() - self._epoch) / self._tick_length)
        soonest = max(self._next_tick, now_tick)
        for stream in incoming:
            slot = self._choose_slot(soonest)
            stream.first_tick = soonest + (slot - soonest) % self._ticks
            self._slots[slot][stream] = None
            self._set_timer(stream.first_tick)

    def _choose_slot(self, soonest: int) -> int:
        """The slot for a new stream: the phases' own while their bursts are short (fewer
        timer wake-ups), then any; the least loaded, the soonest on a tie."""

        def load(slot: int) -> tuple[int, int]:
            return len(self._slots[slot]), (slot - soonest) % self._ticks

        best = min(range(0, self._ticks, self._split), key=load)
        if len(self._slots[best]) < BURST:
            return best
        return min(range(self._ticks), key=load)

    def _set_timer(self, tick: int) -> None:
        """Make sure the timer fires at `tick` or earlier."""
        if self._timer is not None:
            if self._timer_tick <= tick:
                return
            self._timer.cancel()
        assert self._clock is not None
        self._timer = self._clock.call_at(self._epoch + tick * self._tick_length, self._on_timer)
        self._timer_tick = tick

    def _on_timer(self) -> None:
        assert self._clock is not None
        self._timer = None
        now = self._clock.time()
        # The timer may fire a hair early (clock resolution) or late (a busy loop); late
        # ticks are served now, each slot once, every stream sending what is due by now.
        tick = max(self._timer_tick, math.floor((now - self._epoch) / self._tick_length))
        for late_tick in range(max(self._next_tick, tick - self._ticks + 1), tick + 1):
            slot = self._slots[late_tick % self._ticks]
            finished = []
            for stream in slot:
                # Per stream, so that stop() and redirect() never wait for a whole burst.
                with self._lock:
                    if self._send_due(stream, tick, now):
                        finished.append(stream)
            for stream in finished:
                del slot[stream]
        self._next_tick = tick + 1
        for next_tick in range(tick + 1, tick + 1 + self._ticks):
            if self._slots[next_tick % self._ticks]:
                self._set_timer(next_tick)
                break

    def _send_due(self, stream: _Stream, tick: int, now: float) -> bool:
        """Send the packets of `stream` that are due by `tick`; True once it has ended.
        Called with `_lock` held."""
        if stream.ended:  # stopped by its owner
            return True
        due = min((tick - stream.first_tick) // self._ticks + 1, stream.packets)
        backlog = due - stream.next_index
        if backlog <= 0:
            return False
        remote = stream.remote
        if remote is None:
            # On hold: what falls due is dropped unsent, so the voice's clock runs on.
            stream.held += backlog
            stream.next_index = due
        else:
            if backlog > self._max_backlog:
                # Catching up would only add delay behind the far end's jitter buffer.
                stream.skipped += backlog - 1
                stream.next_index = due - 1
            try:
                self._send_packets(stream, remote, due)
            except OSError as exc:
                self._end(stream, exc)
                return True
        if stream.next_index < stream.packets:
            return False
        started = self._epoch + stream.first_tick * self._tick_length
        duration = now - started + self._ptime
        self._end(stream, PlaybackReport(stream.sent, stream.skipped, duration, stream.held))
        return True

    def _end(self, stream: _Stream, result: PlaybackReport | OSError) -> None:
        """Forget a stream and resolve its future on its own loop (with `_lock` held)."""
        stream.ended = True
        del self._streams[stream.future]
        _call_on_loop_of(stream.future, _resolve, stream.future, result)

    def _send_packets(self, stream: _Stream, remote: tuple[str, int], due: int) -> None:
        """Send the packets of `stream` up to (not including) packet `due`."""
        size = self._packet_size
        while stream.next_index < due:
            index = stream.next_index
            header = pack_header(
                stream.payload_type,
                uint16_add(stream.first_sequence, stream.sent),
                uint32_add(stream.first_timestamp, index * size),
                stream.ssrc,
                marker=stream.marker,
            )
            try:
                stream.sock.sendto(
                    header + stream.payload[index * size : (index + 1) * size], remote
                )
            except BlockingIOError:
                stream.skipped += 1  # the send buffer is full: lose it, as a network would
            else:
                stream.sent += 1
                stream.marker = False
            stream.next_index += 1


def _resolve(future: asyncio.Future[PlaybackReport], result: PlaybackReport | OSError) -> None:
    if future.done():
        return  # cancelled meanwhile by its owner
    if isinstance(result, OSError):
        future.set_exception(result)
    else:
        future.set_result(result)


def _call_on_loop_of(
    future: asyncio.Future[PlaybackReport], callback: Callable[..., object], *args: object
) -> None:
    """Run `callback` now if we are on the future's loop, else soon on that loop."""
    loop = future.get_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        callback(*args)
        return
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:
        pass  # its loop is closed: nobody is waiting for the stream any more


def check_play(sock: socket.socket, remote: tuple[str, int], payload_type: int) -> int:
    """Refuse what `play` cannot send; returns the payload type's silence byte."""
    silence = silence_byte(payload_type)
    check_remote(remote)
    if sock.getblocking():
        raise ValueError("RTP socket must be non-blocking: a full send buffer would stall")
    return silence


def check_remote(remote: tuple[str, int]) -> None:
    # sendto() with a host name would resolve it, blocking the loop, on every packet.
    host, port = remote
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"RTP destination {host!r} is not an IP address") from None
    if not 0 < port < 65536:
        raise ValueError(f"RTP destination port {port} is not in 1-65535")
