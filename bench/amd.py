"""Answering-machine detection scored on a labelled corpus (issue 14).

    python -m bench.amd [--corpus DIR] [--seed 14] [--humans 120] [--machines 120] [--sip 20]

Without --corpus, `bench/amd_corpus.py` makes one in a temporary folder. Every file goes
through `voxcall.audio.amd.AnswerAnalysis` in 20 ms packets, as a call's decoded audio
reaches it, in the `voicemail` setting (the decision, then on a machine the end of its
greeting). Prints the confusion matrix, the accuracy, the decision time percentiles of humans
and of machines, and, for greetings with a beep, how long after the end of the beep the
message would start (negative: it would start before the beep ended).

Then `--sip` files (half humans, half machines with a beep, drawn with the seed) go through
real calls in `voicemail` mode: a SipDialer calls baresip, which answers and says the file
(its `aufile` source, from the answer on), five calls at a time. Prints how many decisions
agree with the label and with the analysis above, and when the message started against the
end of the beep, measured from the 200 OK (baresip starts its file a few tens of ms before
the 200 reaches us, so a few tens of ms early is the same moment).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import math
import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.amd_corpus import Label, make, read_labels
from tests.peers.baresip import BaresipFactory
from tests.peers.dialing import NUMBER, dial_request, running_dialer
from tests.peers.net import stop
from tests.peers.voices import tone
from voxcall.audio.amd import AmdSettings, AnswerAnalysis, Decision, GreetingEnd, Verdict
from voxcall.audio.wav import read_wav_pcm
from voxcall.dialers.base import AttemptOutcome
from voxcall.dialers.sip.media import PlaybackReport
from voxcall.domain.interaction import AnsweredBy, MachineDetection

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


@dataclass(frozen=True)
class SipCall:
    label: Label
    offline: Verdict  # what the analysis of the file decided
    outcome: AttemptOutcome
    message_at: float | None  # seconds from the 200 OK to the message's first packet


async def sip_call(
    folder: Path,
    scored: Scored,
    callees: BaresipFactory,
    slots: asyncio.Semaphore,
    starting: asyncio.Lock,
) -> SipCall:
    async with slots:
        async with starting:  # the factory numbers its callees' folders
            callee = await asyncio.to_thread(callees, NUMBER, source=folder / scored.label.file)
        try:
            async with running_dialer(callee.trunk) as dialer:
                played: list[float] = []
                play = dialer._pacer.play

                def play_and_note(*args: Any) -> asyncio.Future[PlaybackReport]:
                    played.append(time.time())
                    return play(*args)

                dialer._pacer.play = play_and_note  # type: ignore[method-assign]
                request = dataclasses.replace(
                    dial_request(tone(1.0, 600)), machine_detection=MachineDetection.VOICEMAIL
                )
                outcome = await dialer.dial(request)
        finally:
            await asyncio.to_thread(stop, callee.process, timeout=3.0)
    answered = outcome.answered_at
    message_at = played[0] - answered if played and answered is not None else None
    return SipCall(scored.label, scored.decision.verdict, outcome, message_at)


async def sip_sample(folder: Path, scored: list[Scored], count: int, seed: int) -> list[SipCall]:
    rng = random.Random(seed)
    humans = [s for s in scored if s.label.label == "human"]
    machines = [s for s in scored if s.label.beep_end_ms is not None]
    sample = rng.sample(humans, count // 2) + rng.sample(machines, count - count // 2)
    slots, starting = asyncio.Semaphore(5), asyncio.Lock()
    with tempfile.TemporaryDirectory(prefix="voxcall-amd-sip-") as work:
        callees = BaresipFactory(Path(work))
        calls = [sip_call(folder, s, callees, slots, starting) for s in sample]
        return list(await asyncio.gather(*calls))


def sip_report(calls: list[SipCall]) -> str:
    def heard(call: SipCall) -> str:
        by = call.outcome.answered_by
        return by.value if isinstance(by, AnsweredBy) else "none"

    right = sum(heard(c) == c.label.label for c in calls)
    agree = sum(heard(c) == c.offline.value for c in calls)
    delays = [
        round(c.message_at * 1000) - c.label.beep_end_ms
        for c in calls
        if c.message_at is not None and c.label.beep_end_ms is not None and heard(c) == "machine"
    ]
    early = sum(1 for d in delays if d < -100)
    return (
        f"real calls (voicemail mode, baresip saying the file): {len(calls)} calls,"
        f" {right} decided as labelled, {agree} as the analysis of the file decided;"
        f" message start after the end of the beep (from the 200 OK), {len(delays)} machines:"
        f" p50 {percentile(delays, 50):.0f} ms, max {max(delays, default=0)} ms,"
        f" min {min(delays, default=0)} ms; {early} more than 100 ms before it"
    )


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
    parser.add_argument("--sip", type=int, default=20, help="files to play in real calls")
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
        if args.sip:
            calls = asyncio.run(sip_sample(folder, scored, args.sip, args.seed))
            print("\n" + sip_report(calls))


if __name__ == "__main__":
    main()
