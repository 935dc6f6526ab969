"""The sandbox trunk: a provider's test credentials, with no telephone network behind it.

It rings about 2 s, answers and "plays" the whole voice, except by the last four digits of
the national number:

    0001  busy                       0004  answered, the callee hangs up after 1 s
    0002  rings until the ring timeout 0005  busy on the first attempt, answered later
    0003  the trunk rejects it         0008  a voicemail: a long greeting, then a beep
    0006  presses 1 a second into the message
    0007  presses * a second into the message, then 2 a second later

Keys count only for a call with `gather` (api.md §11), as they would in a SIP call: a key
stops the message, the repeat key restarts it, and the call waits for more keys until
`max_digits`, the finish key or the timeout.

With machine detection on (`DialRequest.machine_detection`), 0008 is found to be a machine
MACHINE_DECISION s after the answer, and its greeting ends with a beep GREETING_END s after
the answer; any other number that answers is a person who says a short "hello", found to be
human HUMAN_DECISION s after the answer. Each mode then acts as a SIP call would: `detect`
plays at once, `voicemail` after the beep (a person: after the decision), `humansOnly` hangs
up on the machine (NO_ANSWER, billed for its seconds) or plays to the person after the
decision; the call is not hung up before the decision.

`speed` makes every wait N times shorter; reported times and billSec stay at real scale.
`cdr_file`, when set, receives one JSON line as each attempt starts and ends: the call detail
records a provider keeps, appended atomically so that several processes can share the file.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time

from voxcall.dialers.base import AttemptOutcome, AttemptResult, DialRequest
from voxcall.domain.interaction import AnsweredBy, Gather, MachineDetection

RING_SECONDS = 2.0
CALLEE_HANGUP_SECONDS = 1.0
REJECT_SECONDS = 0.1
MACHINE_DECISION = 1.9  # 0.3 s before the greeting, then 1.5 s of it and a frame
GREETING_END = 7.5  # a 6.5 s greeting, 0.4 s of pause, a 0.6 s beep
HUMAN_DECISION = 1.7  # "hello" after 0.5 s, 0.4 s long, then 0.8 s of silence
# The keys the callee presses, by scenario: (seconds after the message starts, key).
PRESSES = {"0006": ((1.0, "1"),), "0007": ((1.0, "*"), (2.0, "2"))}


class SandboxDialer:
    def __init__(
        self,
        *,
        speed: float = 1.0,
        cdr_file: str | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed: must be positive")
        self.speed = speed
        self.cdr_file = cdr_file
        self._cdr: int | None = None

    async def start(self) -> None:
        if self.cdr_file:
            self._cdr = os.open(self.cdr_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    async def close(self) -> None:
        if self._cdr is not None:
            os.close(self._cdr)
            self._cdr = None

    def _record(self, request: DialRequest, event: str) -> None:
        if self._cdr is not None:
            line = {
                "attempt": request.attempt_id,
                "event": event,
                "t": time.time(),
                "pid": os.getpid(),
            }
            os.write(self._cdr, (json.dumps(line) + "\n").encode())  # one write: atomic append

    async def dial(self, request: DialRequest) -> AttemptOutcome:
        self._record(request, "start")
        try:
            return await self._dial(request)
        finally:
            self._record(request, "end")

    async def _wait(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.speed)

    async def _dial(self, request: DialRequest) -> AttemptOutcome:
        started = time.time()
        scenario = request.national_number[-4:]
        if scenario == "0005":
            scenario = "0001" if request.attempt_number == 1 else ""

        if scenario == "0001":
            await self._wait(RING_SECONDS)
            return AttemptOutcome(
                AttemptResult.BUSY, started, started + RING_SECONDS, cause="486 Busy Here"
            )
        if scenario == "0002":
            await self._wait(request.ring_timeout)
            return AttemptOutcome(
                AttemptResult.NO_ANSWER,
                started,
                started + request.ring_timeout,
                cause="ring timeout",
            )
        if scenario == "0003":
            await self._wait(REJECT_SECONDS)
            return AttemptOutcome(
                AttemptResult.ERROR,
                started,
                started + REJECT_SECONDS,
                cause="403 Forbidden",
            )

        await self._wait(RING_SECONDS)
        answered = started + RING_SECONDS
        mode = request.machine_detection
        answered_by = _who_answers(scenario, mode)
        result = AttemptResult.ANSWERED
        digits = ""
        if scenario == "0004":
            talk, cause = CALLEE_HANGUP_SECONDS, "callee hung up"
            if answered_by is not None:
                answered_by = AnsweredBy.UNKNOWN  # gone before the decision
        elif answered_by is None:
            talk, cause, digits = _message(request, scenario)
        else:
            decided = MACHINE_DECISION if answered_by is AnsweredBy.MACHINE else HUMAN_DECISION
            if answered_by is AnsweredBy.MACHINE and mode is MachineDetection.HUMANS_ONLY:
                result, talk, cause = AttemptResult.NO_ANSWER, decided, "machine (long greeting)"
            else:
                # Not hung up before the decision, even after a shorter message.
                message, cause, digits = _message(request, scenario)
                talk = max(_message_start(answered_by, mode) + message, decided)
        await self._wait(talk)
        return AttemptOutcome(
            result,
            started,
            answered + talk,
            answered_at=answered,
            bill_sec=math.ceil(talk),
            cause=cause,
            digits=digits,
            answered_by=answered_by,
        )


def _message(request: DialRequest, scenario: str) -> tuple[float, str, str]:
    """Seconds from the start of the message to the hang-up, why, and the digits."""
    if request.gather is None:
        return request.voice.duration, "voice played", ""
    return gathered(request.voice.duration, request.gather, PRESSES.get(scenario, ()))


def gathered(
    message: float, gather: Gather, presses: tuple[tuple[float, str], ...]
) -> tuple[float, str, str]:
    """How a call with `gather` goes when the callee presses keys at the given seconds
    after the message starts: seconds to the hang-up, why, and the digits."""
    wait_until = message + gather.timeout  # the hang-up, unless a key comes first
    digits, repeats = "", 0
    for at, key in presses:
        if at >= wait_until:
            break
        if key == gather.repeat_key:
            if repeats < Gather.MAX_REPEATS:
                repeats += 1
                wait_until = at + message + gather.timeout
            continue
        if key == gather.finish_on_key:
            return at, "finish key", digits
        digits += key
        if len(digits) >= gather.max_digits:
            return at, "max digits", digits
        wait_until = at + gather.timeout
    return wait_until, "gather timeout", digits


def _who_answers(scenario: str, mode: MachineDetection) -> AnsweredBy | None:
    if mode is MachineDetection.OFF:
        return None
    return AnsweredBy.MACHINE if scenario == "0008" else AnsweredBy.HUMAN


def _message_start(answered_by: AnsweredBy, mode: MachineDetection) -> float:
    """Seconds from the answer to the message, as a SIP call with detection would play it."""
    if mode is MachineDetection.DETECT:
        return 0.0
    if answered_by is AnsweredBy.MACHINE:  # voicemail: after the beep
        return GREETING_END
    return HUMAN_DECISION
