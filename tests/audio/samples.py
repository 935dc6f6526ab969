"""Real audio files made at test time, so that no binary fixture has to be kept.

Signals are int16 numpy arrays shaped (frames, channels). `encode` turns them into the bytes
of a real file with PyAV's own encoders (the FFmpeg that decodes uploads also encodes these),
`speech_wav` asks espeak-ng for a spoken sentence, and `video_mp4` / `png` make files that
are not audio. Imported by the audio, API and end-to-end tests.
"""

from __future__ import annotations

import io
import struct
import subprocess
import zlib
from fractions import Fraction

import av
import numpy as np
import numpy.typing as npt
from av.audio.resampler import AudioResampler
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.stream import Disposition
from av.video.stream import VideoStream

Samples = npt.NDArray[np.int16]

# The formats an upload may use: every one is a valid `fmt` for `encode`.
FORMATS = ("wav", "mp3", "ogg", "opus", "flac", "m4a")

# fmt -> (FFmpeg muxer, default encoder). "ogg" is Vorbis from FFmpeg's own encoder (this
# PyAV build has no libvorbis); "ipod" is the muxer that writes .m4a files; "mkv" is a
# container uploads may not use.
_RECIPES = {
    "wav": ("wav", "pcm_s16le"),
    "mp3": ("mp3", "libmp3lame"),
    "ogg": ("ogg", "vorbis"),
    "opus": ("ogg", "libopus"),
    "flac": ("flac", "flac"),
    "m4a": ("ipod", "aac"),
    "mkv": ("matroska", "flac"),
}

_FULL_SCALE = 32767


def tone(
    seconds: float,
    freq: float = 440.0,
    rate: int = 44100,
    channels: int = 2,
    amplitude: float = 0.5,
) -> Samples:
    """A sine of `freq` Hz at `amplitude` of full scale, the same in every channel."""
    t = np.arange(round(seconds * rate)) / rate
    wave = np.round(amplitude * _FULL_SCALE * np.sin(2 * np.pi * freq * t)).astype(np.int16)
    return np.repeat(wave[:, np.newaxis], channels, axis=1)


def silence(seconds: float, rate: int = 44100, channels: int = 2) -> Samples:
    """Digital silence: all samples zero."""
    return np.zeros((round(seconds * rate), channels), dtype=np.int16)


def _layout(channels: int) -> str:
    # FFmpeg: "6c" is the default layout of 6 channels (5.1); "9C" is 9 unnamed channels,
    # for counts that have no default layout.
    return {1: "mono", 2: "stereo"}.get(
        channels, f"{channels}c" if channels <= 8 else f"{channels}C"
    )


def encode(
    samples: Samples,
    rate: int,
    channels: int,
    fmt: str,
    *,
    codec: str | None = None,
    cover_art: bool = False,
) -> bytes:
    """The bytes of a `fmt` file (FORMATS, or "mkv") holding `samples` at `rate` Hz.

    `codec` replaces the format's usual encoder (e.g. "alac" in m4a, "pcm_alaw" in wav);
    `cover_art` adds a PNG picture stream marked as an attached picture, as tagged mp3s have.
    Encoders that need another sample format, rate or layout get it from a resampler:
    Opus encodes at 48 kHz unless `rate` is one of its rates. FFmpeg's Vorbis encoder only
    takes stereo, so a mono signal is copied to both channels (and decodes as stereo).
    """
    if samples.dtype != np.int16 or samples.ndim != 2 or samples.shape[1] != channels:
        raise ValueError(f"samples must be int16 shaped (frames, {channels}), not {samples.shape}")
    if not len(samples):
        # FFmpeg refuses an empty frame, and its Vorbis encoder loops forever on no input.
        raise ValueError("samples must not be empty")
    muxer, default_codec = _RECIPES[fmt]
    encoder = av.Codec(codec or default_codec, "w")
    if encoder.name == "vorbis" and channels == 1:
        samples, channels = np.repeat(samples, 2, axis=1), 2
    enc_rate = rate if not encoder.audio_rates or rate in encoder.audio_rates else 48000
    enc_layout = _layout(channels)
    options = {"strict": "experimental"} if encoder.experimental else {}

    buf = io.BytesIO()  # seekable, which the mp4 muxer needs to write its index at the end
    with av.open(buf, mode="w", format=muxer) as out:
        stream = out.add_stream(encoder.name, rate=enc_rate, layout=enc_layout, options=options)
        assert isinstance(stream, AudioStream)
        stream.codec_context.open()  # before the first mux, which starts the file
        if cover_art:
            picture = out.add_stream("png")
            assert isinstance(picture, VideoStream)
            picture.width, picture.height, picture.pix_fmt = 8, 8, "rgb24"
            picture.disposition = Disposition.attached_pic
            image = np.full((8, 8, 3), 128, dtype=np.uint8)
            out.mux(picture.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
            out.mux(picture.encode(None))
        _encode_audio(out, stream, samples, rate, channels)
    return buf.getvalue()


def _encode_audio(
    out: OutputContainer, stream: AudioStream, samples: Samples, rate: int, channels: int
) -> None:
    """Encode and mux all of `samples` into `stream`, whose codec context is open."""
    context = stream.codec_context
    assert context.codec.audio_formats is not None
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(samples).reshape(1, -1), format="s16", layout=_layout(channels)
    )
    frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
    resampler = AudioResampler(
        format=context.codec.audio_formats[0],
        layout=context.layout,
        rate=context.sample_rate,
        frame_size=context.frame_size or 1024,  # most encoders need exactly their frame size
    )
    for chunk in [*resampler.resample(frame), *resampler.resample(None)]:
        out.mux(stream.encode(chunk))
    out.mux(stream.encode(None))


def riff_wav(fmt: bytes, data: bytes) -> bytes:
    """A WAV file of a `fmt ` chunk body and sample bytes, written field by field, so that
    the header can state anything (absurd rates, float formats)."""
    return (
        b"RIFF"
        + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data))
        + b"WAVEfmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )


def float_wav(values: npt.ArrayLike, rate: int = 8000, *, bits: int = 32) -> bytes:
    """A mono IEEE-float WAV (format 3) of `values` as given: NaN and infinity included."""
    data = np.asarray(values, dtype="<f4" if bits == 32 else "<f8").tobytes()
    return riff_wav(struct.pack("<HHIIHH", 3, 1, rate, rate * bits // 8, bits // 8, bits), data)


def square_flac(
    seconds: float, rate: int = 8000, *, level: int = 8000, declared: bool = True
) -> bytes:
    """A mono 16-bit FLAC of a square wave (+level, -level in turns of one 4096-sample
    block), written frame by frame: each frame is one CONSTANT subframe, about 10 bytes. So
    hours of loud audio fit in a few hundred kB, made in a fraction of a second (FFmpeg
    would have to encode every sample). `declared=False` leaves the length out of
    STREAMINFO, as streaming encoders do."""
    block = 4096
    total = round(seconds * rate)
    rate_code = {8000: 0b0100, 16000: 0b0101, 44100: 0b1001, 48000: 0b1010}[rate]
    info = struct.pack(">HH", block, block) + bytes(6)  # block sizes; frame sizes unknown
    stated = total if declared else 0
    info += ((rate << 44) | (0 << 41) | (15 << 36) | stated).to_bytes(8, "big") + bytes(16)
    out = [b"fLaC", b"\x80" + len(info).to_bytes(3, "big"), info]  # last block: STREAMINFO
    for number in range((total + block - 1) // block):
        size = min(block, total - number * block)
        # block size code 7: 16-bit "size - 1" at the end of the header; 16-bit samples
        header = bytes([0xFF, 0xF8, 0x70 | rate_code, 0x08])
        header += chr(number).encode("utf-8", "surrogatepass") + (size - 1).to_bytes(2, "big")
        header += bytes([_crc8(header)])
        value = level if number % 2 == 0 else -level
        frame = header + b"\x00" + value.to_bytes(2, "big", signed=True)
        out.append(frame + _crc16(frame).to_bytes(2, "big"))
    return b"".join(out)


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def speech_wav(text: str, voice: str = "en-us") -> bytes:
    """A spoken sentence from espeak-ng: a 22.05 kHz mono 16-bit WAV.

    espeak-ng writes a streaming header (sizes 0x7ffff...), as many recorders do.
    """
    result = subprocess.run(
        ["espeak-ng", "-v", voice, "--stdout", text], capture_output=True, check=True, timeout=30
    )
    return result.stdout


def video_mp4(seconds: float = 0.5, *, with_audio: bool = False) -> bytes:
    """A small MPEG-4 video in an mp4 container, optionally with an AAC audio track."""
    fps = 10
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        video = out.add_stream("mpeg4", rate=fps)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        if with_audio:
            audio = out.add_stream("aac", rate=44100, layout="mono")
            audio.codec_context.open()
            _encode_audio(out, audio, tone(seconds, channels=1), 44100, 1)
        for i in range(round(seconds * fps)):
            image = np.full((64, 64, 3), (i * 25) % 256, dtype=np.uint8)
            out.mux(video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(video.encode(None))
    return buf.getvalue()


def png(width: int = 8, height: int = 8) -> bytes:
    """A valid grey RGB PNG image."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + b"\x80" * (3 * width) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
