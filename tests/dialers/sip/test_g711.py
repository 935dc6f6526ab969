"""G.711 against the reference: the stdlib `audioop` (Sun g711.c) on every possible input."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest

from voxcall.dialers.sip import g711


@pytest.fixture(scope="module")
def audioop() -> ModuleType:
    if sys.version_info >= (3, 13):
        pytest.skip("audioop was removed from the standard library in Python 3.13")
    # audioop is deprecated (and pytest turns warnings into errors) but still the reference.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop

    return audioop


ALL_PCM = np.arange(-32768, 32768, dtype="<i2").tobytes()  # every 16-bit sample once
ALL_CODES = bytes(range(256))


@pytest.mark.parametrize(
    ("ours", "reference"), [(g711.pcm_to_ulaw, "lin2ulaw"), (g711.pcm_to_alaw, "lin2alaw")]
)
def test_encode_matches_audioop_on_every_sample(
    audioop: ModuleType, ours: Callable[[bytes], bytes], reference: str
) -> None:
    expected = getattr(audioop, reference)(ALL_PCM, 2)
    got = ours(ALL_PCM)
    assert len(got) == 65536
    mismatches = [i for i in range(65536) if got[i] != expected[i]]
    assert mismatches == []


@pytest.mark.parametrize(
    ("ours", "reference"), [(g711.ulaw_to_pcm, "ulaw2lin"), (g711.alaw_to_pcm, "alaw2lin")]
)
def test_decode_matches_audioop_on_every_code(
    audioop: ModuleType, ours: Callable[[bytes], bytes], reference: str
) -> None:
    assert ours(ALL_CODES) == getattr(audioop, reference)(ALL_CODES, 2)


def test_known_values() -> None:
    # Spot values worked out by hand from g711.c, independent of audioop. -1 is not 0:
    # the arithmetic shift keeps it at -1, so it lands in the first negative step.
    pcm = np.array([0, -1, 32767, -32768], dtype="<i2").tobytes()
    assert g711.pcm_to_ulaw(pcm) == bytes([0xFF, 0x7E, 0x80, 0x00])
    assert g711.pcm_to_alaw(pcm) == bytes([0xD5, 0x55, 0xAA, 0x2A])
    assert g711.ulaw_to_pcm(bytes([g711.ULAW_SILENCE])) == b"\x00\x00"
    assert g711.alaw_to_pcm(bytes([g711.ALAW_SILENCE])) == (8).to_bytes(2, "little")
    assert g711.ulaw_to_pcm(b"\x00\x80") == np.array([-32124, 32124], "<i2").tobytes()
    assert g711.alaw_to_pcm(b"\x2a\xaa") == np.array([-32256, 32256], "<i2").tobytes()


def test_empty_input() -> None:
    for codec in (g711.pcm_to_ulaw, g711.ulaw_to_pcm, g711.pcm_to_alaw, g711.alaw_to_pcm):
        assert codec(b"") == b""


@pytest.mark.parametrize("encode", [g711.pcm_to_ulaw, g711.pcm_to_alaw])
def test_odd_length_pcm_is_rejected(encode: Callable[[bytes], bytes]) -> None:
    with pytest.raises(ValueError, match=r"^PCM must be whole 16-bit samples, got 3 bytes"):
        encode(b"\x00\x01\x02")
