"""Decode an uploaded voice file into the 8 kHz mono 16-bit PCM that calls play.

`decode_voice` takes the file's bytes and either returns a `DecodedVoice` or raises
`InvalidAudio` whose message can go to the API client as is. No PyAV exception escapes.

Accepted: mp3; wav holding PCM (including A-law/mu-law); ogg holding Vorbis or Opus; flac;
m4a/mp4 holding AAC or ALAC. Only these FFmpeg demuxers may open the data at all
(`format_whitelist`): FFmpeg's other demuxers (playlists, image sequences, ...) never run
on an upload. Cover art (an attached picture) is allowed; any other video stream is refused.

Refused, with these messages:
    "file: empty"                                zero bytes
    "file: larger than 10 MiB (12.3 MiB)"        more bytes than max_bytes
    "file: not a decodable audio file (...)"     unknown or unreadable container
    "file: video is not accepted, only audio"    a real video stream
    "file: no audio stream"
    "file: unsupported audio codec gsm_ms in wav"
    "file: unsupported sample rate 500000 Hz"    outside 4 kHz .. 192 kHz
    "file: unsupported channel count 32"         more than 8
    "file: audio data is corrupt"                see "Damaged files" below; for ogg and
                                                 flac "(3.0 s of 5.0 s decoded)" may follow
    "file: audio is empty"                       a valid file with no samples
    "file: audio is silent"                      peak at or below -60 dBFS
    "file: audio samples are not finite numbers (NaN or infinity)"
                                                 float samples (e.g. a float WAV) that
                                                 are NaN or infinite
    "file: audio is longer than 300 s (312.4 s)" (the duration in parentheses is the one the
                                                 file declares, when it declares one)

Damaged files: a packet the decoder refuses is skipped, as players do, and an error while
reading the container ends the audio there, like a truncated file. Such a file is still
accepted if at least MIN_DAMAGED_SECONDS of audio decoded and at most a tenth of its packets
were refused; otherwise it is corrupt. Ogg and FLAC state their exact length in the file (the
last page's granule position, STREAMINFO), and their demuxers silently drop damaged pages or
frames, so there a decode more than MAX_MISSING_SECONDS shorter than the stated length is
corrupt too. Other formats cut short are accepted with what they hold: a WAV's length is
clamped to the data present, an mp3's may be a bitrate estimate, an m4a without its index
does not open.

Decompression bombs: decoding stops as soon as the output passes max_duration, so the work
is bounded by max_duration of input at <= MAX_SOURCE_RATE Hz and <= MAX_SOURCE_CHANNELS.

Thread safety: every call builds its own container, decoder and resampler and shares no
mutable state, so calls may run at once from any number of threads (e.g. via
`asyncio.to_thread`). It is CPU-bound. On the 2-core dev box a 5 s stereo 44.1 kHz file takes
5-12 ms (mp3 8 ms, flac 5 ms, opus 12 ms), a WAV 25 ms (FFmpeg scans its start when opening
it), a 300 s mp3 about 0.45 s.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt
from av.audio.codeccontext import AudioCodecContext
from av.audio.frame import AudioFrame
from av.audio.resampler import AudioResampler
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.stream import Disposition

SAMPLE_RATE = 8000
MAX_BYTES = 10 * 1024 * 1024
MAX_DURATION = 300.0
MIN_SOURCE_RATE = 4000
MAX_SOURCE_RATE = 192_000
MAX_SOURCE_CHANNELS = 8
MIN_DAMAGED_SECONDS = 0.5
MAX_MISSING_SECONDS = 0.25
# -60 dBFS of a 16-bit full scale (32768): peak sample values up to this count as silence.
SILENCE_PEAK = round(32768 * 10 ** (-60 / 20))

# FFmpeg demuxer name -> the short format name we report, and the codecs allowed in it.
_CONTAINERS: dict[str, tuple[str, frozenset[str]]] = {
    "mp3": ("mp3", frozenset({"mp3"})),
    "wav": ("wav", frozenset()),  # any pcm_* codec, checked by prefix
    "ogg": ("ogg", frozenset({"vorbis", "opus"})),
    "flac": ("flac", frozenset({"flac"})),
    "mov,mp4,m4a,3gp,3g2,mj2": ("m4a", frozenset({"aac", "alac"})),
}
# Containers whose declared length is exact, never a bitrate estimate (see "Damaged files").
_EXACT_LENGTH = frozenset({"ogg", "flac"})
# av_match_list() matches any comma-separated part, so "mov" admits the whole mov family.
_FORMAT_WHITELIST = "mp3,wav,ogg,flac,mov"
_NOT_AUDIO = "file: not a decodable audio file (expected mp3, wav, ogg, opus, flac or m4a)"
# Decoded sample formats that can hold NaN and infinity.
_FLOAT_FORMATS = frozenset({"flt", "fltp", "dbl", "dblp"})
# What PyAV raises on bad input: its own errors and ValueError (also UnicodeDecodeError).
_AV_ERRORS = (av.FFmpegError, ValueError, EOFError, OSError)


class InvalidAudio(ValueError):
    """The upload is not an acceptable voice file; the message is meant for the API client."""


@dataclass(frozen=True)
class DecodedVoice:
    """An upload decoded to 8 kHz mono signed 16-bit little-endian PCM."""

    pcm: bytes
    duration: float  # seconds of `pcm`
    format: str  # container: "mp3", "wav", "ogg", "flac" or "m4a"
    codec: str  # FFmpeg codec name: "mp3", "pcm_s16le", "vorbis", "opus", "aac", ...
    source_rate: int  # Hz, as decoded (Opus always decodes at 48000)
    source_channels: int


def decode_voice(
    data: bytes, *, max_duration: float = MAX_DURATION, max_bytes: int = MAX_BYTES
) -> DecodedVoice:
    """Decode an uploaded voice file, or raise InvalidAudio saying why it is refused."""
    if not data:
        raise InvalidAudio("file: empty")
    if len(data) > max_bytes:
        raise InvalidAudio(
            f"file: larger than {max_bytes / 2**20:g} MiB ({len(data) / 2**20:.1f} MiB)"
        )
    try:
        container = av.open(
            io.BytesIO(data),
            mode="r",
            options={"format_whitelist": _FORMAT_WHITELIST},
            metadata_errors="replace",
        )
    except _AV_ERRORS as exc:
        raise InvalidAudio(_NOT_AUDIO) from exc
    try:
        with container:
            return _decode(container, max_duration)
    except InvalidAudio:
        raise
    except _AV_ERRORS as exc:
        raise InvalidAudio(_NOT_AUDIO) from exc


def _decode(container: InputContainer, max_duration: float) -> DecodedVoice:
    if container.format.name not in _CONTAINERS:
        raise InvalidAudio(_NOT_AUDIO)
    fmt, codecs = _CONTAINERS[container.format.name]
    if any(
        s.type == "video" and not s.disposition & Disposition.attached_pic
        for s in container.streams
    ):
        raise InvalidAudio("file: video is not accepted, only audio")
    if not container.streams.audio:
        raise InvalidAudio("file: no audio stream")
    stream = container.streams.audio[0]
    # PyAV gives no codec context when FFmpeg has no decoder for the stream's codec.
    context: AudioCodecContext | None = stream.codec_context
    codec = "unknown" if context is None else context.codec.canonical_name
    if context is None or not (codec in codecs or (fmt == "wav" and codec.startswith("pcm_"))):
        raise InvalidAudio(f"file: unsupported audio codec {codec} in {fmt}")
    # The header's values, when it has them; every decoded frame is checked again.
    if context.sample_rate:
        _check_source(context.sample_rate, context.channels or 1)

    limit = int(max_duration * SAMPLE_RATE)
    converter = _Converter()
    packets = refused = 0
    read_error = False
    demuxer = container.demux(stream)
    while True:
        try:
            packet = next(demuxer)
        except StopIteration:
            break
        except _AV_ERRORS:
            read_error = True
            break
        if packet.size:  # the last, empty packet only flushes the decoder
            packets += 1
        try:
            frames = packet.decode()
        except _AV_ERRORS:
            refused += 1
            continue
        for frame in frames:
            _check_source(frame.sample_rate, frame.layout.nb_channels)
            _check_finite(frame)
            converter.push(frame)
            if converter.samples > limit:
                raise InvalidAudio(_too_long(max_duration, _declared_duration(container, stream)))
    converter.flush()
    if converter.samples > limit:
        raise InvalidAudio(_too_long(max_duration, _declared_duration(container, stream)))

    if (refused or read_error) and (
        converter.samples < MIN_DAMAGED_SECONDS * SAMPLE_RATE or refused * 10 > packets
    ):
        raise InvalidAudio("file: audio data is corrupt")
    declared = _declared_duration(container, stream)
    decoded = converter.samples / SAMPLE_RATE
    if fmt in _EXACT_LENGTH and declared is not None and declared - decoded > MAX_MISSING_SECONDS:
        raise InvalidAudio(
            f"file: audio data is corrupt ({decoded:.1f} s of {declared:.1f} s decoded)"
        )
    if converter.samples == 0:
        raise InvalidAudio("file: audio is empty")
    pcm = converter.pcm()
    if int(np.abs(pcm.astype(np.int32)).max()) <= SILENCE_PEAK:
        raise InvalidAudio("file: audio is silent")
    return DecodedVoice(
        pcm=pcm.astype("<i2", copy=False).tobytes(),
        duration=pcm.size / SAMPLE_RATE,
        format=fmt,
        codec=codec,
        source_rate=converter.source_rate,
        source_channels=converter.source_channels,
    )


class _Converter:
    """Resamples decoded frames to 8 kHz mono s16 and collects the result.

    The source format may change midway (chained ogg streams, mp3 frames switching between
    mono and stereo); PyAV's resampler cannot follow, so a new one takes over after the old
    one has been flushed. `source_rate` and `source_channels` are those of the first frame.
    """

    def __init__(self) -> None:
        self.samples = 0
        self.source_rate = 0
        self.source_channels = 0
        self._source: tuple[str, int, str] | None = None  # (sample format, rate, layout)
        self._resampler: AudioResampler | None = None
        self._chunks: list[npt.NDArray[np.int16]] = []

    def push(self, frame: AudioFrame) -> None:
        source = (frame.format.name, frame.sample_rate, frame.layout.name)
        if self._resampler is None or source != self._source:
            if self._resampler is None:
                self.source_rate, self.source_channels = frame.sample_rate, frame.layout.nb_channels
            self.flush()
            self._resampler = AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            self._source = source
        self._collect(self._resampler.resample(frame))

    def flush(self) -> None:
        if self._resampler is not None:
            self._collect(self._resampler.resample(None))

    def pcm(self) -> npt.NDArray[np.int16]:
        return np.concatenate(self._chunks) if self._chunks else np.zeros(0, dtype=np.int16)

    def _collect(self, frames: list[AudioFrame]) -> None:
        for frame in frames:
            # s16 mono: one plane, padded past the samples. The array keeps the frame alive.
            chunk = np.frombuffer(memoryview(frame.planes[0]), dtype=np.int16, count=frame.samples)
            self._chunks.append(chunk)
            self.samples += chunk.size


def _check_source(rate: int, channels: int) -> None:
    if not MIN_SOURCE_RATE <= rate <= MAX_SOURCE_RATE:
        raise InvalidAudio(f"file: unsupported sample rate {rate} Hz")
    if not 1 <= channels <= MAX_SOURCE_CHANNELS:
        raise InvalidAudio(f"file: unsupported channel count {channels}")


def _check_finite(frame: AudioFrame) -> None:
    # The resampler turns NaN into full-scale -32768 and infinity into a clipped peak: a
    # float WAV holding them would play as clicks (or pass the silence check as noise).
    if frame.format.name in _FLOAT_FORMATS and not np.isfinite(frame.to_ndarray()).all():
        raise InvalidAudio("file: audio samples are not finite numbers (NaN or infinity)")


def _declared_duration(container: InputContainer, stream: AudioStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _too_long(max_duration: float, declared: float | None) -> str:
    message = f"file: audio is longer than {max_duration:g} s"
    if declared is not None and declared > max_duration:
        message += f" ({declared:.1f} s)"
    return message
