"""One call's RTP: its port, the message it sends (through the pacer) and what it hears
(through the receiver's listeners).

The message is encoded once, at answer, and may be played more than once (a repeat key)
or stopped early (a barge-in). Where it goes follows the far end: a re-INVITE may move the
media or hold the call, and a message played again goes where the last one was going.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

from voxcall.dialers.sip.g711 import pcm_to_alaw, pcm_to_ulaw
from voxcall.dialers.sip.inbound import InboundFormat, MediaEvent
from voxcall.dialers.sip.listeners import ListenerSpec, Receiver
from voxcall.dialers.sip.media import Pacer, PlaybackReport, RtpPortPool
from voxcall.dialers.sip.sdp import PCMA, PCMU, Codec, MediaTarget

log = logging.getLogger("voxcall.sip")


def encode(pcm: bytes, codec: Codec) -> bytes:
    """The whole voice in the negotiated G.711 law, encoded once per call."""
    if codec.name == PCMU.name:
        return pcm_to_ulaw(pcm)
    if codec.name == PCMA.name:
        return pcm_to_alaw(pcm)
    raise ValueError(f"cannot encode {codec.name}: only PCMU and PCMA")


class CallMedia:
    """From `open` (a port for the offer) to `close` (everything stopped, the port freed)."""

    def __init__(
        self, pacer: Pacer, ports: RtpPortPool, receiver: Receiver | None, call_id: str
    ) -> None:
        self._call_id = call_id  # for the log
        self._pacer = pacer
        self._ports = ports
        self._receiver = receiver
        self._sock: socket.socket | None = None
        self.target: MediaTarget | None = None  # what the answer (or a re-offer) decided
        self._destination: tuple[str, int] | None = None  # None: the far end holds the call
        self._payload = b""
        self._on_played: Callable[[asyncio.Future[PlaybackReport]], None] | None = None
        self._playback: asyncio.Future[PlaybackReport] | None = None
        self._listening: int | None = None

    def open(self) -> int:
        """Bind a port from the pool and return it. OSError or RuntimeError if none is free."""
        self._sock = self._ports.open()
        return int(self._sock.getsockname()[1])

    @property
    def port(self) -> int | None:
        return None if self._sock is None else int(self._sock.getsockname()[1])

    @property
    def ip_version(self) -> int:
        assert self._sock is not None
        return 6 if self._sock.family == socket.AF_INET6 else 4

    def connect(
        self,
        target: MediaTarget,
        payload: bytes,
        on_played: Callable[[asyncio.Future[PlaybackReport]], None],
    ) -> None:
        """The answer's media: the message (encoded in `target`'s codec) is ready to play;
        `on_played` is told when a playing ends by itself (completed, or an RTP error)."""
        self.target = target
        self._destination = target.destination
        self._payload = payload
        self._on_played = on_played

    def play(self) -> None:
        """Play the message from its start, stopping what plays."""
        assert self._sock is not None and self.target is not None and self._on_played
        self.stop_playing()
        destination = self._destination or (self.target.address, self.target.port)
        self._playback = self._pacer.play(
            self._sock, destination, self._payload, self.target.codec.payload_type
        )
        if self._destination is None:
            self._pacer.redirect(self._playback, None)  # held: its clock runs, unheard
        self._playback.add_done_callback(self._on_played)

    def stop_playing(self) -> None:
        if self._playback is not None:
            self._pacer.stop(self._playback)  # cancelled: on_played ignores it
            self._playback = None

    def follow(self, target: MediaTarget) -> None:
        """Send the rest of the message where a re-INVITE moved the far end's media, or
        nothing while it holds the call. The message's clock runs on through a hold: the
        call still ends when it would have, and what fell in the hold is not heard."""
        self._destination = target.destination
        if self._playback is None or self._playback.done():
            return  # nothing playing (yet, or any more)
        if self._destination is None:
            log.info("call %s: on hold (%s)", self._call_id, target.direction)
        else:
            log.info("call %s: sending RTP to %s:%d", self._call_id, *self._destination)
        self._pacer.redirect(self._playback, self._destination)

    def listen(self, listeners: ListenerSpec, on_event: Callable[[MediaEvent], None]) -> None:
        """Run `listeners` over the callee's RTP until `close`."""
        if not listeners or self._receiver is None:
            return
        assert self._sock is not None and self.target is not None
        codec = self.target.codec
        media_format = InboundFormat(codec.name, codec.payload_type, self.target.event_payload_type)
        self._listening = self._receiver.listen(self._sock, media_format, listeners, on_event)

    def unlisten(self) -> None:
        """Stop hearing the callee (the listeners have learnt what they were for)."""
        if self._listening is not None and self._receiver is not None:
            self._receiver.unlisten(self._listening)
            self._listening = None

    def close(self) -> None:
        self.stop_playing()
        self.unlisten()
        self._payload = b""
        if self._sock is not None:
            self._ports.release(self._sock)
            self._sock = None
