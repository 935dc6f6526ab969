"""Answering-machine detection in a SIP call (api.md §11 `machineDetection`).

`MachineListener` runs in the process that receives the callee's RTP: it feeds the decoded
audio to `voxcall.audio.amd.AnswerAnalysis` and sends what it learns as `MediaEvent`s, kind
"answered_by" (value "human", "machine" or "unknown", detail the reason) and, in `voicemail`
mode on a machine, "greeting_end" (value "beep", "silence" or "greeting too long").

`MachineDetectionFlow` runs in the call: it holds the message back until the decision in
`voicemail` and `humansOnly` modes, then starts it, waits for the end of a machine's
greeting (`voicemail`) or hangs up on a machine (`humansOnly`). In every mode the call is
not hung up before the decision: `hold_hang_up` keeps a hang-up after the message for it.
Audio that stops coming (a trunk that suppresses silence) must not hold a call for ever, so
timers on the call's clock bound the decision (`total_analysis_ms` and a second's slack, then
"unknown") and the greeting (`greeting_max_ms` and the same slack).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from voxcall.audio.amd import AmdSettings, AnswerAnalysis, Decision, GreetingEnd, feed_many
from voxcall.dialers.sip.inbound import MediaEvent, MediaListener
from voxcall.dialers.sip.timers import Timer
from voxcall.domain.interaction import AUDIO_SLACK, AnsweredBy, MachineDetection

log = logging.getLogger("voxcall.sip")

ANSWERED_BY = "answered_by"  # the kinds of the events MachineListener sends
GREETING_END = "greeting_end"


class MachineListener(MediaListener):
    """The analysis of one call's audio, in the receiving process."""

    def __init__(self, settings: AmdSettings, *, voicemail: bool) -> None:
        self._analysis = AnswerAnalysis(settings, wait_for_greeting_end=voicemail)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> MachineListener:
        thresholds = {k: v for k, v in settings.items() if k != "voicemail"}
        return cls(AmdSettings(**thresholds), voicemail=bool(settings.get("voicemail")))

    def audio(self, samples: npt.NDArray[np.int16], at: float) -> Sequence[MediaEvent]:
        return self.audio_of_many([self], [samples], [at])[0]

    @classmethod
    def audio_of_many(
        cls,
        listeners: Sequence[MachineListener],
        samples: Sequence[npt.NDArray[np.int16]],
        at: Sequence[float],
    ) -> list[Sequence[MediaEvent]]:
        learnt = feed_many([listener._analysis for listener in listeners], samples)
        events: list[Sequence[MediaEvent]] = []
        for listener, found, when in zip(listeners, learnt, at, strict=True):
            listener.hears_audio = not listener._analysis.done
            events.append([_event(item, when) for item in found])
        return events


def _event(found: Decision | GreetingEnd, at: float) -> MediaEvent:
    if isinstance(found, Decision):
        detail = f"{found.reason} ({found.at_ms} ms)"
        return MediaEvent(ANSWERED_BY, found.verdict.value, at, detail)
    return MediaEvent(GREETING_END, found.reason, at, f"{found.at_ms} ms")


def listener_settings(settings: AmdSettings, mode: MachineDetection) -> dict[str, Any]:
    """What the receiving process needs to build the call's MachineListener."""
    return {**dataclasses.asdict(settings), "voicemail": mode is MachineDetection.VOICEMAIL}


class MachineDetectionFlow:
    """What machine detection makes one answered call do.

    `start_message` starts the message; `hang_up(detail)` ends the call on a machine
    (`humansOnly`). Told of the answer (`answered`), of the listener's events (`event`) and
    of the end of the call (`close`).
    """

    def __init__(
        self,
        mode: MachineDetection,
        settings: AmdSettings,
        loop: asyncio.AbstractEventLoop,
        *,
        start_message: Callable[[], None],
        hang_up: Callable[[str], None],
        call_id: str = "",
    ) -> None:
        self.mode = mode
        self._call_id = call_id  # for the log
        self.answered_by: AnsweredBy | None = None
        self.reason = ""
        self._settings = settings
        self._start_message = start_message
        self._hang_up = hang_up
        self._answered = False
        self._answered_at = 0.0  # on the loop's clock
        self._loop = loop
        self._message_started = False
        self._held: Callable[[], None] | None = None  # a hang-up waiting for the decision
        self._closed = False
        self.decision_timer = Timer("machine detection", loop, self._decision_overdue)
        self.greeting_timer = Timer("machine greeting", loop, self._greeting_overdue)

    @property
    def listeners(self) -> dict[str, Any]:
        """What the call must listen for in the callee's RTP."""
        if self.mode is MachineDetection.OFF:
            return {}
        return {"amd": listener_settings(self._settings, self.mode)}

    @property
    def outcome(self) -> AnsweredBy | None:
        """What the attempt reports: None with detection off or no answer, unknown if the
        call ended before the decision."""
        if self.mode is MachineDetection.OFF or not self._answered:
            return None
        return self.answered_by or AnsweredBy.UNKNOWN

    @property
    def listening(self) -> bool:
        """Whether the callee's audio may still tell the flow something."""
        waits_for_greeting = self.greeting_timer.running
        return (self.deciding or waits_for_greeting) and not self._closed

    @property
    def deciding(self) -> bool:
        return self.mode is not MachineDetection.OFF and self.answered_by is None

    def answered(self) -> None:
        """The call is answered and listened to: start the message, or wait for who it is."""
        self._answered = True
        self._answered_at = self._loop.time()
        if self.mode in (MachineDetection.OFF, MachineDetection.DETECT):
            self._message()
        if self.mode is not MachineDetection.OFF:
            self.decision_timer.start(self._settings.total_analysis_ms / 1000 + AUDIO_SLACK)

    def event(self, event: MediaEvent) -> None:
        if self._closed:
            return
        if event.kind == ANSWERED_BY and self.answered_by is None:
            self._decided(AnsweredBy(event.value), event.detail)
        elif event.kind == GREETING_END:
            log.info("call %s: greeting ended: %s (%s)", self._call_id, event.value, event.detail)
            self.greeting_timer.cancel()
            self._message()

    def hold_hang_up(self, hang_up: Callable[[], None]) -> bool:
        """Keep a hang-up (the message has ended) until the decision; False when there is
        nothing to wait for and the caller should hang up now."""
        if not self.deciding or self._closed:
            return False
        self._held = hang_up
        return True

    def close(self) -> None:
        """The call has ended: nothing more happens."""
        self._closed = True
        self._held = None
        self.decision_timer.cancel()
        self.greeting_timer.cancel()

    def _decided(self, answered_by: AnsweredBy, reason: str) -> None:
        self.answered_by, self.reason = answered_by, reason
        self.decision_timer.cancel()
        log.info("call %s: answered by %s: %s", self._call_id, answered_by.value, reason)
        machine = answered_by is AnsweredBy.MACHINE
        if self.mode is MachineDetection.HUMANS_ONLY and machine:
            self.close()
            self._hang_up(f"machine ({reason})")
            return
        if self.mode is MachineDetection.VOICEMAIL and machine:
            # Bounded from the answer, as the analysis bounds it in audio (with the slack).
            since_answer = self._loop.time() - self._answered_at
            limit = self._settings.greeting_max_ms / 1000 + AUDIO_SLACK
            self.greeting_timer.start(max(limit - since_answer, 0.0))
        else:
            self._message()
        held, self._held = self._held, None
        if held is not None:
            held()

    def _decision_overdue(self) -> None:
        log.info("call %s: machine detection: no decision in time (no audio?)", self._call_id)
        self._decided(AnsweredBy.UNKNOWN, "no audio")

    def _greeting_overdue(self) -> None:
        log.info("call %s: machine greeting: no end heard in time", self._call_id)
        self._message()

    def _message(self) -> None:
        if not self._message_started and not self._closed:
            self._message_started = True
            self._start_message()
