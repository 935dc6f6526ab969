"""The CLI in-process (its entry point takes args), against a temporary data folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from voxcall.cli import main
from voxcall.config import Settings
from voxcall.runtime import build_services
from voxcall.store.store import Store
from voxcall.tokens import hash_token


def run(capsys: pytest.CaptureFixture[str], data: Path, *args: str) -> tuple[int, str, str]:
    try:
        main([*args, "--data", str(data)])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_allowed_countries(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    code, out, _ = run(capsys, data, "project", "create", "acme", "--json")
    assert code == 0
    project = json.loads(out)
    assert run(capsys, data, "project", "update", "acme", "--allowed-countries", "ir, ae")[0] == 0
    store = Store.open(f"sqlite:///{data / 'voxcall.db'}")
    try:
        updated = store.project_by_name("acme")
        assert updated is not None and updated.allowed_regions == ("IR", "AE")
        assert updated.id == project["id"]
    finally:
        store.close()
    code, _, err = run(capsys, data, "project", "update", "acme", "--allowed-countries", "XX")
    assert (code, err.strip()) == (1, "error: --allowed-countries: not ISO country codes: XX")


def test_passwords_never_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    code, out, _ = run(
        capsys, data, "dialer", "add", "t1", "--driver", "sip", "--trunk", "sip:127.0.0.1:5060",
        "--username", "u", "--password", "hunter2-secret", "--json",
    )  # fmt: skip
    assert code == 0 and "hunter2-secret" not in out
    code, out, _ = run(capsys, data, "dialer", "list", "--json")
    assert code == 0 and "hunter2-secret" not in out
    assert json.loads(out)[0]["options"]["username"] == "u"


def test_refusals_name_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert run(capsys, data, "dialer", "add", "Bad Id", "--driver", "sandbox")[2].strip() == (
        "error: ID: must match [a-z0-9][a-z0-9_-]{0,31}"
    )
    assert run(capsys, data, "dialer", "add", "x", "--driver", "fax")[2].strip() == (
        "error: --driver: must be one of sandbox, sip"
    )
    assert run(capsys, data, "project", "topup", "nobody", "5")[2].strip() == (
        "error: no project named 'nobody'"
    )
    assert run(capsys, data, "project", "create", "acme", "--balance", "-5")[2].strip() == (
        "error: --balance: not a non-negative amount: '-5'"
    )


def test_reserve_margin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    code, out, _ = run(capsys, data, "dialer", "add", "t1", "--driver", "sandbox", "--json")
    assert code == 0 and json.loads(out)["reserveMargin"] == 1
    code, out, _ = run(capsys, data, "dialer", "update", "t1", "--reserve-margin", "0", "--json")
    assert code == 0 and json.loads(out)["reserveMargin"] == 0
    code, out, _ = run(capsys, data, "dialer", "update", "t1", "--channels", "3", "--json")
    assert code == 0 and json.loads(out)["reserveMargin"] == 0  # kept when not given
    code, _, err = run(capsys, data, "dialer", "update", "t1", "--reserve-margin", "-1")
    assert code == 2 and "--reserve-margin" in err


def test_revoke_token_refuses_a_shared_prefix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert run(capsys, data, "project", "create", "acme")[0] == 0
    assert run(capsys, data, "project", "create", "other")[0] == 0
    store = Store.open(f"sqlite:///{data / 'voxcall.db'}")
    try:
        tokens = {"acme": "vx_abcdefgh-first", "other": "vx_abcdefgh-second"}
        for name, token in tokens.items():
            project = store.project_by_name(name)
            assert project is not None
            store.add_token(project.id, prefix="abcdefgh", token_hash=hash_token(token))

        code, _, err = run(capsys, data, "project", "revoke-token", "vx_abcdefgh")
        assert (code, err.strip()) == (
            1,
            "error: 'abcdefgh' starts more than one live token; nothing was revoked: "
            "give the whole token",
        )
        assert all(store.project_for_token(hash_token(t)) for t in tokens.values())

        code, out, _ = run(capsys, data, "project", "revoke-token", tokens["acme"])
        assert (code, out.strip()) == (0, "revoked 1 token")
        assert store.project_for_token(hash_token(tokens["acme"])) is None
        assert store.project_for_token(hash_token(tokens["other"])) is not None

        # now only one live token has the prefix: the prefix alone names it
        assert run(capsys, data, "project", "revoke-token", "abcdefgh")[:2] == (
            0,
            "revoked 1 token\n",
        )
        assert store.project_for_token(hash_token(tokens["other"])) is None
        code, _, err = run(capsys, data, "project", "revoke-token", "abcdefgh")
        assert (code, err.strip()) == (1, "error: no live token starts with 'abcdefgh'")
    finally:
        store.close()


def test_no_fresh_database_beside_voices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The database is lost but its voices are not: serve (and every command) refuses to
    start an empty database that would orphan them, and says what to do."""
    data = tmp_path / "data"
    assert run(capsys, data, "project", "create", "acme")[0] == 0
    services = build_services(Settings.load(data))
    try:
        project = services.store.project_by_name("acme")
        assert project is not None
        services.voices.from_text(project, "hello", "en")
    finally:
        services.store.close()
    for lost in data.glob("voxcall.db*"):
        lost.unlink()
    # serve in a process of its own: were it to start, it would serve until the timeout
    serve = subprocess.run(
        [sys.executable, "-m", "voxcall", "serve", "--data", str(data), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    results = [(serve.returncode, serve.stderr)]
    results += [run(capsys, data, *c)[::2] for c in (["project", "list"], ["db", "upgrade"])]
    for code, err in results:
        assert code == 1
        assert err.startswith(f"error: {data} holds voice files but no database (voxcall.db)")
        assert "Restore voxcall.db" in err
    assert sorted(p.name for p in data.iterdir()) == ["voices"]  # nothing was created


def test_storage_quota(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert run(capsys, data, "project", "create", "acme")[0] == 0
    _, out, _ = run(capsys, data, "project", "list", "--json")
    assert json.loads(out)[0]["storageQuotaMiB"] == 500  # the default
    assert run(capsys, data, "project", "update", "acme", "--storage-quota", "20")[0] == 0
    _, out, _ = run(capsys, data, "project", "list", "--json")
    assert json.loads(out)[0]["storageQuotaMiB"] == 20
    store = Store.open(f"sqlite:///{data / 'voxcall.db'}")
    try:
        project = store.project_by_name("acme")
        assert project is not None and project.storage_quota == 20 * 1024 * 1024
    finally:
        store.close()
    assert run(capsys, data, "project", "update", "acme", "--storage-quota", "0")[0] != 0


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("VOXCALL_ATTEMPT_WATCHDOG", "soon"),
        ("VOXCALL_ATTEMPT_WATCHDOG", "0"),
        ("VOXCALL_WORKER_LEASE", "-30"),
        ("VOXCALL_WORKER_LEASE", "half a minute"),
    ],
)
def test_a_bad_environment_variable_is_named(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
) -> None:
    monkeypatch.setenv(variable, value)
    expected = f"error: {variable}: must be a positive number (or inf), got {value!r}\n"
    for command in (["serve"], ["project", "list"], ["db", "upgrade"]):
        assert run(capsys, tmp_path / "data", *command)[::2] == (1, expected)


def test_settings_from_the_environment_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for value in ("0", "two", "-1"):
        monkeypatch.setenv("VOXCALL_AUDIO_WORKERS", value)
        code, _, err = run(capsys, tmp_path / "data", "project", "list")
        assert (code, err.strip()) == (
            1,
            "error: VOXCALL_AUDIO_WORKERS: must be a positive integer",
        )


def test_bye_tail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    add = ["dialer", "add", "t1", "--driver", "sip", "--trunk", "sip:127.0.0.1", "--json"]
    code, out, _ = run(capsys, data, *add)
    assert code == 0 and json.loads(out)["options"]["bye_tail"] == 250
    code, out, _ = run(capsys, data, "dialer", "update", "t1", "--bye-tail", "500", "--json")
    assert code == 0 and json.loads(out)["options"]["bye_tail"] == 500
    code, out, _ = run(capsys, data, "dialer", "update", "t1", "--channels", "3", "--json")
    assert code == 0 and json.loads(out)["options"]["bye_tail"] == 500  # kept when not given
    code, _, err = run(capsys, data, "dialer", "update", "t1", "--bye-tail", "9000")
    assert (code, err.strip()) == (1, "error: bye_tail: 9000 ms is not 0 to 5000 ms")
    code, _, err = run(capsys, data, "dialer", "add", "t2", "--driver", "sip", "--trunk",
                       "sip:127.0.0.1", "--bye-tail", "-5")  # fmt: skip
    assert (code, err.strip()) == (1, "error: bye_tail: -5 ms is not 0 to 5000 ms")
    assert run(capsys, data, "dialer", "add", "s1", "--driver", "sandbox")[0] == 0
    code, _, err = run(capsys, data, "dialer", "update", "s1", "--bye-tail", "100")
    assert (code, err.strip()) == (1, "error: --bye-tail: only for --driver sip")


def test_machine_detection_thresholds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    add = ["dialer", "add", "t1", "--driver", "sip", "--trunk", "sip:127.0.0.1", "--json"]
    code, out, _ = run(capsys, data, *add, "--amd", "greeting_ms=2000")
    assert code == 0 and json.loads(out)["options"]["amd"] == {"greeting_ms": 2000}
    update = ["dialer", "update", "t1", "--json", "--amd", "silence_threshold_dbfs=-45"]
    code, out, _ = run(capsys, data, *update, "--amd", "max_words=4")
    assert code == 0  # the thresholds not given are kept
    assert json.loads(out)["options"]["amd"] == {
        "greeting_ms": 2000,
        "silence_threshold_dbfs": -45,
        "max_words": 4,
    }
    code, _, err = run(capsys, data, "dialer", "update", "t1", "--amd", "greeting=2000")
    assert (code, err.strip()) == (1, "error: amd: unknown threshold(s): greeting")
    code, _, err = run(capsys, data, "dialer", "update", "t1", "--amd", "greeting_ms=soon")
    assert (code, err.strip()) == (
        1,
        "error: --amd: expected NAME=WHOLE_NUMBER, e.g. greeting_ms=2000, not 'greeting_ms=soon'",
    )
    code, _, err = run(capsys, data, "dialer", "update", "t1", "--amd", "total_analysis_ms=9000")
    assert (code, err.strip()) == (
        1,
        "error: amd total_analysis_ms: at most 5000 (the decision is bounded)",
    )
    code, _, err = run(capsys, data, "dialer", "add", "s1", "--driver", "sandbox", "--amd", "x=1")
    assert (code, err.strip()) == (1, "error: --amd: only for --driver sip")


def test_console_accounts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    data = tmp_path / "data"
    assert run(capsys, data, "project", "create", "acme")[0] == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-pass\n"))
    assert (
        run(capsys, data, "admin", "add", "root", "--password-stdin")[1] == "operator root added\n"
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("an0ther-pass\n"))
    code, out, _ = run(
        capsys, data, "user", "add", "acme", "ann@example.com", "--role", "owner",
        "--password-stdin",
    )  # fmt: skip
    assert (code, out) == (0, "user ann@example.com (owner) added to project acme\n")
    assert run(capsys, data, "admin", "list")[1] == "root\n"
    code, out, _ = run(capsys, data, "admin", "list", "--json")
    assert [(o["username"], o["lastSeenAt"]) for o in json.loads(out)] == [("root", None)]
    code, out, _ = run(capsys, data, "user", "list", "--json")
    assert json.loads(out) == [
        {"email": "ann@example.com", "project": "acme", "role": "owner", "lastSeenAt": None}
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, _, err = run(capsys, data, "admin", "add", "other", "--password-stdin")
    assert (code, err.strip()) == (1, "error: password: at least 8 characters")
    assert run(capsys, data, "user", "remove", "ann@example.com")[0] == 0
    assert run(capsys, data, "admin", "remove", "root")[0] == 0
    assert run(capsys, data, "user", "list")[1] == ""
    code, _, err = run(capsys, data, "admin", "remove", "root")
    assert (code, err.strip()) == (1, "error: no operator named 'root'")
