"""synthesize and tts_key with the real espeak-ng, and with fake espeak-ng scripts for its
failures (a fake is put first on PATH; it is a real process, so pipes, exit statuses and
signals behave as they do in production)."""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from voxcall.audio import tts
from voxcall.audio.decode import SAMPLE_RATE, InvalidAudio
from voxcall.audio.tts import LANGUAGES, TtsError, TtsUnavailable, synthesize, tts_key

PERSIAN = "سلام، این یک پیام آزمایشی است."
ENGLISH = "Hello, this is a test message."
ESPEAK = shutil.which("espeak-ng")


def voiced_seconds(pcm: bytes) -> float:
    """Seconds of 20 ms frames louder than -40 dBFS RMS."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    frames = x[: x.size // 160 * 160].reshape(-1, 160)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    return float(np.count_nonzero(rms > 32768 * 0.01)) * 0.02


def refusal(text: str, language: str = "fa") -> TtsError:
    with pytest.raises(TtsError) as info:
        synthesize(text, language)
    return info.value


def fake_espeak(directory: Path, body: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Put a shell script named espeak-ng, alone, on PATH."""
    script = directory / "espeak-ng"
    script.write_text(f"#!/bin/sh\nulimit -c 0\n{body}\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(directory))


def test_languages() -> None:
    assert dict(LANGUAGES) == {"fa": "fa", "en": "en-us"}


@pytest.mark.parametrize(("text", "language"), [(PERSIAN, "fa"), (ENGLISH, "en")])
def test_speech_is_8khz_pcm_with_voice_in_it(text: str, language: str) -> None:
    pcm = synthesize(text, language)
    assert len(pcm) % 2 == 0
    assert 1.0 < len(pcm) / 2 / SAMPLE_RATE < 6.0
    assert voiced_seconds(pcm) >= 0.3


def test_persian_is_the_default_and_languages_differ() -> None:
    assert synthesize(PERSIAN) == synthesize(PERSIAN, "fa")
    # The same letters read by the two voices.
    assert synthesize("voxcall", "fa") != synthesize("voxcall", "en")


def test_same_text_gives_the_same_bytes() -> None:
    assert synthesize(PERSIAN, "fa") == synthesize(PERSIAN, "fa")
    assert synthesize(ENGLISH, "en") == synthesize(ENGLISH, "en")


def test_tts_key_is_sha256_of_language_and_canonical_text() -> None:
    key = tts_key("  سلام \t\n دنیا ", "fa")
    canonical = "سلام دنیا"
    assert key == hashlib.sha256(("fa\n" + canonical).encode()).hexdigest()
    assert key == tts_key("سلام دنیا", "fa")
    assert key != tts_key("سلام دنیا", "en")
    assert key != tts_key("سلام دنیا!", "fa")


def test_texts_with_the_same_key_sound_the_same() -> None:
    # NFC: e + combining acute is é; NUL and other control characters are whitespace
    # (espeak-ng would stop reading at the NUL).
    variants = ["cafe\u0301 time", " café\x00 time\n", "café\u00a0\u00a0time"]
    assert len({tts_key(v, "en") for v in variants}) == 1
    assert len({synthesize(v, "en") for v in variants}) == 1
    assert synthesize("hello\x00world", "en") == synthesize("hello world", "en")


@pytest.mark.parametrize("text", ["--help", "-v de", "--version", "-q -x hello"])
def test_text_like_an_option_is_spoken(text: str) -> None:
    assert voiced_seconds(synthesize(text, "en")) >= 0.3


def test_text_like_an_option_reaches_espeak_as_text(tmp_path: Path) -> None:
    target = tmp_path / "out.wav"
    # Were this an argument, espeak-ng would write the file and print nothing to stdout.
    pcm = synthesize(f"-w {target}", "en")
    assert voiced_seconds(pcm) >= 0.3
    assert not target.exists()
    # espeak-ng skips the dashes of a word, so "--help" sounds exactly like "help".
    assert synthesize("--help", "en") == synthesize("help", "en")


def test_text_goes_on_stdin_never_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ESPEAK is not None
    fake_espeak(
        tmp_path,
        f'printf "%s\\n" "$@" > {tmp_path}/argv\n'
        f"/bin/cat > {tmp_path}/stdin\n"
        f'exec {ESPEAK} "$@" < {tmp_path}/stdin',
        monkeypatch,
    )
    synthesize(" --help\n me ", "en")
    assert (tmp_path / "argv").read_text().split() == [
        "-v",
        "en-us",
        "-b",
        "1",
        "--stdin",
        "--stdout",
    ]
    assert (tmp_path / "stdin").read_bytes() == b"--help me"


@pytest.mark.parametrize(
    ("text", "language", "message"),
    [
        ("hello", "de", "language: must be one of fa, en"),
        ("hello", "FA", "language: must be one of fa, en"),
        ("", "fa", "text: must be 1 to 1000 characters"),
        ("x" * 1001, "fa", "text: must be 1 to 1000 characters"),
        (" " * 1001, "fa", "text: must be 1 to 1000 characters"),
        (" \t\n\u00a0", "fa", "text: nothing to say"),
        ("?!.،؛؟…", "fa", "text: nothing to say"),
        ("\x00\x07", "en", "text: nothing to say"),
        ("\u200c", "fa", "text: nothing to say"),  # zero-width non-joiner alone
        ("abc\ud800", "en", "text: not valid Unicode (unpaired surrogate)"),
    ],
)
def test_refusals(text: str, language: str, message: str) -> None:
    error = refusal(text, language)
    assert str(error) == message
    assert not isinstance(error, TtsUnavailable)
    with pytest.raises(TtsError, match=f"^{re.escape(message)}$"):
        tts_key(text, language)


def test_a_symbol_espeak_says_nothing_for_is_nothing_to_say() -> None:
    # "^" passes the letter/digit/symbol check, but espeak-ng makes only silence of it.
    assert str(refusal("^", "en")) == "text: nothing to say"


def test_1000_characters() -> None:
    text = ((PERSIAN + " ") * 40)[:1000]
    pcm = synthesize(text, "fa")
    assert len(pcm) / 2 / SAMPLE_RATE > 60
    assert voiced_seconds(pcm) > 30


def test_espeak_crash_on_a_text_is_the_clients_error() -> None:
    # espeak-ng 1.51 aborts on this input ("stack smashing detected"); a fixed espeak-ng
    # speaks it. Either way it must not look like an operator problem.
    try:
        pcm = synthesize("a." * 100, "en")
    except TtsUnavailable as exc:
        pytest.fail(f"TtsUnavailable: {exc}")
    except TtsError as exc:
        assert str(exc) == "text: espeak-ng crashed on this text (SIGABRT)"
    else:
        assert voiced_seconds(pcm) >= 0.3


def test_threads_give_the_same_bytes_as_serial() -> None:
    texts = [(f"{ENGLISH} {i}", "en") for i in range(4)] + [
        (f"{PERSIAN} {i}", "fa") for i in range(4)
    ]
    serial = [synthesize(t, lang) for t, lang in texts]
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(lambda args: synthesize(*args), texts))
    assert parallel == serial
    assert len(set(serial)) == len(texts)


# Failures of espeak-ng itself.


def test_missing_espeak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    error = refusal(PERSIAN)
    assert isinstance(error, TtsUnavailable)
    assert str(error) == "tts: espeak-ng is not installed"


@pytest.mark.parametrize(
    ("body", "message", "unavailable"),
    [
        (
            'echo "Error: The specified espeak-ng voice does not exist." >&2; exit 1',
            "tts: espeak-ng failed (exit 1: Error: The specified espeak-ng voice does not exist.)",
            True,
        ),
        ("exit 3", "tts: espeak-ng failed (exit 3: )", True),
        ("kill -SEGV $$", "text: espeak-ng crashed on this text (SIGSEGV)", False),
        ("kill -ABRT $$", "text: espeak-ng crashed on this text (SIGABRT)", False),
        ("kill -KILL $$", "tts: espeak-ng was killed (SIGKILL)", True),
        ("exec /bin/cat /dev/zero", "text: the speech would be longer than 300 s", False),
        ("true", "tts: espeak-ng output is not usable audio (file: empty)", True),
        (
            "printf 'not a wav file'",
            "tts: espeak-ng output is not usable audio (file: not a decodable audio file"
            " (expected mp3, wav, ogg, opus, flac or m4a))",
            True,
        ),
    ],
)
def test_espeak_failures(
    body: str, message: str, unavailable: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_espeak(tmp_path, body, monkeypatch)
    error = refusal(ENGLISH, "en")
    assert str(error) == message
    assert isinstance(error, TtsUnavailable) is unavailable


def test_speech_longer_than_the_voice_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ESPEAK is not None
    # Real espeak-ng speech padded to 300.3 s: under the byte limit, so it is the decoder's
    # duration check that refuses it.
    fake_espeak(
        tmp_path,
        f'{ESPEAK} "$@" > {tmp_path}/one.wav\n'
        f"/bin/cat {tmp_path}/one.wav\n"
        f"size=$(/usr/bin/stat -c %s {tmp_path}/one.wav)\n"
        f"/usr/bin/head -c $((300 * 44100 + 13230 + 44 - size)) /dev/zero",
        monkeypatch,
    )
    error = refusal(ENGLISH, "en")
    assert str(error) == "text: the speech would be longer than 300 s"
    assert isinstance(error.__cause__, InvalidAudio)


def test_timeout_kills_espeak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_espeak(tmp_path, f"echo $$ > {tmp_path}/pid\nexec /bin/sleep 30", monkeypatch)
    monkeypatch.setattr(tts, "TIMEOUT", 0.3)
    start = time.monotonic()
    error = refusal(ENGLISH, "en")
    assert time.monotonic() - start < 5
    assert isinstance(error, TtsUnavailable)
    assert str(error) == "tts: espeak-ng timed out after 0.3 s"
    pid = int((tmp_path / "pid").read_text())
    assert not Path(f"/proc/{pid}").exists()
