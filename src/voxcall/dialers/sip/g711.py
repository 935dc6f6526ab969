"""G.711 mu-law and A-law codecs, bit-exact with Sun's g711.c (and so with `audioop`).

PCM is signed 16-bit little-endian bytes. Encoding is one lookup per sample in a
65536-entry table indexed by the sample's 16-bit pattern, so a whole message (about
1 ms per minute of audio) is encoded once up front and the pacer only slices it.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

_Table = TypeVar("_Table", bound=npt.NDArray[np.generic])

ULAW_SILENCE = 0xFF  # encodes 0
ALAW_SILENCE = 0xD5  # encodes +8, the A-law value nearest to 0

# Upper bound of each segment's biased magnitude (g711.c `seg_uend` / `seg_aend`).
_ULAW_SEGMENT_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], np.int32)
_ALAW_SEGMENT_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], np.int32)
_PCM16: np.dtype[np.int16] = np.dtype("<i2")  # little-endian whatever the host
_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159  # g711.c CLIP: every larger 14-bit magnitude encodes as the loudest code


def _all_samples() -> npt.NDArray[np.int32]:
    """Every int16 value, placed at the index of its own 16-bit pattern."""
    return np.arange(1 << 16, dtype=np.uint16).view(np.int16).astype(np.int32)


def _build_ulaw_encoder() -> npt.NDArray[np.uint8]:
    value = _all_samples() >> 2  # g711.c works on 14-bit samples
    mask = np.where(value < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(value), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    segment = np.searchsorted(_ULAW_SEGMENT_END, magnitude)
    mantissa = (magnitude >> (segment + 1)) & 0x0F
    code = np.where(segment >= 8, 0x7F, (segment << 4) | mantissa)
    return (code ^ mask).astype(np.uint8)


def _build_ulaw_decoder() -> npt.NDArray[np.int16]:
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    magnitude = (((code & 0x0F) << 3) + _ULAW_BIAS) << ((code & 0x70) >> 4)
    return np.where(code & 0x80, _ULAW_BIAS - magnitude, magnitude - _ULAW_BIAS).astype(_PCM16)


def _build_alaw_encoder() -> npt.NDArray[np.uint8]:
    value = _all_samples() >> 3  # A-law works on 13-bit samples
    mask = np.where(value >= 0, 0xD5, 0x55)
    magnitude = np.where(value >= 0, value, -value - 1)
    segment = np.searchsorted(_ALAW_SEGMENT_END, magnitude)
    shift = np.maximum(segment, 1)  # segments 0 and 1 share the same step size
    mantissa = (magnitude >> shift) & 0x0F
    code = np.where(segment >= 8, 0x7F, (segment << 4) | mantissa)
    return (code ^ mask).astype(np.uint8)


def _build_alaw_decoder() -> npt.NDArray[np.int16]:
    code = np.arange(256, dtype=np.int32) ^ 0x55
    segment = (code & 0x70) >> 4
    step = ((code & 0x0F) << 4) + np.where(segment == 0, 8, 0x108)
    magnitude: npt.NDArray[np.int32] = step << np.maximum(segment - 1, 0)
    return np.where(code & 0x80, magnitude, -magnitude).astype(_PCM16)


def _read_only(table: _Table) -> _Table:
    table.setflags(write=False)  # module-wide tables: nothing may patch them in place
    return table


_ULAW_ENCODE = _read_only(_build_ulaw_encoder())
ULAW_DECODE = _read_only(_build_ulaw_decoder())  # the sample of each code: decode with .take
_ALAW_ENCODE = _read_only(_build_alaw_encoder())
ALAW_DECODE = _read_only(_build_alaw_decoder())


def _sample_patterns(pcm: bytes) -> npt.NDArray[np.uint16]:
    if len(pcm) % 2:
        raise ValueError(f"PCM must be whole 16-bit samples, got {len(pcm)} bytes (odd length)")
    return np.frombuffer(pcm, dtype="<u2")


def pcm_to_ulaw(pcm: bytes) -> bytes:
    """Encode signed 16-bit little-endian PCM to mu-law, one byte per sample."""
    return _ULAW_ENCODE[_sample_patterns(pcm)].tobytes()


def ulaw_to_samples(data: bytes) -> npt.NDArray[np.int16]:
    """Decode mu-law to 16-bit samples."""
    return ULAW_DECODE.take(np.frombuffer(data, dtype=np.uint8))  # twice as fast as []


def ulaw_to_pcm(data: bytes) -> bytes:
    """Decode mu-law to signed 16-bit little-endian PCM."""
    return ulaw_to_samples(data).tobytes()


def pcm_to_alaw(pcm: bytes) -> bytes:
    """Encode signed 16-bit little-endian PCM to A-law, one byte per sample."""
    return _ALAW_ENCODE[_sample_patterns(pcm)].tobytes()


def alaw_to_samples(data: bytes) -> npt.NDArray[np.int16]:
    """Decode A-law to 16-bit samples."""
    return ALAW_DECODE.take(np.frombuffer(data, dtype=np.uint8))


def alaw_to_pcm(data: bytes) -> bytes:
    """Decode A-law to signed 16-bit little-endian PCM."""
    return alaw_to_samples(data).tobytes()
