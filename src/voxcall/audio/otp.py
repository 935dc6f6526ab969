"""Spoken one-time codes: digits read one by one, repeated, after an optional prelude.

`otp_pcm("1234", "fa", repeat_count=2, prelude=pcm)` is, as 8 kHz mono s16le PCM:

    prelude, PRELUDE_GAP of silence (both only with a prelude),
    "1" DIGIT_GAP "2" DIGIT_GAP "3" DIGIT_GAP "4",
    REPEAT_GAP, the digits again, and so on, repeat_count times in all.

Each digit is a prompt synthesized once per (digit, language) with `tts.synthesize` and kept
for the life of the process; espeak-ng's silence at both ends is trimmed off (about 10-50 ms
before the word and 0.3 s of sentence pause after it), so the gaps alone space the digits.

Refused with TtsError (see voxcall.audio.tts): "language: must be one of fa, en",
"text: must be 1 to 8 digits", "repeatCount: must be between 1 and 5", and whatever
`synthesize` raises for a digit prompt. A prelude that is not whole 16-bit samples is a
programming error: ValueError.

Thread safety: the prompt cache is filled under a lock, so concurrent calls run espeak-ng
once per prompt and get the same bytes. Once the prompts are cached a code takes well under a
millisecond to build.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from voxcall.audio import tts
from voxcall.audio.decode import SAMPLE_RATE, SILENCE_PEAK

# The words spoken for 0..9. "نه" alone is read "na" (no) by espeak-ng; with the damma it is
# "noh" (nine).
DIGIT_WORDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "fa": ("صفر", "یک", "دو", "سه", "چهار", "پنج", "شش", "هفت", "هشت", "نُه"),
        "en": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    }
)
MAX_DIGITS = 8
MAX_REPEAT = 5
DIGIT_GAP = 0.25  # seconds between digits
REPEAT_GAP = 0.8  # seconds between repetitions of the code
PRELUDE_GAP = 0.5  # seconds between the prelude and the code

_prompts: dict[tuple[str, str], bytes] = {}
_prompts_lock = threading.Lock()


def otp_pcm(
    code: str, language: str = "fa", *, repeat_count: int = 2, prelude: bytes | None = None
) -> bytes:
    """`code` read digit by digit `repeat_count` times after `prelude`, as 8 kHz s16le PCM."""
    tts.voice(language)
    if not (1 <= len(code) <= MAX_DIGITS and code.isascii() and code.isdigit()):
        raise tts.TtsError(f"text: must be 1 to {MAX_DIGITS} digits")
    if not 1 <= repeat_count <= MAX_REPEAT:
        raise tts.TtsError(f"repeatCount: must be between 1 and {MAX_REPEAT}")
    if prelude is not None and len(prelude) % 2:
        raise ValueError(f"prelude: odd length {len(prelude)}, not whole 16-bit samples")
    spoken = _silence(DIGIT_GAP).join(digit_prompt(digit, language) for digit in code)
    body = _silence(REPEAT_GAP).join([spoken] * repeat_count)
    if prelude:
        return prelude + _silence(PRELUDE_GAP) + body
    return body


def digit_prompt(digit: str, language: str = "fa") -> bytes:
    """The cached, trimmed 8 kHz s16le PCM of one digit ("0".."9") spoken in `language`."""
    tts.voice(language)
    if len(digit) != 1 or digit not in "0123456789":
        raise tts.TtsError("digit: must be one of 0 to 9")
    key = (digit, language)
    # One lock for all prompts: twenty of them, each synthesized once in ~20 ms, so nothing
    # is gained by letting two syntheses run at once.
    with _prompts_lock:
        pcm = _prompts.get(key)
        if pcm is None:
            pcm = _trim(tts.synthesize(DIGIT_WORDS[language][int(digit)], language))
            _prompts[key] = pcm
    return pcm


def _trim(pcm: bytes) -> bytes:
    """`pcm` without its near-silent (-60 dBFS and below) start and end."""
    samples = np.frombuffer(pcm, dtype="<i2")
    # synthesize refuses silence, so at least one sample is louder.
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > SILENCE_PEAK)
    return samples[loud[0] : loud[-1] + 1].tobytes()


def _silence(seconds: float) -> bytes:
    return bytes(2 * round(seconds * SAMPLE_RATE))
