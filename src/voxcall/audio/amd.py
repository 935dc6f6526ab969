"""Answering-machine detection: who answered, from the first seconds of the callee's audio.

The rules are those of Asterisk's `app_amd`, fed 20 ms frames of 8 kHz audio:

- silence longer than `initial_silence_ms` before any word: a machine (one that waits
  before its greeting, or a line that says nothing);
- more voice than `greeting_ms`, a word longer than `max_word_ms`, or more than `max_words`
  words: a machine reading its greeting;
- a word (at least `min_word_ms` of voice) followed by `after_greeting_silence_ms` of
  silence: a human, who said "hello?" and waits for an answer;
- nothing decided within `total_analysis_ms`: unknown.

A frame is voice when its level is `voice_over_noise_db` above the line's noise floor
(tracked from the quietest frames heard) and above `silence_threshold_dbfs`, so that
background noise is not taken for words. A beep heard before the decision also means a
machine.

For the `voicemail` mode the analysis goes on after a machine was found, until its greeting
is over: at the end of its beep (a narrow-band tone of `beep_low_hz` to `beep_high_hz`
lasting `beep_min_ms` to `beep_max_ms`), after `greeting_end_silence_ms` of silence, or
after `greeting_max_ms` since the answer, whichever comes first.

Everything here is pure: times are counted in audio fed, never read from a clock, so the
same audio always gives the same decision at the same moment.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from voxcall.domain.interaction import MAX_DECISION_MS, MAX_GREETING_MS

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
_FULL_SCALE_POWER = 32768.0**2
_FLOOR_DBFS = -90.0  # digital silence: the noise floor never goes lower
_FLOOR_RISE_DB = 0.05  # per frame (2.5 dB/s): the floor follows louder noise slowly
_BIN_HZ = SAMPLE_RATE / FRAME_SAMPLES  # 50 Hz per FFT bin of one frame
_TONE_HALF_WIDTH = 2  # bins on each side of the peak that a tone's energy falls into
_TONE_STEADY_HZ = 15.0  # how far a beep's frames may stray from its first frame's pitch
_WINDOW = np.hanning(FRAME_SAMPLES).astype(np.float32)

Samples = npt.NDArray[np.int16]


class Verdict(enum.Enum):
    """Who answered (the values are those of the API's `answeredBy`)."""

    HUMAN = "human"
    MACHINE = "machine"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class AmdSettings:
    """Every threshold of the detection; a dialer's options may change any of them."""

    initial_silence_ms: int = 2500
    greeting_ms: int = 1500
    after_greeting_silence_ms: int = 800
    total_analysis_ms: int = 5000
    min_word_ms: int = 100
    between_words_silence_ms: int = 50
    max_words: int = 5
    max_word_ms: int = 5000
    silence_threshold_dbfs: int = -50
    voice_over_noise_db: int = 10
    beep_low_hz: int = 400
    beep_high_hz: int = 2000
    beep_min_ms: int = 100
    beep_max_ms: int = 1500
    beep_purity_percent: int = 90  # of a frame's energy within 125 Hz of its peak
    greeting_end_silence_ms: int = 1500
    greeting_max_ms: int = 30000

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name == "silence_threshold_dbfs":
                if not -90 <= value <= 0:
                    raise ValueError(f"amd {field.name}: {value} is not -90 to 0")
            elif isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"amd {field.name}: {value!r} is not a positive whole number")
        if self.total_analysis_ms > MAX_DECISION_MS:
            raise ValueError(
                f"amd total_analysis_ms: at most {MAX_DECISION_MS} (the decision is bounded)"
            )
        if self.greeting_max_ms > MAX_GREETING_MS:
            raise ValueError(
                f"amd greeting_max_ms: at most {MAX_GREETING_MS} (what calls reserve counts on it)"
            )
        if not 0 < self.beep_low_hz < self.beep_high_hz < SAMPLE_RATE // 2:
            raise ValueError("amd beep_low_hz, beep_high_hz: need 0 < low < high < 4000")
        if self.beep_min_ms > self.beep_max_ms:
            raise ValueError("amd beep_min_ms: longer than beep_max_ms")
        if self.beep_purity_percent > 100:
            raise ValueError("amd beep_purity_percent: at most 100")


@dataclass(frozen=True, slots=True)
class Decision:
    """Who answered, why, and after how many milliseconds of audio."""

    verdict: Verdict
    reason: str  # e.g. "long greeting", "silence after greeting", "too long"
    at_ms: int


@dataclass(frozen=True, slots=True)
class GreetingEnd:
    """When a machine's greeting was over (`voicemail` mode: the message starts now)."""

    reason: str  # "beep", "silence" or "greeting too long"
    at_ms: int
    beep_hz: float | None = None


class VoiceActivity:
    """Voice or not, frame by frame, against a noise floor that follows the line."""

    def __init__(self, settings: AmdSettings) -> None:
        self._threshold = float(settings.silence_threshold_dbfs)
        self._margin = float(settings.voice_over_noise_db)
        self._floor: float | None = None

    def is_voice(self, level_dbfs: float) -> bool:
        floor = self._floor
        if floor is None or level_dbfs < floor:
            floor = max(level_dbfs, _FLOOR_DBFS)
        else:
            floor = min(floor + _FLOOR_RISE_DB, level_dbfs)
        self._floor = floor
        return level_dbfs >= max(self._threshold, floor + self._margin)


def level_dbfs(frame: npt.NDArray[np.float32]) -> float:
    """The frame's mean power relative to a full-scale square wave, in dB."""
    return levels_dbfs(frame[np.newaxis])[0]


def levels_dbfs(frames: npt.NDArray[np.float32]) -> list[float]:
    """`level_dbfs` of each frame of `frames` (shape (k, n))."""
    powers = np.einsum("ij,ij->i", frames, frames).tolist()
    length = frames.shape[1]
    return [10 * math.log10(max(power / length, 1e-9) / _FULL_SCALE_POWER) for power in powers]


@functools.lru_cache(maxsize=8)
def _band_basis(first: int, last: int) -> npt.NDArray[np.float32]:
    """The windowed cosines, then sines, of DFT bins `first` to `last` of a frame: built
    once per band (about 0.7 ms), shared by every call, never written to."""
    bins = np.arange(first, last + 1)
    angle = 2 * np.pi * np.outer(bins, np.arange(FRAME_SAMPLES)) / FRAME_SAMPLES
    basis = (np.vstack((np.cos(angle), np.sin(angle))) * _WINDOW).astype(np.float32)
    basis.setflags(write=False)
    return basis


class ToneFinder:
    """The one tone that holds a frame's energy, if there is one in the beep band.

    Only the DFT bins of the band (and the edges of a tone's window there) are computed,
    by one product with a basis that has the window folded in; the frame's whole spectral
    energy comes from its samples (Parseval). A tenth of the cost of a full FFT, since a
    call runs this on every frame with voice.
    """

    def __init__(self, settings: AmdSettings) -> None:
        half = _TONE_HALF_WIDTH
        self._low_hz, self._high_hz = settings.beep_low_hz, settings.beep_high_hz
        low = max(math.ceil(self._low_hz / _BIN_HZ), half + 1)
        high = min(math.floor(self._high_hz / _BIN_HZ), FRAME_SAMPLES // 2 - half - 1)
        self._first = low - half  # the bin of the basis's first row
        self._basis = _band_basis(self._first, high + half)
        self._rows = len(self._basis) // 2
        self._purity = settings.beep_purity_percent / 100
        self._offsets = np.arange(-half, half + 1, dtype=np.float32)
        self._band_columns = np.arange(2 * half + 1)
        # Finders with these give the same tones: one may find them for all (feed_many).
        self.alike = (self._low_hz, self._high_hz, self._purity)

    def __call__(self, frame: npt.NDArray[np.float32]) -> float | None:
        return self.of_frames(frame[np.newaxis])[0]

    def of_frames(self, frames: npt.NDArray[np.float32]) -> list[float | None]:
        """The tone of each frame of `frames` (shape (k, FRAME_SAMPLES)), in one pass."""
        half, rows = _TONE_HALF_WIDTH, self._rows
        spectrum = frames @ self._basis.T
        power = spectrum[:, :rows] ** 2 + spectrum[:, rows:] ** 2
        peaks = np.argmax(power[:, half : rows - half], axis=1)  # band is power[peak:][:2h+1]
        band = np.take_along_axis(power, peaks[:, np.newaxis] + self._band_columns, axis=1)
        windowed = frames * _WINDOW
        # Parseval: the energy of bins 1 to N/2 of the windowed frame (DC left in: small).
        totals = FRAME_SAMPLES * np.einsum("ij,ij->i", windowed, windowed) / 2
        found: list[float | None] = []
        for peak, in_band, weighted, total in zip(
            peaks.tolist(),
            band.sum(axis=1).tolist(),
            (band @ self._offsets).tolist(),
            totals.tolist(),
            strict=True,
        ):
            if total <= 0 or in_band < total * self._purity:
                found.append(None)
                continue
            # The energy-weighted centre of the band: within a few hertz for a steady tone.
            hz = (self._first + peak + half + weighted / in_band) * _BIN_HZ
            # The centre of a tone right on the band's edge may fall a few hertz outside it.
            inside = self._low_hz - _TONE_STEADY_HZ <= hz <= self._high_hz + _TONE_STEADY_HZ
            found.append(hz if inside else None)
        return found


class BeepDetector:
    """A steady tone of `beep_min_ms` to `beep_max_ms`, reported once it stops."""

    def __init__(self, settings: AmdSettings) -> None:
        self._settings = settings
        self._hz: float | None = None  # the tone of the run so far
        self._run_ms = 0

    def feed(self, frame_hz: float | None) -> float | None:
        """The next frame's tone (None: no tone); the beep's frequency when one just ended."""
        if (
            frame_hz is not None
            and self._hz is not None
            and abs(frame_hz - self._hz) <= _TONE_STEADY_HZ
        ):
            self._run_ms += FRAME_MS
            return None
        ended_hz, ended_ms = self._hz, self._run_ms
        self._hz, self._run_ms = frame_hz, (FRAME_MS if frame_hz is not None else 0)
        settings = self._settings
        if ended_hz is not None and settings.beep_min_ms <= ended_ms <= settings.beep_max_ms:
            return ended_hz
        return None


class MachineDetector:
    """app_amd's rules on a sequence of voice / silence frames."""

    def __init__(self, settings: AmdSettings) -> None:
        self._s = settings
        self._elapsed_ms = 0
        self._silence_ms = 0  # since the last word (or the answer)
        self._gap_ms = 0  # consecutive silent frames
        self._word_ms = 0  # consecutive voice frames
        self._voice_ms = 0  # all voice so far
        self._words = 0
        self._in_word = False
        self._spoken = False  # a whole word was heard

    def feed(self, voice: bool) -> Decision | None:
        s = self._s
        self._elapsed_ms += FRAME_MS
        if voice:
            self._gap_ms = 0
            self._word_ms += FRAME_MS
            self._voice_ms += FRAME_MS
            if self._word_ms >= s.min_word_ms:
                self._silence_ms = 0
                self._spoken = True
                if not self._in_word:
                    self._in_word = True
                    self._words += 1
            if self._word_ms > s.max_word_ms:
                return self._decide(Verdict.MACHINE, "max word length")
            if self._words > s.max_words:
                return self._decide(Verdict.MACHINE, "max words")
            if self._voice_ms > s.greeting_ms:
                return self._decide(Verdict.MACHINE, "long greeting")
        else:
            self._gap_ms += FRAME_MS
            self._silence_ms += FRAME_MS
            if self._gap_ms >= s.between_words_silence_ms:
                self._in_word = False
                self._word_ms = 0
            if self._spoken and self._silence_ms >= s.after_greeting_silence_ms:
                return self._decide(Verdict.HUMAN, "silence after greeting")
            if not self._spoken and self._silence_ms >= s.initial_silence_ms:
                return self._decide(Verdict.MACHINE, "initial silence")
        if self._elapsed_ms >= s.total_analysis_ms:
            return self._decide(Verdict.UNKNOWN, "too long")
        return None

    def _decide(self, verdict: Verdict, reason: str) -> Decision:
        return Decision(verdict, reason, self._elapsed_ms)


class AnswerAnalysis:
    """The callee's audio from the answer on: the decision, then (with
    `wait_for_greeting_end`, on a machine) the end of its greeting.

    `feed` takes audio in any slices (a packet of 20 or 30 ms) and returns what became known
    with it; `done` is True once nothing more is to be learnt.
    """

    def __init__(self, settings: AmdSettings, *, wait_for_greeting_end: bool = False) -> None:
        self._settings = settings
        self._wait = wait_for_greeting_end
        self._activity = VoiceActivity(settings)
        self._machine = MachineDetector(settings)
        self._beep = BeepDetector(settings)
        self._tone = ToneFinder(settings)
        self._pending = np.zeros(0, np.int16)
        self._elapsed_ms = 0
        self._silence_ms = 0
        self.decision: Decision | None = None
        self.greeting_end: GreetingEnd | None = None

    @property
    def done(self) -> bool:
        if self.decision is None:
            return False
        return not self._listens_for_greeting_end

    @property
    def _listens_for_greeting_end(self) -> bool:
        return (
            self._wait
            and self.decision is not None
            and self.decision.verdict is Verdict.MACHINE
            and self.greeting_end is None
        )

    def feed(self, pcm: Samples) -> list[Decision | GreetingEnd]:
        return feed_many([self], [pcm])[0]

    def _whole_frames(self, pcm: Samples) -> Samples:
        """What was pending and `pcm`, up to the last whole frame (the rest stays pending)."""
        if len(self._pending):
            pcm = np.concatenate((self._pending, pcm))
        whole = len(pcm) - len(pcm) % FRAME_SAMPLES
        self._pending = pcm[whole:]
        return pcm[:whole]

    def _frames(
        self, levels: list[float], tones: list[float | None]
    ) -> list[Decision | GreetingEnd]:
        events: list[Decision | GreetingEnd] = []
        for level, tone in zip(levels, tones, strict=True):
            events.extend(self._frame(level, tone))
            if self.done:
                break
        return events

    def _frame(self, level: float, tone: float | None) -> list[Decision | GreetingEnd]:
        """The next frame, of `level` dBFS, holding `tone` (ToneFinder)."""
        self._elapsed_ms += FRAME_MS
        voice = self._activity.is_voice(level)
        # A beep is loud: the spectrum of a silent frame need not be looked at.
        beep_hz = self._beep.feed(tone if voice else None)
        self._silence_ms = 0 if voice else self._silence_ms + FRAME_MS
        events: list[Decision | GreetingEnd] = []
        if self.decision is None:
            decision = self._machine.feed(voice)
            if beep_hz is not None and (decision is None or decision.verdict is Verdict.HUMAN):
                decision = Decision(Verdict.MACHINE, "beep", self._elapsed_ms)
            if decision is None:
                return events
            self.decision = decision
            events.append(decision)
        if self._listens_for_greeting_end:
            end = self._greeting_end(beep_hz)
            if end is not None:
                self.greeting_end = end
                events.append(end)
        return events

    def _greeting_end(self, beep_hz: float | None) -> GreetingEnd | None:
        settings = self._settings
        if beep_hz is not None:
            return GreetingEnd("beep", self._elapsed_ms, beep_hz)
        if self._silence_ms >= settings.greeting_end_silence_ms:
            return GreetingEnd("silence", self._elapsed_ms)
        if self._elapsed_ms >= settings.greeting_max_ms:
            return GreetingEnd("greeting too long", self._elapsed_ms)
        return None


def feed_many(
    analyses: Sequence[AnswerAnalysis], pieces: Sequence[Samples]
) -> list[list[Decision | GreetingEnd]]:
    """`AnswerAnalysis.feed` of many calls at once (analysis i fed pieces[i]): what each
    learnt. The frames of all calls whose tone finders are alike go through the level and
    tone passes together: numpy's cost per call, not the arithmetic, is most of the cost of
    a few frames. Each call's frames are then its own, in order (`_frame`)."""
    found: list[list[Decision | GreetingEnd]] = [[] for _ in analyses]
    groups: dict[tuple[object, ...], list[tuple[int, Samples]]] = {}
    for index, (analysis, pcm) in enumerate(zip(analyses, pieces, strict=True)):
        if not analysis.done:
            whole = analysis._whole_frames(pcm)
            if len(whole):
                groups.setdefault(analysis._tone.alike, []).append((index, whole))
    for members in groups.values():
        joined = np.concatenate([pcm for _, pcm in members])
        frames = joined.reshape(-1, FRAME_SAMPLES).astype(np.float32)
        levels = levels_dbfs(frames)
        tones = analyses[members[0][0]]._tone.of_frames(frames)
        start = 0
        for index, pcm in members:
            end = start + len(pcm) // FRAME_SAMPLES
            found[index] = analyses[index]._frames(levels[start:end], tones[start:end])
            start = end
    return found
