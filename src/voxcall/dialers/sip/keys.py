"""The key-press listener: DTMF keys from the callee's RTP, as `MediaEvent`s of kind "key".

Keys come as RFC 4733 telephone-events, each press counted once (telephone_event.py), and
as tones in the audio (voxcall.audio.dtmf). A trunk that sends events may leave the tones
in the audio as well: the call counts such a press once (interaction.py). A callee that
sends telephone-events sends every key so: the tone detector, most of this listener's
cost, stops at the first event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from voxcall.audio.dtmf import DtmfDetector, feed_many
from voxcall.dialers.sip.inbound import MediaEvent, MediaListener
from voxcall.dialers.sip.telephone_event import KeyPressEvents, TelephoneEvent

KEY = "key"  # the kind of the events this listener sends
RFC4733 = "rfc4733"  # the carriers, in the events' detail
INBAND = "inband"


class KeyPressListener(MediaListener):
    def __init__(self) -> None:
        self._events = KeyPressEvents()
        self._tones = DtmfDetector()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> KeyPressListener:
        return cls()

    def audio(self, samples: npt.NDArray[np.int16], at: float) -> Sequence[MediaEvent]:
        return self.audio_of_many([self], [samples], [at])[0]

    @classmethod
    def audio_of_many(
        cls,
        listeners: Sequence[KeyPressListener],
        samples: Sequence[npt.NDArray[np.int16]],
        at: Sequence[float],
    ) -> list[Sequence[MediaEvent]]:
        keys = feed_many([listener._tones for listener in listeners], samples)
        return [
            [MediaEvent(KEY, key, when, INBAND) for key in found] if found else ()
            for when, found in zip(at, keys, strict=True)
        ]

    def telephone_event(
        self, event: TelephoneEvent, ssrc: int, timestamp: int, at: float
    ) -> Sequence[MediaEvent]:
        self.hears_audio = False  # a callee that sends events sends every key so
        key = self._events.packet(ssrc, timestamp, event)
        return () if key is None else (MediaEvent(KEY, key, at, RFC4733),)
