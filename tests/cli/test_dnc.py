"""`voxcall dnc add | remove | list`: a project's list and the operator's, in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import run


def test_project_and_operator_lists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert run(capsys, data, "project", "create", "acme")[0] == 0
    code, out, _ = run(
        capsys, data, "dnc", "add", "0912 123 4567", "+989121234567", "x", "--project", "acme"
    )
    assert (code, out.strip()) == (0, "the list of acme: 1 added, 0 already listed, 1 invalid")
    code, out, _ = run(capsys, data, "dnc", "add", "00989121234568", "--global", "--json")
    assert json.loads(out) == {"added": 1, "alreadyListed": 0, "invalid": 0}
    code, out, _ = run(capsys, data, "dnc", "list", "--project", "acme", "--json")
    assert [e["phoneNumber"] for e in json.loads(out)] == ["09121234567"]
    code, out, _ = run(capsys, data, "dnc", "list", "--global")
    assert out.split("\t")[0] == "09121234568"
    code, out, _ = run(capsys, data, "dnc", "remove", "9121234568", "--global")
    assert (code, out.strip()) == (0, "9121234568 removed from the operator's list")
    code, _, err = run(capsys, data, "dnc", "remove", "9121234568", "--global")
    assert (code, err.strip()) == (1, "error: phoneNumber: not listed")


def test_one_list_must_be_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    run(capsys, data, "project", "create", "acme")
    for flags in ([], ["--project", "acme", "--global"]):
        code, _, err = run(capsys, data, "dnc", "list", *flags)
        assert (code, err.strip()) == (1, "error: name one list: --project NAME or --global")


def test_add_a_list_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    run(capsys, data, "project", "create", "acme")
    listed = tmp_path / "dnc.csv"
    persian = "۰۹۱۲۱۲۳۴۵۶۷"
    listed.write_text(f"\ufeffphone\n{persian}\n0935 123 4567\nnope\n", encoding="utf-8")
    code, out, _ = run(capsys, data, "dnc", "add", "--file", str(listed), "--project", "acme")
    assert (code, out.strip()) == (0, "the list of acme: 2 added, 0 already listed, 1 invalid")
    code, out, _ = run(capsys, data, "dnc", "add", "--file", str(listed), "--global", "--json")
    assert json.loads(out) == {"added": 2, "alreadyListed": 0, "invalid": 1}
    code, _, err = run(capsys, data, "dnc", "add", "--file", str(tmp_path / "none"), "--global")
    assert (code, err.strip()) == (1, "error: --file: No such file or directory")
    listed.write_bytes(b"\x00\x01")
    code, _, err = run(capsys, data, "dnc", "add", "--file", str(listed), "--global")
    assert code == 1 and err.startswith("error: file: line 1: holds a NUL character")
    for numbers in ([], ["09121234567", "--file", str(listed)]):
        code, _, err = run(capsys, data, "dnc", "add", *numbers, "--global")
        assert (code, err.strip()) == (1, "error: give the numbers, or --file PATH")
