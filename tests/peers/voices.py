"""Voices to play in peer tests, and the comparison of what a callee heard with what we sent."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from voxcall.dialers.base import Voice8k

RATE = Voice8k.SAMPLE_RATE


def tone(seconds: float, frequency: float = 440.0, level: float = 0.25) -> Voice8k:
    t = np.arange(round(seconds * RATE)) / RATE
    return Voice8k((np.sin(2 * np.pi * frequency * t) * level * 32767).astype("<i2").tobytes())


def chirp(seconds: float, low: float = 300.0, high: float = 3000.0, level: float = 0.3) -> Voice8k:
    """A linear sweep: unlike a tone, it lines up with itself at one lag only."""
    t = np.arange(round(seconds * RATE)) / RATE
    phase = 2 * np.pi * (low * t + (high - low) * t * t / (2 * seconds))
    return Voice8k((np.sin(phase) * level * 32767).astype("<i2").tobytes())


def speech(text: str, workdir: Path) -> Voice8k:
    """`text` spoken by espeak-ng, resampled to 8 kHz mono with PyAV (libswresample)."""
    wav = workdir / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), text], check=True)
    return Voice8k(decode_8k(wav).tobytes())


def decode_8k(path: Path) -> npt.NDArray[np.int16]:
    chunks: list[npt.NDArray[np.generic]] = []
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        for frame in container.decode(audio=0):
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
        chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(chunks).astype("<i2")


def aligned_correlation(sent: npt.NDArray[np.int16], heard: npt.NDArray[np.int16]) -> float:
    """Normalised cross-correlation of `heard` with `sent` at the lag that fits best,
    over the samples both cover (the callee may start late and stop early)."""
    a = sent.astype(np.float64)
    b = heard.astype(np.float64)
    size = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    full = np.fft.irfft(np.fft.rfft(b, size) * np.conj(np.fft.rfft(a, size)), size)
    lag = int(np.argmax(full))  # heard[i + lag] ~ sent[i]; a negative lag wraps around
    if lag > len(b):
        lag -= size
    start_a, start_b = max(0, -lag), max(0, lag)
    length = min(len(a) - start_a, len(b) - start_b)
    if length <= 0:
        return 0.0
    x, y = a[start_a : start_a + length], b[start_b : start_b + length]
    return float(np.dot(x, y) / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-12))
