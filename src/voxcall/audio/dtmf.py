"""In-band DTMF: key presses found in 8 kHz audio by Goertzel filters, with the checks of
ITU-T Q.24 that keep speech and music from passing for a key.

The audio is cut into blocks of BLOCK samples (12.75 ms). In each block the energy at the
eight DTMF frequencies is Goertzel's (the DFT at one frequency; computed for all eight at
once as one product with a precomputed cosine and sine basis, which gives the same value
as the recurrence with far fewer Python steps). A block holds a key when

- the strongest row and the strongest column tone are each at least `min_level` dBm0;
- twist: the column tone is at most `normal_twist` dB below the row tone, and at most
  `reverse_twist` dB above it (Q.24: 8 and 4 dB in most networks);
- each is `relative_peak` dB above every other tone of its group, and
- the two tones hold at least `min_tone_share` of the block's energy (speech and music
  spread theirs over many frequencies and harmonics).

Blocks overlap (a new one every HOP samples), so a tone's length is measured to 4.25 ms.
A key is reported once it has held for `min_blocks` blocks in a row (6: tones of 40 ms and
longer always pass, tones of 25 ms and shorter never do), and the same key again only
after `min_pause_blocks` blocks without it (6: a pause of 20 ms or more separates two
presses, an interruption of 10 ms does not).

Frequency tolerance comes from the filters' response with the share check: a tone off its
frequency leaves part of its energy outside the filter. Tones within Q.24's ±1.5 % pass,
tones 3.5 % off do not (tests/audio/test_dtmf.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 8000
BLOCK = 102  # samples per analysis block: 12.75 ms, filters about 80 Hz wide
HOP = 34  # samples from one block to the next
ROWS = (697.0, 770.0, 852.0, 941.0)
COLUMNS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYPAD = ("123A", "456B", "789C", "*0#D")  # KEYPAD[row][column]

# A 0 dBm0 sine in 16-bit linear G.711 has this amplitude (3.14 dBm0 is full scale).
_DBM0_AMPLITUDE = 32768 * 10 ** (-3.14 / 20)


def _basis() -> npt.NDArray[np.float64]:
    """(BLOCK, 16): cos and sin of each DTMF frequency over one block."""
    n = np.arange(BLOCK)
    angles = 2 * np.pi * np.outer(n, np.array(ROWS + COLUMNS)) / SAMPLE_RATE
    return np.concatenate([np.cos(angles), np.sin(angles)], axis=1)


_BASIS = _basis()
_BASIS.setflags(write=False)
MAX_FEED = 8000  # samples `DtmfDetector.feed` takes at once: a second
# Samples `feed` gathers before it analyses them: four packets of 20 ms. A key is reported
# up to 80 ms later, and numpy's cost per call is paid a quarter as often: 6 to 7 µs of CPU
# a packet of speech or noise instead of 100 block by block, under 2 µs for silence.
BATCH = 640
# The blocks of what `feed` analyses, as indexes into it (up to MAX_FEED + BATCH samples).
_WINDOWS = np.arange(BLOCK) + HOP * np.arange((MAX_FEED + BATCH) // HOP)[:, np.newaxis]
_WINDOWS.setflags(write=False)


@dataclass(frozen=True, slots=True)
class DtmfChecks:
    """The thresholds of a block that holds a key, and of a press (module docstring)."""

    min_level: float = -33.0  # dBm0, each of the two tones (Q.24 operates down to -30)
    normal_twist: float = 8.0  # dB the column tone may be weaker than the row tone
    reverse_twist: float = 4.0  # dB the column tone may be stronger than the row tone
    relative_peak: float = 8.0  # dB above the other tones of its group
    min_tone_share: float = 0.8  # of the block's energy in the two tones
    min_blocks: int = 6
    min_pause_blocks: int = 6


def block_keys(blocks: npt.NDArray[np.float64], checks: DtmfChecks) -> list[str | None]:
    """The key each block of `blocks` (shape (k, BLOCK)) holds, or None."""
    product = blocks @ _BASIS  # the DFT at each frequency: real, minus imaginary part
    power = product[:, :8] ** 2 + product[:, 8:] ** 2  # (k, 8): |X|², rows then columns
    rows, columns = power[:, :4], power[:, 4:]
    best = power.reshape(-1, 2, 4).max(axis=2)  # (k, 2): the strongest row and column tone
    row_power, column_power = best[:, 0], best[:, 1]
    # A sine's |X|² * 2 / BLOCK is its energy over the block: the tones' share of it.
    total = (blocks * blocks).sum(axis=1)
    # Level and share first: speech, music and silence fail them in every block, and
    # nothing more is computed for them (most of what a call hears).
    likely = (best.sum(axis=1) * (2 / BLOCK) >= checks.min_tone_share * total) & (
        best.min(axis=1) >= _min_power(checks.min_level)
    )
    if not likely.any():
        return [None] * len(blocks)
    twist = row_power / np.maximum(column_power, 1e-12)  # as a power ratio
    peak = 10 ** (checks.relative_peak / 10)
    ok = (
        likely
        & (twist <= 10 ** (checks.normal_twist / 10))
        & (twist >= 10 ** (-checks.reverse_twist / 10))
        & (np.sort(rows, axis=1)[:, -2] * peak <= row_power)  # the runner-up of its group
        & (np.sort(columns, axis=1)[:, -2] * peak <= column_power)
    )
    best_row, best_column = rows.argmax(axis=1), columns.argmax(axis=1)
    return [
        KEYPAD[row][column] if hit else None
        for hit, row, column in zip(
            ok.tolist(), best_row.tolist(), best_column.tolist(), strict=True
        )
    ]


def _min_power(level: float) -> float:
    """|X|² of a sine at `level` dBm0 over one block (its amplitude is 2 |X| / BLOCK)."""
    return float((_DBM0_AMPLITUDE * 10 ** (level / 20) * BLOCK / 2) ** 2)


class DtmfDetector:
    """Key presses in one stream of 8 kHz audio, fed in pieces of any length."""

    def __init__(self, checks: DtmfChecks | None = None) -> None:
        self.checks = checks or DtmfChecks()
        # Two sines at the minimum level, over one block.
        self._min_energy = 2 * _min_power(self.checks.min_level) * 2 / BLOCK
        self._pending = np.zeros(0, dtype=np.float64)  # samples short of a whole block
        self._candidate: str | None = None  # the key of the last blocks
        self._run = 0  # blocks in a row that held it
        self._pressed: str | None = None  # the key reported and not yet released
        self._gap = 0  # blocks in a row without the pressed key

    def feed(self, samples: npt.NDArray[np.int16]) -> list[str]:
        """The keys that `samples` (following the ones fed before) complete."""
        if len(samples) > MAX_FEED:
            raise ValueError(f"at most {MAX_FEED} samples at a time, got {len(samples)}")
        audio = np.concatenate([self._pending, samples.astype(np.float64)])
        if len(audio) < BATCH:
            self._pending = audio
            return []
        count = (len(audio) - BLOCK) // HOP + 1
        self._pending = audio[count * HOP :]
        # Silence (most of what a call hears) cannot hold two tones at the minimum level.
        audible = float(audio @ audio) >= self._min_energy
        keys = block_keys(audio[_WINDOWS[:count]], self.checks) if audible else []
        if not any(keys):
            self._quiet(count)
            return []
        return [found for key in keys if (found := self._block(key)) is not None]

    def _quiet(self, blocks: int) -> None:
        """`blocks` blocks without a key: what `_block(None)` would do to each."""
        self._candidate, self._run = None, 0
        if self._pressed is not None:
            self._gap += blocks
            if self._gap >= self.checks.min_pause_blocks:
                self._pressed = None

    def _block(self, key: str | None) -> str | None:
        checks = self.checks
        if key is not None and key == self._candidate:
            self._run += 1
        else:
            self._candidate, self._run = key, 1 if key is not None else 0
        if self._pressed is not None:
            self._gap = 0 if key == self._pressed else self._gap + 1
            if self._gap < checks.min_pause_blocks:
                return None
            self._pressed = None
        if key is not None and self._run >= checks.min_blocks:
            self._pressed, self._gap = key, 0
            return key
        return None
