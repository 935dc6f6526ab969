"""otp_pcm and its digit prompts, with the real espeak-ng."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from voxcall.audio import otp, tts
from voxcall.audio.decode import SAMPLE_RATE, SILENCE_PEAK
from voxcall.audio.otp import (
    DIGIT_GAP,
    DIGIT_WORDS,
    PRELUDE_GAP,
    REPEAT_GAP,
    digit_prompt,
    otp_pcm,
)
from voxcall.audio.tts import TtsError, synthesize


def gap(seconds: float) -> int:
    """Bytes of `seconds` of 8 kHz 16-bit silence."""
    return 2 * round(seconds * SAMPLE_RATE)


@pytest.fixture
def espeak_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[tuple[str, str]]]:
    """An empty prompt cache, and a count of espeak-ng runs by (text, voice)."""
    runs: Counter[tuple[str, str]] = Counter()
    run = tts._run_espeak

    def counting(text: str, voice: str) -> bytes:
        runs[text, voice] += 1
        return run(text, voice)

    monkeypatch.setattr(otp, "_prompts", {})
    monkeypatch.setattr(tts, "_run_espeak", counting)
    yield runs


@pytest.mark.parametrize("language", ["fa", "en"])
def test_digits_are_placed_with_the_gaps_between_them(language: str) -> None:
    code = "90210"
    pcm = otp_pcm(code, language, repeat_count=2)
    prompts = [digit_prompt(d, language) for d in code]
    offset = 0
    for repetition in range(2):
        if repetition:
            assert pcm[offset : offset + gap(REPEAT_GAP)] == bytes(gap(REPEAT_GAP))
            offset += gap(REPEAT_GAP)
        for i, prompt in enumerate(prompts):
            if i:
                assert pcm[offset : offset + gap(DIGIT_GAP)] == bytes(gap(DIGIT_GAP))
                offset += gap(DIGIT_GAP)
            assert pcm.find(prompt, offset) == offset
            offset += len(prompt)
    assert offset == len(pcm)


def test_default_language_is_persian_and_default_repeat_is_2() -> None:
    assert otp_pcm("12") == otp_pcm("12", "fa", repeat_count=2)
    assert otp_pcm("12", "fa") != otp_pcm("12", "en")


def test_length_grows_with_digits_and_repeats() -> None:
    assert len(otp_pcm("12")) < len(otp_pcm("123")) < len(otp_pcm("1234"))
    once, twice, thrice = (len(otp_pcm("1234", repeat_count=n)) for n in (1, 2, 3))
    assert thrice / twice == pytest.approx(1.5, rel=0.1)
    assert thrice - twice == twice - once == once + gap(REPEAT_GAP)


def test_prelude_comes_first() -> None:
    prelude = synthesize("کد شما", "fa")
    pcm = otp_pcm("4711", "fa", prelude=prelude)
    assert pcm.startswith(prelude)
    rest = pcm[len(prelude) :]
    assert rest[: gap(PRELUDE_GAP)] == bytes(gap(PRELUDE_GAP))
    assert rest[gap(PRELUDE_GAP) :] == otp_pcm("4711", "fa")
    assert otp_pcm("4711", "fa", prelude=b"") == otp_pcm("4711", "fa")


@pytest.mark.parametrize("language", ["fa", "en"])
def test_prompts_are_the_digit_words_trimmed(language: str) -> None:
    for digit in "0123456789":
        prompt = np.frombuffer(digit_prompt(digit, language), dtype="<i2")
        whole = synthesize(DIGIT_WORDS[language][int(digit)], language)
        assert prompt.tobytes() in whole
        # espeak-ng ends a text with about 0.3 s of pause; it is gone, and so is the
        # silence before the word.
        assert len(whole) / 2 - prompt.size > 0.2 * SAMPLE_RATE
        assert abs(int(prompt[0])) > SILENCE_PEAK
        assert abs(int(prompt[-1])) > SILENCE_PEAK
        assert 0.15 < prompt.size / SAMPLE_RATE < 0.6


def test_persian_nine_is_noh_not_na() -> None:
    # "نه" alone is read "na" (no); espeak-ng reads the digit ۹ "noh", like "نُه".
    nine = digit_prompt("9", "fa")
    assert nine in synthesize("۹", "fa")
    assert nine not in synthesize("نه", "fa")


def test_espeak_runs_once_per_digit_and_language(espeak_runs: Counter[tuple[str, str]]) -> None:
    otp_pcm("1122", "fa")
    otp_pcm("2211", "fa", repeat_count=5)
    otp_pcm("21", "en", repeat_count=1)
    otp_pcm("12", "en", prelude=synthesize("Your code is", "en"))
    assert espeak_runs == {
        ("یک", "fa"): 1,
        ("دو", "fa"): 1,
        ("one", "en-us"): 1,
        ("two", "en-us"): 1,
        ("Your code is", "en-us"): 1,
    }


def test_threads_give_the_same_bytes_as_serial(espeak_runs: Counter[tuple[str, str]]) -> None:
    jobs = [("12345678", "fa", 2), ("87654321", "en", 3), ("09", "fa", 1), ("909", "en", 5)] * 4
    # Empty cache: the threads race to fill it.
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(lambda job: otp_pcm(job[0], job[1], repeat_count=job[2]), jobs))
    assert set(espeak_runs.values()) == {1}
    assert len(espeak_runs) == 10 + 10
    serial = [otp_pcm(code, language, repeat_count=n) for code, language, n in jobs]
    assert parallel == serial


@pytest.mark.parametrize(
    ("code", "language", "repeat_count", "message"),
    [
        ("", "fa", 2, "text: must be 1 to 8 digits"),
        ("123456789", "fa", 2, "text: must be 1 to 8 digits"),
        ("12a4", "fa", 2, "text: must be 1 to 8 digits"),
        (" 1234", "fa", 2, "text: must be 1 to 8 digits"),
        ("-1", "fa", 2, "text: must be 1 to 8 digits"),
        ("۱۲۳۴", "fa", 2, "text: must be 1 to 8 digits"),  # Persian digits
        ("١٢٣", "fa", 2, "text: must be 1 to 8 digits"),  # Arabic-Indic digits
        ("²", "fa", 2, "text: must be 1 to 8 digits"),
        ("1234", "fa", 0, "repeatCount: must be between 1 and 5"),
        ("1234", "fa", 6, "repeatCount: must be between 1 and 5"),
        ("1234", "de", 2, "language: must be one of fa, en"),
    ],
)
def test_refusals(code: str, language: str, repeat_count: int, message: str) -> None:
    with pytest.raises(TtsError) as info:
        otp_pcm(code, language, repeat_count=repeat_count)
    assert str(info.value) == message


def test_limits_are_accepted() -> None:
    assert len(otp_pcm("0", repeat_count=1)) == len(digit_prompt("0"))
    assert len(otp_pcm("12345678", repeat_count=5)) > len(otp_pcm("12345678", repeat_count=4))


def test_prelude_must_be_whole_samples() -> None:
    with pytest.raises(ValueError, match=r"^prelude: odd length 3, not whole 16-bit samples$"):
        otp_pcm("12", prelude=b"\x00\x01\x02")


@pytest.mark.parametrize("digit", ["", "12", "a", "\u06f1"])
def test_digit_prompt_refuses_other_than_one_digit(digit: str) -> None:
    with pytest.raises(TtsError, match=r"^digit: must be one of 0 to 9$"):
        digit_prompt(digit)
