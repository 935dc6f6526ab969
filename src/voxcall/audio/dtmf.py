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

Blocks overlap by half (a new one every HOP samples), so a tone's length is measured to
6.4 ms. Each hop goes through the filters once: a block's DFT is the sum of its two hops'
DFTs, the second turned by the phase of its offset in the block. A key is reported once it
has held for `min_blocks` blocks in a row (4: tones of 36 ms and longer always pass, tones
of 25 ms and shorter never do), and the same key again only after `min_pause_blocks` blocks
without it (4: a pause of 20 ms or more separates two presses, an interruption of 10 ms
does not). Blocks overlapping by two thirds measured the same limits (tones of 33 to 36 ms
nearly always pass either way) for half again the filter work and twice the checks.

Frequency tolerance comes from the filters' response with the share check: a tone off its
frequency leaves part of its energy outside the filter. Tones within Q.24's ±1.5 % pass,
tones 3.5 % off do not (tests/audio/test_dtmf.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 8000
HOP = 51  # samples from one block to the next
BLOCK = 2 * HOP  # samples per analysis block: 12.75 ms, filters about 80 Hz wide
ROWS = (697.0, 770.0, 852.0, 941.0)
COLUMNS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYPAD = ("123A", "456B", "789C", "*0#D")  # KEYPAD[row][column]
KEYS = "".join(KEYPAD)  # KEYS[4 * row + column]
NO_KEY = -1

# A 0 dBm0 sine in 16-bit linear G.711 has this amplitude (3.14 dBm0 is full scale).
_DBM0_AMPLITUDE = 32768 * 10 ** (-3.14 / 20)
_OMEGA = 2 * np.pi * np.array(ROWS + COLUMNS) / SAMPLE_RATE


def _hop_basis() -> npt.NDArray[np.float32]:
    """(HOP, 32): for each half of a block (the hop's place in it), the cos and sin of each
    DTMF frequency over one hop, from the start of the block."""
    halves = [np.outer(np.arange(HOP) + half * HOP, _OMEGA) for half in range(2)]
    return np.concatenate([f(h) for h in halves for f in (np.cos, np.sin)], axis=1).astype(
        np.float32
    )


_HOP_BASIS = _hop_basis()
_HOP_BASIS.setflags(write=False)
# What pads a stream's audio of each length modulo HOP to whole hops.
_PADDING = [np.zeros(-remainder % HOP, dtype=np.int16) for remainder in range(HOP)]


@dataclass(frozen=True, slots=True)
class DtmfChecks:
    """The thresholds of a block that holds a key, and of a press (module docstring)."""

    min_level: float = -33.0  # dBm0, each of the two tones (Q.24 operates down to -30)
    normal_twist: float = 8.0  # dB the column tone may be weaker than the row tone
    reverse_twist: float = 4.0  # dB the column tone may be stronger than the row tone
    relative_peak: float = 8.0  # dB above the other tones of its group
    min_tone_share: float = 0.8  # of the block's energy in the two tones
    min_blocks: int = 4
    min_pause_blocks: int = 4


def hop_sums(
    hops: npt.NDArray[np.float32],
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """What `block_keys` needs of each hop of `hops` (shape (k, HOP)): its products with
    the cos and sin of the eight frequencies in each half of a block (32, k: a row per
    frequency, so that the checks below read whole rows), and its energy (k,)."""
    sums = np.empty((_HOP_BASIS.shape[1], len(hops)), dtype=np.float32)
    np.matmul(hops, _HOP_BASIS, out=sums.T)  # faster than _HOP_BASIS.T @ hops.T
    return sums, np.einsum("ij,ij->i", hops, hops)


_DEFAULT_CHECKS = DtmfChecks()


def block_keys(
    sums: npt.NDArray[np.float32], energies: npt.NDArray[np.float32], checks: DtmfChecks
) -> npt.NDArray[np.int8]:
    """The key each block holds, as its index in KEYS, or NO_KEY: block i is hops i and
    i + 1 of `sums` and `energies` (from `hop_sums`), so k hops make k - 1 blocks."""
    parts = sums[:16, :-1] + sums[16:, 1:]  # each block's cos and sin
    parts *= parts
    power = parts[:8] + parts[8:]  # (8, k): |X|², rows then columns
    rows, columns = power[:4], power[4:]
    row_power = np.maximum(np.maximum(power[0], power[1]), np.maximum(power[2], power[3]))
    column_power = np.maximum(np.maximum(power[4], power[5]), np.maximum(power[6], power[7]))
    # A sine's |X|² * 2 / BLOCK is its energy over the block: the tones' share of it.
    total = energies[:-1] + energies[1:]
    # Level and share first: speech, music and silence fail them in every block, and
    # nothing more is computed for them (most of what a call hears).
    likely = ((row_power + column_power) * (2 / BLOCK) >= checks.min_tone_share * total) & (
        np.minimum(row_power, column_power) >= _min_power(checks.min_level)
    )
    if not likely.any():
        return np.full(power.shape[1], NO_KEY, dtype=np.int8)
    twist = row_power / np.maximum(column_power, 1e-12)  # as a power ratio
    peak = 10 ** (checks.relative_peak / 10)
    ok = (
        likely
        & (twist <= 10 ** (checks.normal_twist / 10))
        & (twist >= 10 ** (-checks.reverse_twist / 10))
        & (np.sort(rows, axis=0)[-2] * peak <= row_power)  # the runner-up of its group
        & (np.sort(columns, axis=0)[-2] * peak <= column_power)
    )
    keys = 4 * rows.argmax(axis=0) + columns.argmax(axis=0)
    return np.where(ok, keys, NO_KEY).astype(np.int8)


def _min_power(level: float) -> float:
    """|X|² of a sine at `level` dBm0 over one block (its amplitude is 2 |X| / BLOCK)."""
    return float((_DBM0_AMPLITUDE * 10 ** (level / 20) * BLOCK / 2) ** 2)


class DtmfDetector:
    """Key presses in one stream of 8 kHz audio, fed in pieces of any length."""

    def __init__(self, checks: DtmfChecks | None = None) -> None:
        self.checks = checks or _DEFAULT_CHECKS  # one object: feed_many groups by it
        # The last hop (the start of the next block) and what is short of a hop.
        self._pending = np.zeros(0, dtype=np.float32)
        self._candidate: str | None = None  # the key of the last blocks
        self._run = 0  # blocks in a row that held it
        self._pressed: str | None = None  # the key reported and not yet released
        self._gap = 0  # blocks in a row without the pressed key

    def feed(self, samples: npt.NDArray[np.int16]) -> list[str]:
        """The keys that `samples` (following the ones fed before) complete."""
        return list(feed_many([self], [samples])[0])

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


def feed_many(
    detectors: Sequence[DtmfDetector], pieces: Sequence[npt.NDArray[np.int16]]
) -> list[Sequence[str]]:
    """`DtmfDetector.feed` of many streams at once (detector i fed pieces[i]): the keys
    each piece completes.

    numpy's cost per call, not the arithmetic, is most of a detector's cost on a packet or
    two: the hops of every stream go through the filters in one product, and the blocks
    through one pass (blocks across two streams are computed, then ignored).
    """
    checks = detectors[0].checks if detectors else _DEFAULT_CHECKS
    if all(detector.checks is checks for detector in detectors):
        return _feed_alike(detectors, pieces, checks)
    found: list[Sequence[str]] = [()] * len(detectors)
    by_checks: dict[int, list[int]] = {}  # by the checks' id: hashing them costs more
    for index, detector in enumerate(detectors):
        by_checks.setdefault(id(detector.checks), []).append(index)
    for indexes in by_checks.values():
        alike = _feed_alike(
            [detectors[i] for i in indexes],
            [pieces[i] for i in indexes],
            detectors[indexes[0]].checks,
        )
        for index, keys in zip(indexes, alike, strict=True):
            found[index] = keys
    return found


def _feed_alike(
    detectors: Sequence[DtmfDetector],
    pieces: Sequence[npt.NDArray[np.int16]],
    checks: DtmfChecks,
) -> list[Sequence[str]]:
    # Each stream's audio (what it had pending, then the piece) padded to whole hops: the
    # streams' hops are then the rows of one array, and a stream's blocks start at the row
    # of its first hop. The padding is in no block that counts.
    joined: list[npt.NDArray[np.float32] | npt.NDArray[np.int16]] = []
    lengths: list[int] = []  # each stream's, in samples
    for detector, samples in zip(detectors, pieces, strict=True):
        length = len(detector._pending) + len(samples)
        joined += (detector._pending, samples, _PADDING[length % HOP])
        lengths.append(length)
    audio = np.concatenate(joined, dtype=np.float32)
    keys = block_keys(*hop_sums(audio.reshape(-1, HOP)), checks)
    # Each stream's first row and its blocks, for all at once: no numpy per stream.
    length_of = np.array(lengths)
    rows = -(-length_of // HOP)
    first_of = np.cumsum(rows) - rows
    blocks_of = np.maximum(length_of // HOP - 1, 0)
    hits = np.flatnonzero(keys != NO_KEY)
    hit_stream = np.searchsorted(first_of, hits, side="right") - 1
    hit_streams = set(hit_stream[hits < (first_of + blocks_of)[hit_stream]].tolist())
    # The last hop starts the next block (a stream short of a block keeps it all).
    pending_from = ((first_of + blocks_of) * HOP).tolist()
    pending_to = (first_of * HOP + length_of).tolist()
    streams = zip(detectors, pending_from, pending_to, blocks_of.tolist(), strict=True)
    for index, (detector, start, end, blocks) in enumerate(streams):
        detector._pending = audio[start:end]
        if blocks and index not in hit_streams:
            if detector._candidate is not None or detector._pressed is not None:
                detector._quiet(blocks)  # else it would change nothing
    found: list[Sequence[str]] = [()] * len(detectors)
    for index in hit_streams:
        detector, first = detectors[index], int(first_of[index])
        blocks = keys[first : first + int(blocks_of[index])].tolist()
        pressed = [detector._block(None if key == NO_KEY else KEYS[key]) for key in blocks]
        found[index] = [key for key in pressed if key is not None]
    return found
