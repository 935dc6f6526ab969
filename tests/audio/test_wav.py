"""wav_bytes / read_wav_pcm: the 8 kHz WAVs voxcall stores and serves."""

from __future__ import annotations

import io
import struct
import wave

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.audio import samples
from voxcall.audio.wav import read_wav_pcm, wav_bytes

PCM = samples.tone(0.25, rate=8000, channels=1).tobytes()


def stdlib_wav(pcm: bytes, *, channels: int = 1, width: int = 2, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buf.getvalue()


def test_header_is_the_standard_44_bytes() -> None:
    data = wav_bytes(PCM)
    fields = struct.unpack("<4sI4s4sIHHIIHH4sI", data[:44])
    assert fields == (
        b"RIFF", 36 + len(PCM), b"WAVE",
        b"fmt ", 16, 1, 1, 8000, 16000, 2, 16,  # PCM, mono, rate, byte rate, align, bits
        b"data", len(PCM),
    )  # fmt: skip
    assert data[44:] == PCM


@pytest.mark.parametrize("rate", [8000, 16000, 44100])
def test_round_trip(rate: int) -> None:
    assert read_wav_pcm(wav_bytes(PCM, rate)) == (PCM, rate)


def test_empty_pcm_round_trips() -> None:
    assert read_wav_pcm(wav_bytes(b"")) == (b"", 8000)


def test_reads_what_the_stdlib_writes() -> None:
    assert read_wav_pcm(stdlib_wav(PCM, rate=16000)) == (PCM, 16000)


def test_refuses_to_write_half_a_sample() -> None:
    with pytest.raises(ValueError, match=r"^pcm: odd length 3, not whole 16-bit samples$"):
        wav_bytes(b"\x00\x01\x02")


def test_refuses_to_write_a_zero_rate() -> None:
    with pytest.raises(ValueError, match=r"^sample_rate: must be positive, not 0$"):
        wav_bytes(PCM, 0)


SHORT = wav_bytes(PCM)[:-10]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"", "wav: not a PCM WAV file (truncated)", id="empty"),
        pytest.param(
            b"ID3\x04\x00" + bytes(100),
            "wav: not a PCM WAV file (file does not start with RIFF id)",
            id="mp3",
        ),
        pytest.param(stdlib_wav(PCM, channels=2), "wav: 2 channels, expected mono", id="stereo"),
        pytest.param(stdlib_wav(PCM, width=1), "wav: 8-bit samples, expected 16-bit", id="8-bit"),
        pytest.param(stdlib_wav(PCM, width=3), "wav: 24-bit samples, expected 16-bit", id="24-bit"),
        pytest.param(
            SHORT,
            f"wav: data holds {len(PCM) - 10} bytes, header declares {len(PCM)}",
            id="short-data",
        ),
        pytest.param(SHORT[:30], "wav: not a PCM WAV file (truncated)", id="short-header"),
        pytest.param(
            SHORT[:24] + bytes(4) + wav_bytes(PCM)[28:], "wav: sample rate 0", id="rate-0"
        ),
    ],
)
def test_refuses_what_voxcall_does_not_write(data: bytes, message: str) -> None:
    with pytest.raises(ValueError) as info:
        read_wav_pcm(data)
    assert str(info.value) == message


def test_refuses_compressed_wav() -> None:
    data = samples.encode(
        samples.tone(0.5, rate=8000, channels=1), 8000, 1, "wav", codec="pcm_alaw"
    )
    with pytest.raises(ValueError) as info:
        read_wav_pcm(data)
    assert str(info.value) == "wav: not a PCM WAV file (unknown format: 6)"


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_value_error(data: bytes) -> None:
    try:
        read_wav_pcm(data)
    except ValueError as exc:
        assert str(exc).startswith("wav: ")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 59), st.integers(0, 255)), min_size=1, max_size=6))
def test_damaged_headers_raise_only_value_error(changes: list[tuple[int, int]]) -> None:
    data = bytearray(wav_bytes(PCM))
    for where, value in changes:
        data[where] = value
    try:
        pcm, rate = read_wav_pcm(bytes(data))
    except ValueError as exc:
        assert str(exc).startswith("wav: ")
    else:
        assert rate > 0
        assert len(pcm) % 2 == 0
