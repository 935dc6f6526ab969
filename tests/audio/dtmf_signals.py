"""Signals for the in-band DTMF tests: key tones as Q.24 describes them, music-like sound
that must not pass for keys, and the G.711 round trip a call puts them through."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from voxcall.audio.dtmf import COLUMNS, KEYPAD, ROWS
from voxcall.dialers.sip.g711 import pcm_to_alaw, pcm_to_ulaw

RATE = 8000
Samples = npt.NDArray[np.int16]
DBM0 = 32768 * 10 ** (-3.14 / 20)  # the amplitude of a 0 dBm0 sine (3.14 dBm0: full scale)


def frequencies(key: str) -> tuple[float, float]:
    row = next(i for i, keys in enumerate(KEYPAD) if key in keys)
    return ROWS[row], COLUMNS[KEYPAD[row].index(key)]


def key_tone(
    key: str,
    ms: float,
    *,
    level: float = -10.0,
    twist: float = 0.0,
    offset: float = 0.0,
    rng: np.random.Generator | None = None,
) -> npt.NDArray[np.float64]:
    """The two tones of `key` for `ms`: the row tone at `level` dBm0, the column tone
    `twist` dB above it, both `offset` (a fraction) off their frequency, random phases."""
    rng = rng or np.random.default_rng(0)
    low, high = frequencies(key)
    t = np.arange(round(ms * RATE / 1000)) / RATE
    amplitude = DBM0 * 10 ** (level / 20)
    phases = rng.uniform(0, 2 * np.pi, 2)
    return amplitude * (
        np.sin(2 * np.pi * low * (1 + offset) * t + phases[0])
        + 10 ** (twist / 20) * np.sin(2 * np.pi * high * (1 + offset) * t + phases[1])
    )


def pause(ms: float) -> npt.NDArray[np.float64]:
    return np.zeros(round(ms * RATE / 1000))


def music(seconds: float, seed: int) -> npt.NDArray[np.float64]:
    """Chords of two to four notes, each with its harmonics, under envelopes and a little
    noise: the tones a DTMF detector must not take for keys."""
    rng = np.random.default_rng(seed)
    pieces = []
    total = 0.0
    while total < seconds:
        length = rng.uniform(0.1, 0.6)
        t = np.arange(round(length * RATE)) / RATE
        chord = np.zeros(len(t))
        for note in rng.choice(np.arange(48, 90), size=rng.integers(2, 5), replace=False):
            pitch = 440 * 2 ** ((note - 69) / 12)
            for harmonic in range(1, 5):
                if pitch * harmonic < RATE / 2 - 200:
                    phase = rng.uniform(0, 2 * np.pi)
                    chord += 0.6 ** (harmonic - 1) * np.sin(
                        2 * np.pi * pitch * harmonic * t + phase
                    )
        envelope = np.minimum(1, np.minimum(t / 0.01, (length - t) / 0.05 + 0.2))
        chord *= envelope * np.exp(-t * rng.uniform(0, 4))
        chord += rng.normal(0, 0.05, len(t))
        pieces.append(chord / np.abs(chord).max() * rng.uniform(3000, 20000))
        total += length
    return np.concatenate(pieces)


def dyads(seconds: float, seed: int) -> npt.NDArray[np.float64]:
    """Two notes at once, one from each DTMF group's range, with weak harmonics: the
    music nearest to a key."""
    rng = np.random.default_rng(seed)
    pieces = []
    total = 0.0
    while total < seconds:
        length = rng.uniform(0.1, 0.5)
        t = np.arange(round(length * RATE)) / RATE
        low = 440 * 2 ** ((rng.integers(64, 72) - 69) / 12)  # 659 to 1047 Hz
        high = 440 * 2 ** ((rng.integers(74, 80) - 69) / 12)  # 1175 to 1568 Hz
        pieces.append(
            8000
            * (
                np.sin(2 * np.pi * low * t)
                + np.sin(2 * np.pi * high * t)
                + 0.3 * np.sin(4 * np.pi * low * t)
                + 0.3 * np.sin(4 * np.pi * high * t)
            )
        )
        total += length
    return np.concatenate(pieces)


def g711(signal: npt.NDArray[np.floating] | Samples, law: str = "PCMU") -> bytes:
    """`signal` clipped to 16 bits and encoded as a call would carry it."""
    pcm = np.clip(np.round(signal), -32768, 32767).astype("<i2").tobytes()
    return pcm_to_ulaw(pcm) if law == "PCMU" else pcm_to_alaw(pcm)
