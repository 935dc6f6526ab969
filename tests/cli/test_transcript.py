"""What every management command prints, held against `golden/transcript.txt`.

A session of commands runs in-process on a fresh data folder; each one's exit code, standard
output and standard error are recorded, with what varies from run to run (ids, tokens, webhook
secrets, times) replaced by placeholders. `VOXCALL_GOLDEN_UPDATE=1` rewrites the file.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from voxcall.cli import main

GOLDEN = Path(__file__).parent / "golden" / "transcript.txt"
UPDATE = os.environ.get("VOXCALL_GOLDEN_UPDATE") == "1"

SESSION = [
    "project create acme --balance 12.5",
    "project create acme",
    "project create beta --rate-limit 7 --json --balance 3",
    "project create gamma --balance -1",
    "project list",
    "project list --json",
    "project token acme",
    "project token beta --json",
    "project token nobody",
    "project revoke-token vx_abc",
    "project revoke-token zzzzzzzz",
    "project topup acme 5",
    "project topup acme 0.25 --note gift --json",
    "project topup acme 0",
    "project topup acme lots",
    "project statement acme",
    "project statement acme --json",
    "project webhook acme http://127.0.0.1:9/hook",
    "project webhook acme https://example.com/hook --json",
    "project webhook acme ftp://example.com/hook",
    "project webhook acme",
    "project webhook acme --clear",
    "dialer add s1 --driver sandbox --default --price-per-minute 600 --billing-increment 30",
    "dialer add s1 --driver sandbox",
    "dialer add s2 --driver sandbox --trunk sip:127.0.0.1",
    "dialer add s2 --driver sip --trunk sip:127.0.0.1 --cdr-file x.jsonl",
    "dialer add s2 --driver sandbox --price-per-minute abc",
    "dialer add t1 --driver sip --trunk sip:127.0.0.1:5070 --username u --password p "
    "--caller-id 0211234 --codecs PCMU --rtp-ports 20000-20100 --name Tehran --channels 4 --json",
    "dialer add t2 --driver sip --trunk nothing",
    "dialer list",
    "dialer list --json",
    "dialer update s1 --name Sandbox --channels 2 --cps 1.5 --retry-interval 30 --ring-timeout 20",
    "dialer update s1 --connect-fee 10 --reserve-margin 5 --json",
    "dialer update nobody --channels 2",
    "dialer disable t1",
    "dialer disable nobody",
    "dialer enable t1",
    "dialer enable nobody",
    "project update acme --rate-limit 5 --default-dialer t1 --allowed-countries IR,AE",
    "project list",
    "project update acme --default-dialer nobody",
    "project update acme --default-dialer ''",
    "project update nobody --rate-limit 5",
    "project list",
    "project update acme --window 'sat-wed 09:00-20:00 Asia/Tehran'",
    "project show acme",
    "project show acme --json",
    "project update beta --window 'mon,wed,fri 22:00-06:00 callee'",
    "project list --json",
    "project update acme --window 'sat-wed 9-20 Asia/Tehran'",
    "project update acme --window 'sat-wed 09:00-20:00 Mars/Base'",
    "project update acme --window 'someday 09:00-20:00 UTC'",
    "project update beta --window none",
    "project show beta",
    "project show nobody",
    "holiday add 2027-03-21",
    "holiday add 2027-03-20",
    "holiday add 2027-03-21",
    "holiday add 2027-02-30",
    "holiday add 21/03/2027",
    "holiday list",
    "holiday list --json",
    "holiday remove 2027-03-20",
    "holiday remove 2027-03-20",
    "holiday list",
]


def normalise(text: str) -> str:
    """Ids by `<idN>` in order of first appearance; tokens, secrets and times by a mark."""
    ids: dict[str, str] = {}
    text = re.sub(r"\bvx_[A-Za-z0-9_-]{43}", "<token>", text)
    text = re.sub(r"\bwhsec_[A-Za-z0-9_-]{43}", "<secret>", text)
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "<local time>", text)
    text = re.sub(r"(?<![0-9a-f.])\d{10}(\.\d{1,3})?(?![0-9a-f])", "<epoch>", text)
    return re.sub(
        r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])",
        lambda m: ids.setdefault(m[0], f"<id{len(ids) + 1}>"),
        text,
    )


def test_every_command_prints_what_it_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = str(tmp_path / "data")
    recorded = []
    for command in SESSION:
        args = shlex.split(command)
        try:
            main([*args, "--data", data])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        recorded.append(f"$ voxcall {command}\n[{code}]\n{out}" + (f"stderr: {err}" if err else ""))
    transcript = normalise("\n".join(recorded))
    if UPDATE:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(transcript)
    assert transcript == GOLDEN.read_text()
