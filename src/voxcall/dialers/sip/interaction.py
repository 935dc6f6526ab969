"""What happens between the answer and the hang-up of a call: the message, and the keys the
callee presses (api.md §11 `gather`).

`Interaction` decides; the call acts. It is told of the answer, the end of the message and
each key, and answers through `CallControl`: play the message (again), stop it, hang up.

Gather: keys pressed while the message plays count, and the first one stops the message
(barge-in), except the repeat key, which plays it again from the start (at most
Gather.MAX_REPEATS times; after that it is ignored). The finish key ends the call and is not
one of the digits. After the message (or a barge-in) the call stays up until `max_digits`
keys, the finish key, or `timeout` seconds without a key; each key starts the timeout again.

One press may reach us over two carriers at once (a trunk that sends RFC 4733 events and
leaves the tones in the audio, or sends SIP INFO as well): the same key from another carrier
within DUPLICATE_WINDOW seconds of the key before it is that same press, and counted once.
Two presses of one key over the same carrier always count twice: each carrier tells its
presses apart by itself (a new RTP timestamp, a new INFO, a pause between tones).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from voxcall.dialers.sip.listeners import ListenerSpec
from voxcall.dialers.sip.timers import Timer
from voxcall.domain.interaction import Gather

log = logging.getLogger("voxcall.sip")

DUPLICATE_WINDOW = 0.5  # seconds: longer than a press (Q.24: tones of 40 ms and more) and
# the lag between carriers (an INFO sent at the key's release, the tone detector's 40 ms)


class CallControl(Protocol):
    """What the interaction asks of its call."""

    def play_message(self) -> None:
        """Play the message from its start (stopping what plays)."""

    def stop_message(self) -> None:
        """Stop the message; the call stays up."""

    def end_call(self, detail: str) -> None:
        """Hang up, `detail` saying why ("voice played", "finish key", ...)."""


class Interaction:
    """One answered call's message and key presses."""

    def __init__(
        self, gather: Gather | None, control: CallControl, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.gather = gather
        self.digits = ""
        self._control = control
        self._playing = False
        self._repeats = 0
        self._ended = False
        self._last_key: tuple[str, str, float] | None = None  # key, carrier, time
        self.timeout = Timer("gather timeout", loop, self._timed_out)

    @property
    def listeners(self) -> ListenerSpec:
        """What the call must listen for in the callee's RTP."""
        return {"keys": {}} if self.gather is not None else {}

    def answered(self) -> None:
        self._play()

    def message_ended(self) -> None:
        """The whole message (with its tail of silence) has been sent."""
        self._playing = False
        if self._ended:
            return
        if self.gather is None:
            self._end("voice played")
        else:
            self.timeout.start(self.gather.timeout)

    def key(self, key: str, carrier: str, at: float) -> None:
        """The callee pressed `key`; `carrier` is how it came ("rfc4733", "info", "inband"),
        `at` when it arrived (seconds, on a monotonic clock)."""
        gather = self.gather
        if gather is None or self._ended or self._is_duplicate(key, carrier, at):
            return
        if key == gather.repeat_key:
            if self._repeats < Gather.MAX_REPEATS:
                self._repeats += 1
                self.timeout.cancel()
                self._play()
            return
        if key == gather.finish_on_key:
            self._end("finish key")
            return
        self.digits += key
        if self._playing:
            self._playing = False
            self._control.stop_message()
        if len(self.digits) >= gather.max_digits:
            self._end("max digits")
        else:
            self.timeout.start(gather.timeout)

    def close(self) -> None:
        """The call has ended, whoever ended it: nothing more happens."""
        self._ended = True
        self.timeout.cancel()

    def _is_duplicate(self, key: str, carrier: str, now: float) -> bool:
        last, self._last_key = self._last_key, (key, carrier, now)
        if last is None:
            return False
        last_key, last_carrier, last_at = last
        duplicate = last_key == key and last_carrier != carrier and now - last_at < DUPLICATE_WINDOW
        if duplicate:
            self._last_key = last  # the window runs from the press's first report
            log.debug("key %s over %s is the press already had over %s", key, carrier, last_carrier)
        return duplicate

    def _play(self) -> None:
        self._playing = True
        self._control.play_message()

    def _timed_out(self) -> None:
        self._end("gather timeout")

    def _end(self, detail: str) -> None:
        if not self._ended:
            self.close()
            self._control.end_call(detail)
