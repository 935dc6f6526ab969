"""Answering-machine detection scored on a labelled corpus (issue 14).

    python -m bench.amd [--corpus DIR] [--seed 14] [--humans 120] [--machines 120]

Without --corpus, `bench/amd_corpus.py` makes one in a temporary folder. Every file goes
through `voxcall.audio.amd.AnswerAnalysis` in 20 ms packets, as a call's decoded audio
reaches it, in the `voicemail` setting (the decision, then on a machine the end of its
greeting). Prints the confusion matrix, the accuracy, the decision time percentiles of humans
and of machines, and, for greetings with a beep, how long after the end of the beep the
message would start (negative: it would start before the beep ended).
"""

from __future__ import annotations

import argparse
import collections
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.amd_corpus import Label, make, read_labels
from voxcall.audio.amd import AmdSettings, AnswerAnalysis, Decision, GreetingEnd, Verdict
from voxcall.audio.wav import read_wav_pcm

PACKET = 160  # samples: a 20 ms RTP packet
TARGET_ACCURACY = 0.95
TARGET_HUMAN_P50_MS = 2500
TARGET_BEEP_DELAY_MS = 1000


@dataclass(frozen=True)
class Scored:
    label: Label
    decision: Decision
    greeting_end: GreetingEnd | None


def analyse(pcm: bytes, settings: AmdSettings) -> tuple[Decision, GreetingEnd | None]:
    """What a call in `voicemail` mode learns from `pcm`, packet by packet."""
    analysis = AnswerAnalysis(settings, wait_for_greeting_end=True)
    samples = np.frombuffer(pcm, dtype="<i2")
    for start in range(0, len(samples), PACKET):
        analysis.feed(samples[start : start + PACKET])
        if analysis.done:
            break
    assert analysis.decision is not None, "the decision is bounded by total_analysis_ms"
    return analysis.decision, analysis.greeting_end


def score(folder: Path, settings: AmdSettings) -> list[Scored]:
    scored = []
    for label in read_labels(folder):
        pcm, _ = read_wav_pcm((folder / label.file).read_bytes())
        decision, end = analyse(pcm, settings)
        scored.append(Scored(label, decision, end))
    return scored


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (NaN when empty)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def report(scored: list[Scored]) -> str:
    verdicts = [v.value for v in Verdict]
    matrix = collections.Counter((s.label.label, s.decision.verdict.value) for s in scored)
    lines = [
        "| actual \\ decided | " + " | ".join(verdicts) + " |",
        "|---|" + "---|" * len(verdicts),
    ]
    for actual in ("human", "machine"):
        row = " | ".join(str(matrix[actual, decided]) for decided in verdicts)
        lines.append(f"| {actual} | {row} |")
    right = sum(matrix[kind, kind] for kind in ("human", "machine"))
    accuracy = right / len(scored)
    lines += ["", f"accuracy {right}/{len(scored)} = {accuracy:.1%} (target >= 95%)", ""]
    lines += ["| decision time, ms | n | p50 | p90 | p99 | max |", "|---|---|---|---|---|---|"]
    for kind in ("human", "machine"):
        times = [s.decision.at_ms for s in scored if s.label.label == kind]
        lines.append(
            f"| {kind} | {len(times)} | {percentile(times, 50):.0f} | {percentile(times, 90):.0f}"
            f" | {percentile(times, 99):.0f} | {max(times, default=0)} |"
        )
    human_p50 = percentile([s.decision.at_ms for s in scored if s.label.label == "human"], 50)
    delays = [
        s.greeting_end.at_ms - s.label.beep_end_ms
        for s in scored
        if s.label.beep_end_ms is not None
        and s.greeting_end is not None
        and s.decision.verdict is Verdict.MACHINE
    ]
    with_beep = [s for s in scored if s.label.beep_end_ms is not None]
    ends = collections.Counter(
        s.greeting_end.reason for s in with_beep if s.greeting_end is not None
    )
    early = sum(1 for d in delays if d < 0)
    late = sum(1 for d in delays if d > TARGET_BEEP_DELAY_MS)
    lines += [
        "",
        f"humans decided at p50 {human_p50:.0f} ms (target <= {TARGET_HUMAN_P50_MS} ms)",
        "",
        f"voicemail, {len(with_beep)} greetings with a beep, {len(delays)} found machines:"
        f" message start after the end of the beep p50 {percentile(delays, 50):.0f} ms,"
        f" p90 {percentile(delays, 90):.0f} ms, max {max(delays, default=0)} ms;"
        f" {early} before the beep ended, {late} more than {TARGET_BEEP_DELAY_MS} ms after;"
        f" greeting end by {dict(ends)}",
    ]
    without = [s for s in scored if s.label.label == "machine" and s.label.beep_end_ms is None]
    without_ends = collections.Counter(
        s.greeting_end.reason for s in without if s.greeting_end is not None
    )
    after_speech = [s.greeting_end.at_ms - s.label.speech_end_ms for s in without if s.greeting_end]
    lines.append(
        f"voicemail, {len(without)} greetings without a beep: greeting end by"
        f" {dict(without_ends)}, after the speech ended p50 {percentile(after_speech, 50):.0f} ms"
    )
    verdict = (
        accuracy >= TARGET_ACCURACY
        and human_p50 <= TARGET_HUMAN_P50_MS
        and early == 0
        and late == 0
    )
    lines += ["", f"targets: {'met' if verdict else 'NOT met'}"]
    return "\n".join(lines)


def mistakes(scored: list[Scored]) -> str:
    return "\n".join(
        f"  {s.label.file} {s.label.voice} decided {s.decision.verdict.value}"
        f" ({s.decision.reason}) at {s.decision.at_ms} ms: {s.label.text}"
        for s in scored
        if s.decision.verdict.value != s.label.label
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, help="a folder from bench.amd_corpus")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--humans", type=int, default=120)
    parser.add_argument("--machines", type=int, default=120)
    parser.add_argument("--mistakes", action="store_true", help="list the wrong decisions")
    args = parser.parse_args(argv)
    settings = AmdSettings()
    with tempfile.TemporaryDirectory(prefix="voxcall-amd-") as temporary:
        folder = args.corpus or Path(temporary)
        if args.corpus is None:
            make(folder, args.humans, args.machines, args.seed)
        scored = score(folder, settings)
    print(f"## Answering-machine detection, corpus seed {args.seed}, {len(scored)} files\n")
    print(report(scored))
    if args.mistakes:
        print(mistakes(scored))


if __name__ == "__main__":
    main()
