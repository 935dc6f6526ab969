"""Text to speech with espeak-ng, as the 8 kHz mono 16-bit PCM that calls play.

`synthesize(text, language)` validates the text, runs
`espeak-ng -v VOICE -b 1 --stdin --stdout` with the text on its standard input (never on the
command line, so a text starting with "-" is spoken, not read as an option) and resamples
espeak-ng's 22050 Hz WAV through `voxcall.audio.decode.decode_voice`, the code path uploads
take. `tts_key(text, language)` is the cache key of what `synthesize` would say: two texts
with the same key give the same audio.

The text is canonicalised before it is hashed or spoken: NFC, control characters treated as
whitespace (espeak-ng stops reading at a NUL), runs of whitespace collapsed to one space,
none at the ends.

Refused with TtsError (a ValueError; the API answers 400 InvalidRequest):
    "language: must be one of fa, en"
    "text: must be 1 to 1000 characters"          counted before canonicalisation
    "text: not valid Unicode (unpaired surrogate)"
    "text: nothing to say"                        no letter, digit or symbol; or espeak-ng
                                                  made only silence of it
    "text: the speech would be longer than 300 s"
    "text: espeak-ng crashed on this text (SIGABRT)"
                                                  espeak-ng 1.51 has known crashes on some
                                                  inputs, e.g. "a." * 100 (a stack overflow)
Refused with TtsUnavailable (a TtsError, but the operator's problem, not the client's):
    "tts: espeak-ng is not installed"
    "tts: espeak-ng timed out after 10 s"
    "tts: espeak-ng failed (exit 1: Error: The specified espeak-ng voice does not exist.)"
    "tts: espeak-ng output is not usable audio (...)"

Thread safety: every call runs its own process and decoder and shares no mutable state, so
calls may run at once from any number of threads. On the 2-core dev box a 1000-character
Persian text (about 90 s of speech) takes about 0.15 s, a one-word prompt about 25 ms.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import selectors
import signal
import subprocess
import time
import unicodedata
from collections.abc import Mapping
from types import MappingProxyType

from voxcall.audio.decode import MAX_DURATION, InvalidAudio, decode_voice

# Our language codes -> espeak-ng voices.
LANGUAGES: Mapping[str, str] = MappingProxyType({"fa": "fa", "en": "en-us"})
MAX_TEXT = 1000  # characters
TIMEOUT = 10.0  # seconds for one espeak-ng run; a 1000-character text needs well under 1 s

_ESPEAK = "espeak-ng"
# espeak-ng's own voices speak at 22050 Hz, 16-bit mono: more bytes than this are more
# speech than MAX_DURATION (plus a second of slack for the header and rounding), so the
# process is stopped there instead of being read to the end.
_MAX_WAV_BYTES = int((MAX_DURATION + 1) * 22050 * 2)
_TOO_LONG = f"text: the speech would be longer than {MAX_DURATION:g} s"
# Signals that mean espeak-ng itself broke on the text, not that someone stopped it.
_CRASH_SIGNALS = frozenset(
    {signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL}
)


class TtsError(ValueError):
    """The text cannot be spoken; the message names the field and is meant for the client."""


class TtsUnavailable(TtsError):
    """espeak-ng is missing or broken: an operator problem, whatever the text."""


def voice(language: str) -> str:
    """The espeak-ng voice for one of our language codes, or TtsError."""
    try:
        return LANGUAGES[language]
    except KeyError:
        raise TtsError(f"language: must be one of {', '.join(LANGUAGES)}") from None


def tts_key(text: str, language: str) -> str:
    """Hex SHA-256 of language and canonical text: the cache key of `synthesize`'s result."""
    canonical = canonical_text(text, language)
    return hashlib.sha256(f"{language}\n{canonical}".encode()).hexdigest()


def synthesize(text: str, language: str = "fa") -> bytes:
    """`text` spoken in `language`, as 8 kHz mono s16le PCM; TtsError if it cannot be."""
    canonical = canonical_text(text, language)
    wav = _run_espeak(canonical, LANGUAGES[language])
    try:
        return decode_voice(wav, max_bytes=_MAX_WAV_BYTES).pcm
    except InvalidAudio as exc:
        message = str(exc)
        if message in ("file: audio is silent", "file: audio is empty"):
            raise TtsError("text: nothing to say") from exc
        if message.startswith("file: audio is longer than"):
            raise TtsError(_TOO_LONG) from exc
        raise TtsUnavailable(f"tts: espeak-ng output is not usable audio ({message})") from exc


def canonical_text(text: str, language: str) -> str:
    """`text` as it is hashed and spoken (the module's docstring); TtsError if refused."""
    voice(language)
    if not 1 <= len(text) <= MAX_TEXT:
        raise TtsError(f"text: must be 1 to {MAX_TEXT} characters")
    try:
        text.encode()
    except UnicodeEncodeError:  # JSON may carry "\ud800"; it has no UTF-8 form
        raise TtsError("text: not valid Unicode (unpaired surrogate)") from None
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    text = " ".join(text.split())
    # Letters, digits and symbols ("$", "%", emoji) are spoken; punctuation alone is not.
    if not any(unicodedata.category(c)[0] in "LNS" for c in text):
        raise TtsError("text: nothing to say")
    return text


def _run_espeak(text: str, espeak_voice: str) -> bytes:
    """espeak-ng's WAV of `text`; the text goes in on stdin, UTF-8 (`-b 1`)."""
    args = [_ESPEAK, "-v", espeak_voice, "-b", "1", "--stdin", "--stdout"]
    deadline = time.monotonic() + TIMEOUT
    try:
        process = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except FileNotFoundError:
        raise TtsUnavailable("tts: espeak-ng is not installed") from None
    with process:
        try:
            wav, errors = _communicate(process, text.encode(), deadline)
            returncode = process.wait(max(deadline - time.monotonic(), 0))
        except subprocess.TimeoutExpired:
            raise TtsUnavailable(f"tts: espeak-ng timed out after {TIMEOUT:g} s") from None
        finally:
            if process.returncode is None:
                process.kill()
                process.wait()
    if returncode < 0:
        name = _signal_name(-returncode)
        if -returncode in _CRASH_SIGNALS:
            raise TtsError(f"text: espeak-ng crashed on this text ({name})")
        raise TtsUnavailable(f"tts: espeak-ng was killed ({name})")
    if returncode > 0:
        first_line = next(iter(errors.decode(errors="replace").strip().splitlines()), "")
        raise TtsUnavailable(f"tts: espeak-ng failed (exit {returncode}: {first_line[:200]})")
    return wav


def _communicate(
    process: subprocess.Popen[bytes], data: bytes, deadline: float
) -> tuple[bytes, bytes]:
    """(stdout, stderr) of `process` fed `data`, stopping at the deadline or _MAX_WAV_BYTES.

    Like Popen.communicate, but with an output limit: a text may make espeak-ng talk for
    long, and nothing past MAX_DURATION would be kept anyway.
    """
    assert process.stdin and process.stdout and process.stderr
    # With --stdin espeak-ng reads all its input before it writes anything, and the text
    # (at most 12 kB: 4 bytes a character after NFC's at most threefold growth) fits a pipe's
    # buffer, so writing it all first cannot deadlock against the output.
    # BrokenPipeError: espeak-ng exited early; its exit status and stderr say why. close()
    # closes the pipe even when its flush fails.
    with contextlib.suppress(BrokenPipeError):
        process.stdin.write(data)
    with contextlib.suppress(BrokenPipeError):
        process.stdin.close()
    output: dict[int, list[bytes]] = {process.stdout.fileno(): [], process.stderr.fileno(): []}
    size = 0
    with selectors.DefaultSelector() as selector:
        for stream in (process.stdout, process.stderr):
            selector.register(stream, selectors.EVENT_READ)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise subprocess.TimeoutExpired(process.args, TIMEOUT)
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                output[key.fd].append(chunk)
                if key.fileobj is process.stdout:
                    size += len(chunk)
                    if size > _MAX_WAV_BYTES:
                        raise TtsError(_TOO_LONG)
    return b"".join(output[process.stdout.fileno()]), b"".join(output[process.stderr.fileno()])


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
