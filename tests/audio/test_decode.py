"""decode_voice on real files encoded at test time (tests/audio/samples.py)."""

from __future__ import annotations

import json
import os
import random
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.audio import samples
from voxcall.audio.decode import (
    MAX_BYTES,
    MAX_DURATION,
    DecodedVoice,
    InvalidAudio,
    decode_voice,
)
from voxcall.audio.wav import wav_bytes

NOT_AUDIO = "file: not a decodable audio file (expected mp3, wav, ogg, opus, flac or m4a)"

# upload format -> (container, codec) that decode_voice reports
REPORTED = {
    "wav": ("wav", "pcm_s16le"),
    "mp3": ("mp3", "mp3"),
    "ogg": ("ogg", "vorbis"),
    "opus": ("ogg", "opus"),
    "flac": ("flac", "flac"),
    "m4a": ("m4a", "aac"),
}


def pcm_array(voice: DecodedVoice) -> npt.NDArray[np.float64]:
    return np.frombuffer(voice.pcm, dtype="<i2").astype(np.float64)


def rms(x: npt.NDArray[np.float64]) -> float:
    return float(np.sqrt(np.mean(x**2)))


def spectrum(x: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(frequencies, magnitudes) of 8 kHz audio, Hann-windowed."""
    magnitudes = np.abs(np.fft.rfft(x * np.hanning(x.size))).astype(np.float64)
    return np.fft.rfftfreq(x.size, 1 / 8000).astype(np.float64), magnitudes


def dominant_frequency(x: npt.NDArray[np.float64]) -> float:
    freqs, mags = spectrum(x)
    return float(freqs[np.argmax(mags)])


def refusal(data: bytes, *, max_duration: float = MAX_DURATION, max_bytes: int = MAX_BYTES) -> str:
    with pytest.raises(InvalidAudio) as info:
        decode_voice(data, max_duration=max_duration, max_bytes=max_bytes)
    return str(info.value)


def wav_header_only(rate: int, channels: int, seconds: float = 0.5) -> bytes:
    """A 16-bit PCM WAV written field by field, so the header can state absurd values."""
    data = np.full(round(seconds * 8000) * channels, 1000, dtype="<i2").tobytes()
    fmt = struct.pack(
        "<HHIIHH", 1, channels, rate, (rate * channels * 2) & 0xFFFFFFFF, channels * 2, 16
    )
    return samples.riff_wav(fmt, data)


# --- accepted files ----------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("fmt", samples.FORMATS)
def test_each_format_decodes_to_8k_mono(fmt: str, channels: int) -> None:
    data = samples.encode(samples.tone(2.0, channels=channels), 44100, channels, fmt)
    voice = decode_voice(data)
    assert (voice.format, voice.codec) == REPORTED[fmt]
    assert voice.duration == pytest.approx(2.0, abs=0.05)  # codec priming/padding
    assert len(voice.pcm) == round(voice.duration * 8000) * 2
    # Opus always decodes at 48 kHz; FFmpeg's Vorbis encoder only writes stereo.
    assert voice.source_rate == (48000 if fmt == "opus" else 44100)
    assert voice.source_channels == (2 if fmt == "ogg" else channels)


@pytest.mark.parametrize("fmt", samples.FORMATS)
def test_a_1khz_tone_stays_1khz_at_its_level(fmt: str) -> None:
    voice = decode_voice(samples.encode(samples.tone(2.0, freq=1000.0), 44100, 2, fmt))
    x = pcm_array(voice)[800:-800]  # away from the codecs' start and end transients
    assert dominant_frequency(x) == pytest.approx(1000.0, abs=2.0)
    # Both channels carry the tone, so the mono mix keeps its level (0.5 of full scale).
    assert 20 * np.log10(rms(x) / (0.5 * 32767 / np.sqrt(2))) == pytest.approx(0.0, abs=1.0)


@pytest.mark.parametrize("source_rate", [44100, 48000, 22050])
@pytest.mark.parametrize("freq", [4500.0, 6000.0])
def test_resampling_filters_what_8khz_cannot_hold(source_rate: int, freq: float) -> None:
    # Above 4 kHz (the 8 kHz Nyquist limit) a tone would alias to 8000 - freq without the
    # resampler's low-pass filter.
    tone = samples.tone(2.0, freq=freq, rate=source_rate, channels=1, amplitude=0.9)
    reference = samples.tone(2.0, freq=1000.0, rate=source_rate, channels=1, amplitude=0.9)
    out = pcm_array(decode_voice(samples.encode(tone, source_rate, 1, "wav")))
    level = pcm_array(decode_voice(samples.encode(reference, source_rate, 1, "wav")))
    assert 20 * np.log10(rms(out) / rms(level)) <= -35.0


def test_stereo_channels_are_mixed_not_dropped() -> None:
    left = samples.tone(2.0, freq=440.0, channels=1)
    right = samples.tone(2.0, freq=1000.0, channels=1)
    voice = decode_voice(samples.encode(np.hstack([left, right]), 44100, 2, "wav"))
    freqs, mags = spectrum(pcm_array(voice))
    at_440, at_1000 = mags[np.argmin(abs(freqs - 440))], mags[np.argmin(abs(freqs - 1000))]
    assert voice.source_channels == 2
    assert at_440 == pytest.approx(at_1000, rel=0.05)
    assert at_440 > 100 * np.median(mags)


@pytest.mark.parametrize("channels", [3, 6, 8])
def test_multichannel_is_mixed_to_mono(channels: int) -> None:
    voice = decode_voice(
        samples.encode(samples.tone(1.0, channels=channels), 44100, channels, "wav")
    )
    assert voice.source_channels == channels
    assert voice.duration == pytest.approx(1.0, abs=0.01)
    assert dominant_frequency(pcm_array(voice)) == pytest.approx(440.0, abs=2.0)


def test_speech_from_espeak() -> None:
    data = samples.speech_wav("Hello, this is a test message from voxcall.")
    voice = decode_voice(data)
    assert (voice.format, voice.source_rate, voice.source_channels) == ("wav", 22050, 1)
    # espeak-ng's streaming header states no real size: the length comes from the data.
    assert voice.duration == pytest.approx((len(data) - 44) / 2 / 22050, abs=0.01)
    assert rms(pcm_array(voice)) > 500


def test_8khz_mono_16bit_wav_passes_through_unchanged() -> None:
    pcm = samples.tone(1.0, rate=8000, channels=1).tobytes()
    assert decode_voice(wav_bytes(pcm)).pcm == pcm


@pytest.mark.parametrize(
    ("fmt", "codec", "rate", "reported"),
    [
        ("m4a", "alac", 44100, ("m4a", "alac")),
        ("wav", "pcm_alaw", 8000, ("wav", "pcm_alaw")),
        ("wav", "pcm_mulaw", 8000, ("wav", "pcm_mulaw")),
        ("wav", "pcm_f32le", 48000, ("wav", "pcm_f32le")),
    ],
)
def test_other_allowed_codecs(fmt: str, codec: str, rate: int, reported: tuple[str, str]) -> None:
    tone = samples.tone(1.0, rate=rate, channels=1)
    voice = decode_voice(samples.encode(tone, rate, 1, fmt, codec=codec))
    assert (voice.format, voice.codec) == reported
    assert voice.duration == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("fmt", ["mp3", "flac"])
def test_cover_art_is_not_a_video(fmt: str) -> None:
    data = samples.encode(samples.tone(1.0), 44100, 2, fmt, cover_art=True)
    assert decode_voice(data).format == fmt


def test_quiet_but_not_silent_is_accepted() -> None:
    quiet = samples.tone(1.0, freq=1000.0, channels=1, amplitude=10 ** (-50 / 20))  # -50 dBFS
    assert decode_voice(samples.encode(quiet, 44100, 1, "wav")).duration == pytest.approx(1.0)


def test_a_file_cut_short_keeps_what_it_holds() -> None:
    data = samples.encode(samples.tone(5.0), 44100, 2, "mp3")
    voice = decode_voice(data[: len(data) * 3 // 10])
    assert voice.duration == pytest.approx(1.5, abs=0.1)


def test_concurrent_calls_from_threads_match_serial_results() -> None:
    files = [
        samples.encode(samples.tone(1.0, freq=300.0 + 100 * i), 44100, 2, fmt)
        for i, fmt in enumerate(samples.FORMATS)
    ]
    serial = [decode_voice(f) for f in files]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(2):
            assert list(pool.map(decode_voice, files)) == serial


# --- refused files -----------------------------------------------------------------------


def test_empty_bytes() -> None:
    assert refusal(b"") == "file: empty"


def test_larger_than_max_bytes() -> None:
    data = samples.encode(samples.tone(1.0), 44100, 2, "wav")  # 176 kB
    assert refusal(data, max_bytes=2**17) == "file: larger than 0.125 MiB (0.2 MiB)"
    assert refusal(b"\0" * (12 * 2**20)) == "file: larger than 10 MiB (12.0 MiB)"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(random.Random(0).randbytes(8192), id="random"),
        pytest.param(b"Hello,\nthis is a text file, not audio.\n" * 40, id="text"),
        pytest.param(samples.png(), id="png"),
        pytest.param(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", id="png-header"),
        pytest.param(b'{"voice": "hello"}', id="json"),
    ],
)
def test_not_audio(data: bytes) -> None:
    assert refusal(data) == NOT_AUDIO


@pytest.mark.parametrize("size", [10, 100, 400])
def test_truncated_mp3_header(size: int) -> None:
    data = samples.encode(samples.tone(2.0), 44100, 2, "mp3")
    assert refusal(data[:size]) == NOT_AUDIO


def test_container_not_on_the_list() -> None:
    data = samples.encode(samples.tone(1.0), 44100, 2, "mkv")
    assert refusal(data) == NOT_AUDIO


@pytest.mark.parametrize("with_audio", [False, True])
def test_video(with_audio: bool) -> None:
    data = samples.video_mp4(with_audio=with_audio)
    assert refusal(data) == "file: video is not accepted, only audio"


@pytest.mark.parametrize(
    ("fmt", "codec", "message"),
    [
        ("wav", "libmp3lame", "file: unsupported audio codec mp3 in wav"),
        ("ogg", "flac", "file: unsupported audio codec flac in ogg"),
        ("m4a", "ac3", "file: unsupported audio codec ac3 in m4a"),
    ],
)
def test_codec_not_allowed_in_its_container(fmt: str, codec: str, message: str) -> None:
    data = samples.encode(samples.tone(1.0, channels=1), 44100, 1, fmt, codec=codec)
    assert refusal(data) == message


@pytest.mark.parametrize(
    ("rate", "channels", "message"),
    [
        (1, 1, "file: unsupported sample rate 1 Hz"),
        (3000, 1, "file: unsupported sample rate 3000 Hz"),
        (500_000, 1, "file: unsupported sample rate 500000 Hz"),
        (2**31 - 1, 1, "file: unsupported sample rate 2147483647 Hz"),
        (44100, 9, "file: unsupported channel count 9"),
        (44100, 255, "file: unsupported channel count 255"),
    ],
)
def test_absurd_sample_rate_or_channels(rate: int, channels: int, message: str) -> None:
    assert refusal(wav_header_only(rate, channels)) == message


@pytest.mark.parametrize("fmt", ["wav", "mp3", "opus"])
def test_silence(fmt: str) -> None:
    data = samples.encode(samples.silence(2.0), 44100, 2, fmt)
    assert refusal(data) == "file: audio is silent"


def test_below_minus_60_dbfs_counts_as_silence() -> None:
    hiss = samples.tone(1.0, freq=1000.0, channels=1, amplitude=10 ** (-65 / 20))
    assert refusal(samples.encode(hiss, 44100, 1, "wav")) == "file: audio is silent"


def test_no_samples() -> None:
    assert refusal(wav_bytes(b"")) == "file: audio is empty"


@pytest.mark.parametrize("bits", [32, 64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["one", "all"])
def test_float_samples_that_are_not_finite(bits: int, bad: float, where: str) -> None:
    # Before this check, NaN became -32768 (a click, or a full-scale "voice" when all of it
    # was NaN) and infinity a clipped peak.
    wave = 0.5 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)
    values = np.full(8000, bad) if where == "all" else np.where(np.arange(8000) == 100, bad, wave)
    assert refusal(samples.float_wav(values, bits=bits)) == (
        "file: audio samples are not finite numbers (NaN or infinity)"
    )


def test_finite_float_samples_are_accepted() -> None:
    wave = 0.5 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)
    voice = decode_voice(samples.float_wav(wave))
    assert voice.codec == "pcm_f32le" and voice.duration == 1.0
    assert 0.45 * 32768 < np.abs(pcm_array(voice)).max() < 0.55 * 32768


@pytest.mark.parametrize("fmt", ["wav", "mp3", "ogg", "m4a"])
def test_longer_than_max_duration(fmt: str) -> None:
    data = samples.encode(samples.tone(3.0), 44100, 2, fmt)
    assert refusal(data, max_duration=2.0) == "file: audio is longer than 2 s (3.0 s)"


def test_longer_than_the_default_300_s() -> None:
    data = samples.encode(samples.tone(301.0, rate=8000, channels=1), 8000, 1, "flac")
    assert refusal(data) == "file: audio is longer than 300 s (301.0 s)"


_LONG_UPLOAD = """
import json, resource, sys, time
from tests.audio import samples
from voxcall.audio.decode import InvalidAudio, decode_voice
data = samples.square_flac(3 * 3600, declared=sys.argv[1] == "declared")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    decode_voice(data)
    message = "accepted"
except InvalidAudio as exc:
    message = str(exc)
seconds = time.perf_counter() - start
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"message": message, "seconds": seconds, "grown_kib": grown}))
"""


@pytest.mark.parametrize("declared", ["declared", "undeclared"])
def test_a_three_hour_upload_is_refused_quickly_in_bounded_memory(declared: str) -> None:
    """Decoding stops at the limit: 3 h of loud audio in 300 kB (173 MB once decoded at
    8 kHz) is refused after about 300 s of it, whether or not the file states its length.
    In a process of its own, so that its peak memory is its own."""
    result = subprocess.run(
        [sys.executable, "-c", _LONG_UPLOAD, declared],
        capture_output=True,
        check=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    outcome = json.loads(result.stdout)
    assert outcome["message"].startswith("file: audio is longer than 300 s")
    assert outcome["seconds"] < 5.0  # about 0.02 s on the 2-core dev box
    assert outcome["grown_kib"] < 64 * 1024  # 300 s at 8 kHz is 4.7 MiB


def test_longer_than_it_declares() -> None:
    # A FLAC whose STREAMINFO does not state its length (total samples = 0, as streaming
    # encoders write it): only the running count can stop it.
    data = bytearray(samples.encode(samples.tone(3.0), 44100, 2, "flac"))
    fields = struct.unpack(">Q", data[18:26])[0]  # rate, channels, bits, 36-bit total
    data[18:26] = struct.pack(">Q", fields & ~(2**36 - 1))
    assert refusal(bytes(data), max_duration=2.0) == "file: audio is longer than 2 s"
    assert decode_voice(bytes(data)).duration == pytest.approx(3.0)


def test_mp3_mostly_garbage_is_corrupt() -> None:
    data = bytearray(samples.encode(samples.tone(5.0), 44100, 2, "mp3"))
    cut = len(data) // 5
    data[cut:] = random.Random(0).randbytes(len(data) - cut)
    assert refusal(bytes(data)) == "file: audio data is corrupt"


@pytest.mark.parametrize("fmt", ["opus", "ogg", "flac"])
def test_pages_lost_in_the_middle_are_corrupt(fmt: str) -> None:
    # The demuxer drops the damaged ogg page / FLAC frames without an error; the decoded
    # length falls short of the length the file states.
    data = bytearray(samples.encode(samples.tone(5.0), 44100, 2, fmt))
    middle, tenth = len(data) // 2, len(data) // 10
    data[middle : middle + tenth] = bytes(tenth)
    message = refusal(bytes(data))
    assert message.startswith("file: audio data is corrupt (")
    assert message.endswith(" s of 5.0 s decoded)")


# --- nothing but InvalidAudio, whatever the bytes -------------------------------------------


def check_outcome(data: bytes) -> None:
    """decode_voice either decodes sanely or raises InvalidAudio; nothing else."""
    try:
        voice = decode_voice(data, max_duration=10.0)
    except InvalidAudio as exc:
        assert str(exc).startswith("file: ")
        return
    assert voice.pcm and len(voice.pcm) % 2 == 0
    assert voice.duration == len(voice.pcm) / 2 / 8000 <= 10.0
    assert voice.format in {"wav", "mp3", "ogg", "flac", "m4a"}


FUZZ = settings(max_examples=50, deadline=None)
ORIGINALS = {
    fmt: samples.encode(samples.tone(1.0, freq=700.0), 44100, 2, fmt)
    for fmt in ("wav", "mp3", "opus", "m4a")
}


@FUZZ
@given(st.binary(max_size=4096))
def test_fuzz_random_bytes(data: bytes) -> None:
    check_outcome(data)


@FUZZ
@given(st.sampled_from(sorted(ORIGINALS)), st.floats(0.0, 1.0))
def test_fuzz_truncations(fmt: str, keep: float) -> None:
    original = ORIGINALS[fmt]
    check_outcome(original[: int(len(original) * keep)])


@FUZZ
@given(
    st.sampled_from(sorted(ORIGINALS)),
    st.lists(st.tuples(st.floats(0.0, 1.0, exclude_max=True), st.integers(0, 255)), max_size=20),
    st.booleans(),
)
def test_fuzz_mutations(fmt: str, changes: list[tuple[float, int]], near_start: bool) -> None:
    data = bytearray(ORIGINALS[fmt])
    # Headers live in the first bytes: aim half the examples there.
    span = min(len(data), 512) if near_start else len(data)
    for where, value in changes:
        data[int(where * span)] = value
    check_outcome(bytes(data))
