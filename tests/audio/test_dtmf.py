"""The in-band DTMF detector: every key through G.711, the ITU-T Q.24 limits (duration,
pause, frequency, twist, level), noise, and no key at all in speech and music."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from tests.audio.amd_samples import GREETING_EN, GREETING_FA, speech
from tests.audio.dtmf_signals import DBM0, dyads, g711, key_tone, music, pause
from voxcall.audio.dtmf import KEYPAD, DtmfChecks, DtmfDetector, feed_many
from voxcall.dialers.sip.g711 import alaw_to_samples, ulaw_to_samples

ALL_KEYS = "".join(KEYPAD)
TRIALS = 40  # random alignments of a tone to the detector's blocks


def g711_samples(
    signal: npt.NDArray[np.floating] | npt.NDArray[np.int16], law: str = "PCMU"
) -> npt.NDArray[np.int16]:
    """`signal` after a G.711 round trip."""
    coded = g711(signal, law)
    return ulaw_to_samples(coded) if law == "PCMU" else alaw_to_samples(coded)


def heard(signal: npt.NDArray[np.floating] | npt.NDArray[np.int16], law: str = "PCMU") -> list[str]:
    """The keys found in `signal` after a G.711 round trip, fed in 20 ms packets."""
    samples = g711_samples(signal, law)
    detector = DtmfDetector()
    keys = []
    for start in range(0, len(samples), 160):
        keys += detector.feed(samples[start : start + 160])
    return keys


def pressed(*parts: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.concatenate([pause(50), *parts, pause(100)])


@pytest.mark.parametrize("law", ["PCMU", "PCMA"])
def test_every_key_in_both_laws(law: str) -> None:
    rng = np.random.default_rng(1)
    signal = np.concatenate(
        [np.concatenate([key_tone(k, 70, rng=rng), pause(60)]) for k in ALL_KEYS]
    )
    assert "".join(heard(pressed(signal), law)) == ALL_KEYS


def how_often(make: object, trials: int = TRIALS) -> float:
    """The share of `trials` random alignments in which exactly the one key is heard."""
    rng = np.random.default_rng(7)
    found = 0
    for _ in range(trials):
        lead = pause(rng.uniform(0, 20))
        signal = make(rng)  # type: ignore[operator]
        found += heard(pressed(lead, signal)) == ["5"]
    return found / trials


@pytest.mark.parametrize(("ms", "share"), [(40, 1.0), (60, 1.0), (25, 0.0), (20, 0.0)])
def test_duration(ms: float, share: float) -> None:
    # Q.24: a tone of 40 ms must count; one of 23 ms or less must not.
    assert how_often(lambda rng: key_tone("5", ms, rng=rng)) == share


@pytest.mark.parametrize(
    ("offset", "share"), [(0.015, 1.0), (-0.015, 1.0), (0.035, 0.0), (-0.035, 0.0)]
)
def test_frequency_tolerance(offset: float, share: float) -> None:
    assert how_often(lambda rng: key_tone("5", 80, offset=offset, rng=rng)) == share


@pytest.mark.parametrize(
    ("twist", "share"),
    [(-7.0, 1.0), (3.0, 1.0), (-10.0, 0.0), (6.0, 0.0)],  # normal twist 8 dB, reverse 4 dB
)
def test_twist(twist: float, share: float) -> None:
    assert how_often(lambda rng: key_tone("5", 80, twist=twist, rng=rng)) == share


@pytest.mark.parametrize(("level", "share"), [(-30.0, 1.0), (-3.0, 1.0), (-38.0, 0.0)])
def test_level(level: float, share: float) -> None:
    assert how_often(lambda rng: key_tone("5", 80, level=level, rng=rng)) == share


def test_pauses_separate_presses_and_short_interruptions_do_not() -> None:
    rng = np.random.default_rng(3)
    press = key_tone("7", 60, rng=rng)
    assert heard(pressed(press, pause(40), press, pause(10), press)) == ["7", "7"]
    assert heard(pressed(press, pause(40), key_tone("8", 60, rng=rng))) == ["7", "8"]


def test_a_held_key_counts_once() -> None:
    assert heard(pressed(key_tone("#", 2000))) == ["#"]


def test_keys_in_noise() -> None:
    rng = np.random.default_rng(5)
    tones = np.concatenate(
        [np.concatenate([key_tone(k, 80, level=-15, rng=rng), pause(80)]) for k in "159#"]
    )
    signal = pressed(tones)
    noise_rms = DBM0 * 10 ** (-15 / 20) * 10 ** (-15 / 20)  # 15 dB below the two tones
    assert heard(signal + rng.normal(0, noise_rms, len(signal))) == list("159#")


SPEECH = [
    (GREETING_EN, "en"),
    (GREETING_FA, "fa"),
    (
        "Press one to confirm your appointment, two to cancel, or star to hear this again. "
        "Your order four eight two one arrives on Tuesday between nine and eleven.",
        "en",
    ),
    ("برای تایید نوبت عدد یک و برای لغو عدد دو را فشار دهید. سفارش شما فردا ارسال می شود.", "fa"),
]


@pytest.mark.parametrize(("text", "language"), SPEECH, ids=["en", "fa", "en-menu", "fa-menu"])
@pytest.mark.parametrize("law", ["PCMU", "PCMA"])
def test_speech_is_no_key(text: str, language: str, law: str) -> None:
    voice = speech(text, language)
    assert len(voice) > 8000 * 3
    assert heard(voice, law) == []
    assert heard(voice.astype(np.float64) * 4, law) == []  # loud, clipping speech too


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_music_is_no_key(seed: int) -> None:
    assert heard(music(30, seed)) == []
    assert heard(dyads(30, seed)) == []


def test_streams_fed_together_hear_what_each_hears_alone() -> None:
    # feed_many puts every stream's hops through one product and the blocks through one
    # pass: no block may mix two streams, and each keeps its own state between feeds.
    rng = np.random.default_rng(11)
    presses = ["".join(rng.choice(list(ALL_KEYS), 4)) for _ in range(6)]
    streams = [
        g711_samples(
            pressed(
                *[
                    np.concatenate([key_tone(k, 60, rng=rng), pause(rng.uniform(40, 90))])
                    for k in keys
                ]
            )
        )
        for keys in presses
    ]
    # Detectors with checks of their own are fed apart from those with the default ones.
    detectors = [DtmfDetector(DtmfChecks() if i % 2 else None) for i in range(len(streams))]
    found = ["" for _ in streams]
    offsets = [0] * len(streams)
    while any(offset < len(s) for offset, s in zip(offsets, streams, strict=True)):
        pieces = []
        for index, samples in enumerate(streams):
            size = int(rng.integers(0, 900))  # short pieces make no whole block
            pieces.append(samples[offsets[index] : offsets[index] + size])
            offsets[index] += size
        for index, keys in enumerate(feed_many(detectors, pieces)):
            found[index] += "".join(keys)
    assert found == presses
