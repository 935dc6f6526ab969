"""Audio for the answering-machine detection tests: espeak-ng speech, silence, noise, tones,
as 8 kHz int16 samples."""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from voxcall.audio.tts import synthesize

RATE = 8000
Samples = npt.NDArray[np.int16]
GREETING_EN = (
    "Hello, you have reached Sara and Ali. We cannot take your call right now. "
    "Please leave your name and number after the tone."
)
GREETING_FA = "سلام، با منزل احمدی تماس گرفته‌اید. لطفاً پس از شنیدن صدای بوق پیغام بگذارید."


@functools.cache
def speech(text: str, language: str) -> Samples:
    """espeak-ng's speech at 8 kHz, trimmed of its own leading and trailing silence."""
    pcm = np.frombuffer(synthesize(text, language), dtype="<i2")
    loud = np.flatnonzero(np.abs(pcm) > 300)
    return pcm[loud[0] : loud[-1] + 1]


def silence(seconds: float) -> Samples:
    return np.zeros(round(seconds * RATE), np.int16)


def noise(seconds: float, dbfs: float, seed: int = 1) -> Samples:
    rms = 32768 * 10 ** (dbfs / 20)
    white = np.random.default_rng(seed).standard_normal(round(seconds * RATE)) * rms
    return np.round(white).astype(np.int16)


def tone(seconds: float, hz: float, dbfs: float = -15.0) -> Samples:
    t = np.arange(round(seconds * RATE)) / RATE
    amplitude = 32768 * 10 ** (dbfs / 20) * np.sqrt(2)
    return np.round(amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int16)
