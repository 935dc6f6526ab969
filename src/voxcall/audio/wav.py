"""The WAV files voxcall writes and reads back: PCM, mono, signed 16-bit little-endian.

`wav_bytes` wraps decoded PCM for download; `read_wav_pcm` reads such a file back and refuses
anything else (other sample widths, stereo, compressed WAV, truncated data) with ValueError.
Uploads of arbitrary WAV files go through `voxcall.audio.decode` instead.
"""

from __future__ import annotations

import io
import wave

_SAMPLE_WIDTH = 2  # bytes: 16-bit


def wav_bytes(pcm: bytes, sample_rate: int = 8000) -> bytes:
    """A standard 44-byte-header PCM WAV (mono, 16-bit) holding `pcm` (s16le)."""
    if len(pcm) % _SAMPLE_WIDTH:
        raise ValueError(f"pcm: odd length {len(pcm)}, not whole 16-bit samples")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate: must be positive, not {sample_rate}")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(_SAMPLE_WIDTH)
        out.setframerate(sample_rate)
        out.writeframes(pcm)
    return buf.getvalue()


def read_wav_pcm(data: bytes) -> tuple[bytes, int]:
    """(pcm, sample_rate) of a mono 16-bit PCM WAV such as `wav_bytes` writes."""
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            frames = wav.getnframes()
            pcm = wav.readframes(frames)
    # wave raises EOFError on a short chunk and RuntimeError when a chunk size points past
    # the end of the data.
    except (wave.Error, EOFError, RuntimeError) as exc:
        raise ValueError(f"wav: not a PCM WAV file ({str(exc) or 'truncated'})") from exc
    if channels != 1:
        raise ValueError(f"wav: {channels} channels, expected mono")
    if width != _SAMPLE_WIDTH:
        raise ValueError(f"wav: {8 * width}-bit samples, expected 16-bit")
    if rate <= 0:
        raise ValueError(f"wav: sample rate {rate}")
    if len(pcm) != frames * _SAMPLE_WIDTH:
        raise ValueError(f"wav: data holds {len(pcm)} bytes, header declares {frames * 2}")
    return pcm, rate
