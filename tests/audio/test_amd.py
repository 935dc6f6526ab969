"""Answering-machine detection on generated audio: silence, noise, espeak-ng speech, beeps."""

from __future__ import annotations

import numpy as np
import pytest

from tests.audio.amd_samples import (
    GREETING_EN,
    GREETING_FA,
    RATE,
    Samples,
    noise,
    silence,
    speech,
    tone,
)
from voxcall.audio.amd import (
    FRAME_MS,
    FRAME_SAMPLES,
    AmdSettings,
    AnswerAnalysis,
    BeepDetector,
    Decision,
    GreetingEnd,
    MachineDetector,
    ToneFinder,
    Verdict,
    feed_many,
)

DEFAULTS = AmdSettings()


def ms(samples: Samples) -> int:
    return len(samples) * 1000 // RATE


def analyse(
    pcm: Samples,
    settings: AmdSettings = DEFAULTS,
    *,
    packet: int = FRAME_SAMPLES,
    voicemail: bool = False,
) -> tuple[Decision, GreetingEnd | None, list[Decision | GreetingEnd]]:
    analysis = AnswerAnalysis(settings, wait_for_greeting_end=voicemail)
    events: list[Decision | GreetingEnd] = []
    for start in range(0, len(pcm), packet):
        events += analysis.feed(pcm[start : start + packet])
    assert analysis.decision is not None
    return analysis.decision, analysis.greeting_end, events


def test_silence_is_a_machine_after_the_initial_silence() -> None:
    decision, _, _ = analyse(silence(4))
    assert decision == Decision(Verdict.MACHINE, "initial silence", 2500)


def test_background_noise_is_not_taken_for_words() -> None:
    decision, _, _ = analyse(noise(4, -45))
    assert decision == Decision(Verdict.MACHINE, "initial silence", 2500)


@pytest.mark.parametrize(("text", "language"), [("Hello?", "en"), ("الو؟", "fa")])
def test_one_hello_then_waiting_is_a_human(text: str, language: str) -> None:
    lead, word = silence(0.6), speech(text, language)
    decision, _, _ = analyse(np.concatenate((lead, word, silence(3))))
    assert decision.verdict is Verdict.HUMAN
    assert decision.reason == "silence after greeting"
    spoken_until = ms(lead) + ms(word)
    assert spoken_until + 800 <= decision.at_ms <= spoken_until + 800 + 2 * FRAME_MS


def test_a_hello_over_background_noise_is_a_human() -> None:
    word = speech("Hello?", "en")
    pcm = np.concatenate((silence(0.6), word, silence(3)))
    decision, _, _ = analyse(pcm + noise(len(pcm) / RATE, -50))
    assert decision.verdict is Verdict.HUMAN


@pytest.mark.parametrize(("text", "language"), [(GREETING_EN, "en"), (GREETING_FA, "fa")])
def test_a_long_greeting_is_a_machine_before_it_ends(text: str, language: str) -> None:
    greeting = speech(text, language)
    decision, _, _ = analyse(np.concatenate((silence(0.3), greeting, silence(3))))
    assert decision.verdict is Verdict.MACHINE
    assert decision.reason in ("long greeting", "max words")
    assert decision.at_ms < 300 + ms(greeting)


def test_the_voicemail_message_starts_at_the_end_of_the_beep() -> None:
    greeting, beep = speech(GREETING_EN, "en"), tone(0.5, 1000)
    before_beep = np.concatenate((silence(0.3), greeting, silence(0.4)))
    pcm = np.concatenate((before_beep, beep, silence(3)))
    decision, end, events = analyse(pcm, voicemail=True)
    assert decision.verdict is Verdict.MACHINE
    assert end is not None and end.reason == "beep"
    assert end.beep_hz == pytest.approx(1000, abs=10)
    beep_end = ms(before_beep) + ms(beep)
    assert beep_end < end.at_ms <= beep_end + 2 * FRAME_MS
    assert events == [decision, end]


def test_without_a_beep_the_message_starts_after_the_greeting_s_silence() -> None:
    lead, greeting = silence(0.3), speech(GREETING_FA, "fa")
    _, end, _ = analyse(np.concatenate((lead, greeting, silence(3))), voicemail=True)
    assert end is not None and end.reason == "silence"
    spoken_until = ms(lead) + ms(greeting)
    assert spoken_until + 1500 <= end.at_ms <= spoken_until + 1500 + 2 * FRAME_MS


def test_a_greeting_that_never_ends_is_cut_at_its_bound() -> None:
    settings = AmdSettings(greeting_max_ms=6000)
    greeting = speech(GREETING_EN, "en")
    _, end, _ = analyse(np.concatenate([greeting] * 4), settings, voicemail=True)
    assert end == GreetingEnd("greeting too long", 6000)


def test_a_beep_before_the_decision_means_a_machine() -> None:
    pcm = np.concatenate((silence(0.5), tone(0.3, 850), silence(3)))
    decision, _, _ = analyse(pcm)
    assert decision.verdict is Verdict.MACHINE and decision.reason == "beep"


def test_without_voicemail_the_analysis_ends_at_the_decision() -> None:
    analysis = AnswerAnalysis(DEFAULTS)
    events = analysis.feed(np.concatenate((speech(GREETING_EN, "en"), tone(0.5, 1000))))
    assert [type(event) for event in events] == [Decision]
    assert analysis.done and analysis.feed(tone(0.5, 1000)) == []


def test_packets_of_30_ms_give_the_same_answer_as_20_ms() -> None:
    pcm = np.concatenate((silence(0.4), speech(GREETING_EN, "en"), silence(0.5), tone(0.4, 440)))
    assert analyse(pcm, packet=240, voicemail=True) == analyse(pcm, voicemail=True)


def test_the_decision_is_bounded_by_the_total_analysis_time() -> None:
    # Short words with pauses shorter than the after-greeting silence, forever: only the
    # bound decides (max_words raised so that it does not).
    settings = AmdSettings(max_words=100)
    detector = MachineDetector(settings)
    pattern = [True] * 6 + [False] * 30  # 120 ms of voice, 600 ms of silence
    decisions = [detector.feed(voice) for voice in pattern * 10]
    decided = [d for d in decisions if d is not None]
    assert decided[0] == Decision(Verdict.UNKNOWN, "too long", 5000)


@pytest.mark.parametrize(
    ("run_ms", "is_beep"), [(80, False), (100, True), (1500, True), (1520, False)]
)
def test_a_beep_lasts_100_ms_to_1_5_s(run_ms: int, is_beep: bool) -> None:
    detector = BeepDetector(DEFAULTS)
    heard = [detector.feed(1000.0) for _ in range(run_ms // FRAME_MS)]
    assert heard == [None] * len(heard)
    assert detector.feed(None) == (1000.0 if is_beep else None)


def test_a_tone_that_glides_is_not_a_beep() -> None:
    detector = BeepDetector(DEFAULTS)
    heard = [detector.feed(700.0 + 20 * i) for i in range(10)] + [detector.feed(None)]
    assert heard == [None] * 11


@pytest.mark.parametrize("hz", [400, 425, 1000, 1950])
def test_tones_in_the_beep_band_are_found(hz: float) -> None:
    frame = tone(FRAME_MS / 1000, hz)[:FRAME_SAMPLES].astype(np.float32)
    found = ToneFinder(DEFAULTS)(frame)
    assert found is not None and found == pytest.approx(hz, abs=15)


@pytest.mark.parametrize("hz", [300, 2500])
def test_tones_outside_the_beep_band_are_not(hz: float) -> None:
    frame = tone(FRAME_MS / 1000, hz)[:FRAME_SAMPLES].astype(np.float32)
    assert ToneFinder(DEFAULTS)(frame) is None


@pytest.mark.parametrize(
    ("text", "language"),
    [(GREETING_EN, "en"), (GREETING_FA, "fa"), ("Hello, who is this? Yes, hello.", "en")],
)
def test_speech_holds_no_beep(text: str, language: str) -> None:
    pcm = speech(text, language)
    detector, find_tone = BeepDetector(DEFAULTS), ToneFinder(DEFAULTS)
    frames = pcm[: len(pcm) // FRAME_SAMPLES * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)
    beeps = [detector.feed(find_tone(f.astype(np.float32))) for f in frames]
    assert [b for b in beeps if b is not None] == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"total_analysis_ms": 5001}, "at most 5000"),
        ({"greeting_max_ms": 30001}, "greeting_max_ms: at most 30000"),
        ({"greeting_ms": 0}, "greeting_ms: 0 is not a positive whole number"),
        ({"silence_threshold_dbfs": 3}, "silence_threshold_dbfs: 3 is not -90 to 0"),
        ({"beep_low_hz": 2500}, "need 0 < low < high < 4000"),
        ({"beep_min_ms": 2000}, "beep_min_ms: longer than beep_max_ms"),
        ({"beep_purity_percent": 101}, "at most 100"),
    ],
)
def test_settings_that_make_no_sense_are_refused(change: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AmdSettings(**change)


def test_calls_fed_together_learn_what_each_learns_alone() -> None:
    # feed_many puts the frames of all calls through the level and tone passes at once:
    # each call must learn the same things, at the same moments, as fed alone.
    rng = np.random.default_rng(17)
    greeting = speech(GREETING_EN, "en")
    calls = [
        (np.concatenate((silence(0.3), speech("hello?", "en"), silence(3))), False),
        (np.concatenate((silence(0.3), greeting, tone(0.5, 1000), silence(3))), True),
        (np.concatenate((silence(0.2), speech(GREETING_FA, "fa"), silence(4))), True),
        (silence(4), False),
        (noise(4, -45), True),
        (np.concatenate((greeting, tone(0.4, 1400), silence(2))), False),
    ]
    settings = [DEFAULTS, DEFAULTS, AmdSettings(beep_low_hz=600), DEFAULTS, DEFAULTS, DEFAULTS]
    together = [
        AnswerAnalysis(s, wait_for_greeting_end=voicemail)
        for s, (_, voicemail) in zip(settings, calls, strict=True)
    ]
    alone = [
        AnswerAnalysis(s, wait_for_greeting_end=voicemail)
        for s, (_, voicemail) in zip(settings, calls, strict=True)
    ]
    learnt_together: list[list[Decision | GreetingEnd]] = [[] for _ in calls]
    learnt_alone: list[list[Decision | GreetingEnd]] = [[] for _ in calls]
    offsets = [0] * len(calls)
    while any(offset < len(pcm) for offset, (pcm, _) in zip(offsets, calls, strict=True)):
        pieces = []
        for index, (pcm, _) in enumerate(calls):
            size = int(rng.integers(0, 4 * FRAME_SAMPLES))  # also pieces of no whole frame
            pieces.append(pcm[offsets[index] : offsets[index] + size])
            offsets[index] += size
        for index, found in enumerate(feed_many(together, pieces)):
            learnt_together[index] += found
        for index, (analysis, piece) in enumerate(zip(alone, pieces, strict=True)):
            learnt_alone[index] += analysis.feed(piece)
    assert learnt_together == learnt_alone
    assert all(found for found in learnt_together)  # each call decided
    assert any(isinstance(item, GreetingEnd) for found in learnt_together for item in found)
