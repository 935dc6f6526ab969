"""A labelled corpus for answering-machine detection, made with espeak-ng (issue 14).

    python -m bench.amd_corpus OUT_DIR [--humans 120] [--machines 120] [--seed 14]

writes OUT_DIR/NNN-human.wav and NNN-machine.wav (8 kHz mono 16-bit, what the callee's
side of a call sounds like after G.711) and OUT_DIR/labels.json, one entry per file:
{"file", "label": "human"|"machine", "language", "voice", "beep_end_ms" (null without a
beep), "beep_hz", "speech_end_ms"}. The same seed gives the same corpus byte for byte (with
the same espeak-ng). The audio is never committed: `bench/amd.py` makes it in a temporary
folder.

A human answer is a short "hello?" in Persian or English (one or two utterances), after 0.2
to 1.5 s, then the silence of someone waiting. A machine greeting is two to four sentences
with pauses between them, often after a moment of silence, then (for most) a beep of 400 to
2,000 Hz lasting 0.1 to 1.2 s, then the silence of a recorder. Every file gets: a random
espeak-ng voice variant, speed and pitch; a speech level of -32 to -14 dBFS; background
noise (none, white, pink or mains hum) at -65 to -42 dBFS; and a round trip through PCMA or
PCMU.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from voxcall.audio.decode import decode_voice
from voxcall.audio.wav import wav_bytes
from voxcall.dialers.sip.g711 import alaw_to_pcm, pcm_to_alaw, pcm_to_ulaw, ulaw_to_pcm

RATE = 8000
Signal = npt.NDArray[np.float64]

HUMAN_PHRASES = {
    "en": [
        "Hello?",
        "Hello.",
        "Yes?",
        "Hi.",
        "Hello, who is this?",
        "Yeah, hello?",
        "Speaking.",
        "Hi, hello?",
        "Yes, hello.",
        "Hello, yes?",
    ],
    "fa": [
        "الو؟",
        "بله؟",
        "بفرمایید.",
        "سلام.",
        "الو، بفرمایید.",
        "بله، بفرمایید؟",
        "سلام، بله؟",
        "الو، سلام.",
        "جانم؟",
        "بله، الو؟",
    ],
}
GREETING_SENTENCES = {
    "en": [
        "Hi, you have reached Sara.",
        "Hello, this is the Ahmadi residence.",
        "The person you are calling is not available right now.",
        "I can't take your call at the moment.",
        "Please leave your name and number after the tone.",
        "Please leave a message after the beep and I will call you back.",
        "Thank you for calling.",
        "We are either on the other line or away from the phone.",
        "Your call has been forwarded to an automatic voice message system.",
        "At the tone, please record your message.",
    ],
    "fa": [
        "سلام، با منزل احمدی تماس گرفته‌اید.",
        "مشترک مورد نظر در دسترس نمی‌باشد.",
        "در حال حاضر امکان پاسخگویی وجود ندارد.",
        "لطفاً پس از شنیدن صدای بوق پیغام بگذارید.",
        "لطفاً نام و شماره تماس خود را بگذارید.",
        "با تشکر از تماس شما.",
        "به محض امکان با شما تماس خواهم گرفت.",
        "سلام، من سارا هستم.",
        "تماس شما به صندوق صوتی منتقل شد.",
        "لطفاً پیام خود را پس از بوق ضبط کنید.",
    ],
}
VARIANTS = ["", "+f1", "+f2", "+f3", "+f4", "+m1", "+m2", "+m3", "+m4", "+klatt"]
VOICES = {"en": ["en-us", "en-gb"], "fa": ["fa"]}


@dataclass(frozen=True)
class Label:
    file: str
    label: str  # "human" or "machine"
    language: str
    voice: str
    text: str
    speech_end_ms: int
    beep_end_ms: int | None
    beep_hz: float | None


def speak(text: str, voice: str, speed: int, pitch: int) -> Signal:
    """espeak-ng's speech of `text` at 8 kHz, as floats of full scale 1.0."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-b", "1", "--stdout"],
        input=text.encode(),
        capture_output=True,
        check=True,
    ).stdout
    pcm = np.frombuffer(decode_voice(wav).pcm, dtype="<i2").astype(np.float64) / 32768
    # espeak-ng pads its output with silence: trim it, the corpus places its own pauses.
    loud = np.flatnonzero(np.abs(pcm) > 0.01)
    return pcm[loud[0] : loud[-1] + 1] if len(loud) else pcm


def silence(seconds: float) -> Signal:
    return np.zeros(round(seconds * RATE))


def at_level(speech: Signal, dbfs: float) -> Signal:
    """`speech` scaled so that its loud part has an RMS of `dbfs` relative to full scale."""
    loud = speech[np.abs(speech) > 0.02 * np.abs(speech).max()]
    rms = float(np.sqrt(np.mean(loud**2)))
    return speech * (10 ** (dbfs / 20) / rms)


def beep(rng: random.Random) -> tuple[Signal, float]:
    hz = rng.choice([425.0, 440.0, 800.0, 850.0, 1000.0, 1200.0, 1400.0, 1800.0, 1950.0])
    seconds = rng.uniform(0.1, 1.2)
    t = np.arange(round(seconds * RATE)) / RATE
    ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.005)  # 5 ms edges, no click
    return 10 ** (rng.uniform(-20, -10) / 20) * np.sqrt(2) * ramp * np.sin(2 * np.pi * hz * t), hz


def noise(rng: random.Random, nprng: np.random.Generator, length: int) -> tuple[Signal, str]:
    kind = rng.choice(["none", "white", "pink", "hum"])
    level = 10 ** (rng.uniform(-65, -42) / 20)
    if kind == "none":
        return np.zeros(length), kind
    if kind == "white":
        shaped = nprng.standard_normal(length)
    elif kind == "pink":
        spectrum = np.fft.rfft(nprng.standard_normal(length))
        spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
        shaped = np.fft.irfft(spectrum, length)
    else:
        t = np.arange(length) / RATE
        shaped = np.sin(2 * np.pi * 50 * t) + 0.5 * np.sin(2 * np.pi * 150 * t)
    return level * shaped / float(np.sqrt(np.mean(shaped**2))), kind


def g711_round_trip(signal: Signal, law: str) -> bytes:
    pcm = np.clip(np.round(signal * 32768), -32768, 32767).astype("<i2").tobytes()
    if law == "PCMA":
        return alaw_to_pcm(pcm_to_alaw(pcm))
    return ulaw_to_pcm(pcm_to_ulaw(pcm))


def human(rng: random.Random, language: str) -> tuple[list[Signal], str, dict[str, object]]:
    voice = rng.choice(VOICES[language]) + rng.choice(VARIANTS)
    speed, pitch = rng.randint(140, 200), rng.randint(30, 75)
    first = rng.choice(HUMAN_PHRASES[language])
    parts = [silence(rng.uniform(0.2, 1.5)), speak(first, voice, speed, pitch)]
    text = first
    if rng.random() < 0.25:  # "hello? ... hello?": nobody spoke, so they say it again
        again = rng.choice(HUMAN_PHRASES[language][:4])
        parts += [silence(rng.uniform(1.0, 1.8)), speak(again, voice, speed, pitch)]
        text += " … " + again
    return parts, text, {"voice": voice}


def machine(
    rng: random.Random, language: str
) -> tuple[list[Signal], str, dict[str, object], tuple[Signal, float] | None]:
    voice = rng.choice(VOICES[language]) + rng.choice(VARIANTS)
    speed, pitch = rng.randint(140, 190), rng.randint(30, 70)
    sentences = rng.sample(GREETING_SENTENCES[language], rng.randint(2, 4))
    parts = [silence(rng.uniform(0.05, 1.5))]
    for index, sentence in enumerate(sentences):
        if index:
            parts.append(silence(rng.uniform(0.15, 0.7)))
        parts.append(speak(sentence, voice, speed, pitch))
    with_beep = beep(rng) if rng.random() < 0.8 else None
    return parts, " ".join(sentences), {"voice": voice}, with_beep


def make(out: Path, humans: int, machines: int, seed: int) -> list[Label]:
    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    labels: list[Label] = []
    kinds = ["human"] * humans + ["machine"] * machines
    for index, kind in enumerate(kinds):
        language = rng.choice(["en", "fa"])
        beep_signal: tuple[Signal, float] | None = None
        if kind == "human":
            parts, text, info = human(rng, language)
        else:
            parts, text, info, beep_signal = machine(rng, language)
        level = rng.uniform(-32, -14)
        parts = [at_level(p, level) if p.any() else p for p in parts]
        speech_end = sum(len(p) for p in parts)
        beep_end: int | None = None
        if beep_signal is not None:
            parts += [silence(rng.uniform(0.2, 0.9)), beep_signal[0]]
            beep_end = sum(len(p) for p in parts)
        parts.append(silence(rng.uniform(3.0, 4.0)))  # waiting, or recording
        signal = np.concatenate(parts)
        background, noise_kind = noise(rng, nprng, len(signal))
        law = rng.choice(["PCMA", "PCMU"])
        name = f"{index:03d}-{kind}.wav"
        (out / name).write_bytes(wav_bytes(g711_round_trip(signal + background, law)))
        labels.append(
            Label(
                file=name,
                label=kind,
                language=language,
                voice=f"{info['voice']} {noise_kind} {law}",
                text=text,
                speech_end_ms=speech_end * 1000 // RATE,
                beep_end_ms=None if beep_end is None else beep_end * 1000 // RATE,
                beep_hz=None if beep_signal is None else beep_signal[1],
            )
        )
    (out / "labels.json").write_text(
        json.dumps([asdict(label) for label in labels], ensure_ascii=False, indent=1)
    )
    return labels


def read_labels(folder: Path) -> list[Label]:
    return [Label(**entry) for entry in json.loads((folder / "labels.json").read_text())]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--humans", type=int, default=120)
    parser.add_argument("--machines", type=int, default=120)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args(argv)
    labels = make(args.out, args.humans, args.machines, args.seed)
    print(f"{len(labels)} files in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
