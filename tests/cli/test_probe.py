"""Hostile probes of the CLI's new commands (api.md §9, §10): a bad date, window or project
name ends the command with `error: <why>` naming the option, exit code 1, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import run

DATE_HINT = "is not a date: give it as YYYY-MM-DD, as in 2026-03-21"
WINDOW_HINT = (
    '--window: must be days, hours and a time zone, as in "sat-wed 09:00-20:00 Asia/Tehran"'
)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["holiday", "add", "2027-02-30"], f"'2027-02-30' {DATE_HINT}"),
        (["holiday", "add", "۲۰۲۷-۰۳-۲۱"], f"'۲۰۲۷-۰۳-۲۱' {DATE_HINT}"),
        (["holiday", "add", "2027-03-21T00:00"], f"'2027-03-21T00:00' {DATE_HINT}"),
        (["holiday", "remove", "garbage"], f"'garbage' {DATE_HINT}"),
        (
            ["holiday", "add", "1405-01-01"],
            "'1405-01-01' is before 1970: give a Gregorian date, as in 2026-03-21",
        ),
        (["holiday", "remove", "2027-03-22"], "2027-03-22 is not a holiday"),
        (["project", "update", "acme", "--window", ""], WINDOW_HINT),
        (["project", "update", "acme", "--window", "  "], WINDOW_HINT),
        (["project", "update", "acme", "--window", "sat-wed 09:00-20:00"], WINDOW_HINT),
        (
            ["project", "update", "acme", "--window", "xyz 09:00-20:00 UTC"],
            "--window.days: 'xyz' is not a day or a range of days (sat-wed)",
        ),
        (
            ["project", "update", "acme", "--window", "sat 24:00-09:00 UTC"],
            "--window.start: must be 00:00 to 23:59",
        ),
        (
            ["project", "update", "acme", "--window", "sat 09:00-20:00 Mars/Olympus"],
            "--window.timezone: unknown time zone 'Mars/Olympus' (an IANA name such as "
            '"Asia/Tehran", or "callee")',
        ),
        (["project", "update", "nope", "--window", "none"], "no project named 'nope'"),
        (["dnc", "list", "--project", "nope"], "no project named 'nope'"),
        (
            ["dnc", "remove", "x", "--project", "acme"],
            "phoneNumber: may hold only digits and a leading '+' (no letters, no extension)",
        ),
        (["campaign", "show", "acme", "zzz"], "id: no such campaign"),
        (["campaign", "pause", "nope", "0" * 32], "no project named 'nope'"),
    ],
)
def test_a_bad_argument_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], error: str
) -> None:
    data = tmp_path / "data"
    assert run(capsys, data, "project", "create", "acme")[0] == 0
    code, out, err = run(capsys, data, *args)
    assert (code, out, err.strip()) == (1, "", f"error: {error}")


def test_an_empty_window_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--window ""` was taken as no option at all, and said the project was updated."""
    data = tmp_path / "data"
    run(capsys, data, "project", "create", "acme")
    assert run(capsys, data, "project", "update", "acme", "--window", "sat 09:00-20:00 UTC")[0] == 0
    assert run(capsys, data, "project", "update", "acme", "--window", "")[0] == 1
    _, out, _ = run(capsys, data, "project", "list")
    assert "window=sat 09:00-20:00 UTC" in out
