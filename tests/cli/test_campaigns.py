"""`voxcall campaign ...`: importing a list with a progress bar, and the commands that read
and steer a campaign, printing the API's campaign object with --json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_campaign_interaction import REFUSALS
from tests.conftest import Tenant
from voxcall.calls.campaigns import CampaignFields
from voxcall.cli import main
from voxcall.config import Settings
from voxcall.domain.interaction import Gather, MachineDetection
from voxcall.domain.voices import Voice
from voxcall.runtime import Services


def _run(
    settings: Settings, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    try:
        main([*args, "--data", str(settings.data_dir)])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _create(
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    *options: str,
    numbers: str = "09121234567\n",
) -> tuple[int, str, str]:
    """`voxcall campaign create acme` with a list of `numbers` and `options`."""
    listed = tmp_path / "list.txt"
    listed.write_text(numbers)
    return _run(settings, capsys, "campaign", "create", "acme", "--file", str(listed), *options)


@pytest.fixture
def voice_id(services: Services, tenant: Tenant) -> str:
    voice = Voice("ab" * 16, tenant.project.id, "v", "wav", 1, 2.0, 0)
    services.store.add_voice(voice)
    return voice.id


def test_import_then_steer(
    settings: Settings,
    services: Services,
    tenant: Tenant,
    voice_id: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    numbers = "phone\n" + "".join(f"0912{i:07d}\n" for i in range(5000)) + "oops\n"
    code, out, err = _create(
        settings,
        capsys,
        tmp_path,
        *("--name", "spring", "--voice", voice_id, "--max-channels", "3", "--json"),
        numbers=numbers,
    )
    assert code == 0, err
    assert "reading" in err  # the progress bar
    created: dict[str, Any] = json.loads(out)
    assert (created["name"], created["total"], created["maxChannels"]) == ("spring", 5000, 3)
    assert created["rejected"] == [{"line": 5002, "value": "oops", "reason": "invalid"}]
    campaign_id = created["id"]

    code, out, _ = _run(settings, capsys, "campaign", "show", "acme", campaign_id, "--json")
    assert code == 0 and json.loads(out)["id"] == campaign_id
    code, out, _ = _run(settings, capsys, "campaign", "pause", "acme", campaign_id)
    assert code == 0 and out.split("\t")[:3] == [campaign_id, "spring", "PAUSED"]
    code, out, _ = _run(settings, capsys, "campaign", "resume", "acme", campaign_id, "--json")
    assert json.loads(out)["status"] == "RUNNING"
    code, out, _ = _run(settings, capsys, "campaign", "list", "acme", "--json")
    assert [c["id"] for c in json.loads(out)] == [campaign_id]
    code, out, _ = _run(settings, capsys, "campaign", "cancel", "acme", campaign_id)
    assert out.split("\t")[2] == "CANCELLED" and "EXPIRED=5000" in out


def test_refusals(
    settings: Settings,
    tenant: Tenant,
    voice_id: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = _run(settings, capsys, "campaign", "show", "acme", "0" * 32)
    assert (code, err) == (1, "error: id: no such campaign\n")
    code, _, err = _run(
        settings,
        capsys,
        *("campaign", "create", "acme", "--file", str(tmp_path / "none.csv")),
        *("--name", "x", "--voice", voice_id),
    )
    assert (code, err) == (1, "error: --file: No such file or directory\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("phone\nnope\n")
    code, _, err = _run(
        settings,
        capsys,
        *("campaign", "create", "acme", "--file", str(empty), "--name", "x", "--voice", voice_id),
    )
    assert code == 1 and "file: the list holds no number that can be called" in err


def test_show_says_what_an_interactive_campaign_asks(
    settings: Settings,
    services: Services,
    tenant: Tenant,
    voice_id: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fields = CampaignFields(
        name="keys",
        voice_id=voice_id,
        gather=Gather(2, 5.0, "#"),
        machine_detection=MachineDetection.DETECT,
    )
    campaign = services.campaigns.create(tenant.project, fields, ["09121234567"])
    code, out, _ = _run(settings, capsys, "campaign", "show", "acme", campaign.id)
    assert code == 0
    assert out.rstrip("\n").split("\t")[-2:] == [
        'gather={"maxDigits": 2, "timeout": 5, "finishOnKey": "#", "repeatKey": null}',
        "machineDetection=detect",
    ]
    code, out, _ = _run(settings, capsys, "campaign", "show", "acme", campaign.id, "--json")
    shown = json.loads(out)
    assert (shown["gather"]["maxDigits"], shown["machineDetection"]) == (2, "detect")


def test_create_takes_keys_and_machine_detection(
    settings: Settings,
    tenant: Tenant,
    voice_id: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    gather = '{"maxDigits": 4, "timeout": "10", "finishOnKey": "#", "repeatKey": "*"}'
    code, out, err = _create(
        settings,
        capsys,
        tmp_path,
        *("--name", "keys", "--voice", voice_id, "--gather", gather),
        *("--machine-detection", "voicemail"),
    )
    assert code == 0, err
    assert out.rstrip("\n").split("\t")[-2:] == [
        'gather={"maxDigits": 4, "timeout": 10, "finishOnKey": "#", "repeatKey": "*"}',
        "machineDetection=voicemail",
    ]
    code, out, _ = _run(settings, capsys, "campaign", "show", "acme", out.split("\t")[0], "--json")
    shown = json.loads(out)
    assert shown["gather"] == {"maxDigits": 4, "timeout": 10, "finishOnKey": "#", "repeatKey": "*"}
    assert shown["machineDetection"] == "voicemail"


def test_create_takes_a_window_and_a_retry_interval(
    settings: Settings,
    services: Services,
    tenant: Tenant,
    voice_id: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _create(
        settings,
        capsys,
        tmp_path,
        *("--name", "windowed", "--voice", voice_id, "--retry-interval", "600", "--json"),
        *("--window", "sat-wed 09:00-20:00 Asia/Tehran"),
    )
    assert code == 0, err
    created = json.loads(out)
    assert created["window"] == {
        "days": ["sat", "sun", "mon", "tue", "wed"],
        "start": "09:00",
        "end": "20:00",
        "timezone": "Asia/Tehran",
    }
    campaign = services.campaigns.get(tenant.project, created["id"])
    assert campaign.policy.retry_interval == 600


@pytest.mark.parametrize(
    ("options", "message"),
    [
        *(
            (
                [
                    *(("--gather", json.dumps(fields["gather"])) if "gather" in fields else ()),
                    *(
                        ("--machine-detection", fields["machineDetection"])
                        if "machineDetection" in fields
                        else ()
                    ),
                ],
                message,
            )
            for fields, message in REFUSALS
        ),
        (["--gather", "maxDigits=2"], "gather: must be a JSON object"),
        (
            ["--window", "weekdays 9-5"],
            '--window: must be days, hours and a time zone, as in "sat-wed 09:00-20:00 '
            'Asia/Tehran"',
        ),
        (
            ["--window", "sat-wed 09:00-20:00 Mars/Olympus"],
            "--window.timezone: unknown time zone 'Mars/Olympus' (an IANA name such as "
            '"Asia/Tehran", or "callee")',
        ),
        (["--retry-interval", "5"], "retryInterval: must be between 10 and 86400"),
    ],
)
def test_create_refuses_what_the_api_refuses_with_its_message(
    settings: Settings,
    tenant: Tenant,
    voice_id: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    message: str,
) -> None:
    code, out, err = _create(
        settings, capsys, tmp_path, "--name", "keys", "--voice", voice_id, *options
    )
    assert (code, out, err) == (1, "", f"error: {message}\n")
