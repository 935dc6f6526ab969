"""`voxcall campaign create | list | show | pause | resume | cancel`: a project's campaigns,
through the service the API uses, printed as text or as the API's campaign objects."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from voxcall.api.campaign_schemas import CampaignForm, campaign_json, gather_json
from voxcall.api.errors import validation_message
from voxcall.billing.money import toman
from voxcall.calls.campaigns import CampaignService
from voxcall.calls.errors import RequestRefused
from voxcall.calls.windows import InvalidWindow, Window
from voxcall.cli.common import Admin, DataOption, JsonOption, fail, open_admin
from voxcall.domain.calls import CallStatus
from voxcall.domain.campaigns import Campaign
from voxcall.domain.interaction import MachineDetection
from voxcall.domain.projects import Project

ProjectArgument = Annotated[str, typer.Argument(help="The project's name.")]
IdArgument = Annotated[str, typer.Argument(help="The campaign's id.")]
FILE_HELP = (
    "The numbers: a text file, one a line, or a CSV with a phoneNumber, phone, mobile or number "
    "column (a header line, a BOM and Persian digits are understood), e.g. customers.csv."
)
GATHER_HELP = (
    "Collect key presses (api.md §11), as a JSON object: maxDigits 1-16, timeout 1-30 s "
    '(default 5), finishOnKey and repeatKey optional, e.g. \'{"maxDigits": 1, "timeout": 5, '
    '"finishOnKey": "#", "repeatKey": "*"}\'.'
)
WINDOW_HELP = (
    "Call only inside this window: days (a range or a list, sat to fri), hours HH:MM-HH:MM "
    '(they may wrap midnight; 24:00 ends a day) and a time zone (IANA, or "callee" for the '
    "number's), e.g. \"sat-wed 09:00-20:00 Asia/Tehran\"; default the project's."
)
MACHINE_DETECTION_HELP = (
    "Answering machines (api.md §11): off, detect (report only), voicemail (play after the "
    "greeting) or humansOnly (hang up on a machine), e.g. --machine-detection voicemail."
)


def _show(admin: Admin, project: Project, campaign: Campaign, json_out: bool) -> None:
    status = admin.campaigns.status(project, campaign, time.time())
    if json_out:
        typer.echo(json.dumps(campaign_json(campaign, status)))
        return
    counts = " ".join(
        f"{status.name}={campaign.counts[status]}"
        for status in CallStatus
        if campaign.counts.get(status)
    )
    skips = campaign.skips
    policy = campaign.policy
    interactive = ""  # api.md §11, when the campaign asks for it
    if policy.gather is not None:
        interactive += f"\tgather={json.dumps(gather_json(policy.gather))}"
    if policy.machine_detection is not MachineDetection.OFF:
        interactive += f"\tmachineDetection={policy.machine_detection.value}"
    typer.echo(
        f"{campaign.id}\t{campaign.name}\t{status.value}\t"
        f"total={campaign.total}\t{counts or '-'}\tskipped={skips.total}\t"
        f"price={-toman(campaign.price_milli):g}{interactive}"
    )


class _Counted:
    """A binary stream that tells `advance` how many bytes were read from it."""

    def __init__(self, stream: BinaryIO, advance: Callable[[int], None]) -> None:
        self._stream = stream
        self._advance = advance

    def read(self, size: int = -1, /) -> bytes:
        chunk = self._stream.read(size)
        self._advance(len(chunk))
        return chunk


def create(
    project: ProjectArgument,
    file: Annotated[Path, typer.Option("--file", help=FILE_HELP)],
    name: Annotated[str, typer.Option(help="The campaign's name, 1 to 100 characters.")],
    voice: Annotated[str, typer.Option(help="The id of the voice to play, as the API gave it.")],
    data: DataOption = None,
    server: Annotated[
        str | None, typer.Option(help="The id of the dialer to use, e.g. d1 (dialer list).")
    ] = None,
    retry_count: Annotated[
        int, typer.Option(min=0, max=5, help="Retries of a busy or unanswered number.")
    ] = 1,
    retry_interval: Annotated[
        int | None,
        typer.Option(help="Seconds before a retry, 10-86400; default the dialer's back-off."),
    ] = None,
    window: Annotated[str | None, typer.Option(help=WINDOW_HELP)] = None,
    max_channels: Annotated[
        int | None, typer.Option(min=1, help="At most this many of its calls at once, 1-100000.")
    ] = None,
    calls_per_minute: Annotated[
        int | None, typer.Option(min=1, help="At most this many calls started a minute, 1-1000000.")
    ] = None,
    start_at: Annotated[
        int | None, typer.Option(help="Epoch seconds, e.g. 1767225600; default now.")
    ] = None,
    end_at: Annotated[
        int | None, typer.Option(help="Epoch seconds, e.g. 1767830400; default a week on.")
    ] = None,
    gather: Annotated[str | None, typer.Option(help=GATHER_HELP)] = None,
    machine_detection: Annotated[str, typer.Option(help=MACHINE_DETECTION_HELP)] = "off",
    json_out: JsonOption = False,
) -> None:
    """Import a list as a new campaign (the whole list is stored before this returns)."""
    try:
        given_gather = None if gather is None else json.loads(gather)
    except ValueError:
        fail("gather: must be a JSON object")  # as the API answers a form field
    try:
        given_window = None if window is None else Window.parse(window, field="--window")
    except InvalidWindow as exc:
        fail(str(exc))
    fields = _checked(
        {
            "name": name,
            "voiceId": voice,
            "serverId": server,
            "retryCount": retry_count,
            "retryInterval": retry_interval,
            "window": None if given_window is None else given_window.to_json(),
            "startAt": start_at,
            "endAt": end_at,
            "maxChannels": max_channels,
            "callsPerMinute": calls_per_minute,
            "gather": given_gather,
            "machineDetection": machine_detection,
        }
    ).fields(voice)
    admin = open_admin(data)
    try:
        size = file.stat().st_size
        with (
            file.open("rb") as stream,
            typer.progressbar(
                length=size, label="reading", file=typer.get_text_stream("stderr")
            ) as bar,
        ):
            owner = admin.projects.named(project)
            campaign = admin.campaigns.create(owner, fields, _Counted(stream, bar.update))
    except OSError as exc:
        fail(f"--file: {exc.strerror}")
    except RequestRefused as exc:
        fail(exc.message)
    _show(admin, owner, campaign, json_out)
    if not json_out:
        for line in campaign.rejected:
            typer.echo(f"skipped line {line.line} ({line.reason}): {line.value}", err=True)


def _checked(form: dict[str, object]) -> CampaignForm:
    """A campaign's fields by the API's names, checked as the API checks them, with its
    messages (which name the API's fields: gather.maxDigits...)."""
    try:
        return CampaignForm.model_validate(form)
    except ValidationError as exc:
        fail(validation_message(RequestValidationError(exc.errors())))


def list_(
    project: ProjectArgument,
    data: DataOption = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
    json_out: JsonOption = False,
) -> None:
    """The project's campaigns, newest first."""
    admin = open_admin(data)
    owner = admin.projects.named(project)
    campaigns = admin.campaigns.page(owner, limit=limit, before=None)
    if json_out:
        now = time.time()
        shown = [campaign_json(c, admin.campaigns.status(owner, c, now)) for c in campaigns]
        typer.echo(json.dumps(shown))
        return
    for campaign in campaigns:
        _show(admin, owner, campaign, False)


# The service's method a command runs: get, pause, resume or cancel.
Action = Callable[[CampaignService], Callable[[Project, str], Campaign]]


def _one(action: Action, doc: str) -> Callable[..., None]:
    def command(
        project: ProjectArgument,
        campaign_id: IdArgument,
        data: DataOption = None,
        json_out: JsonOption = False,
    ) -> None:
        admin = open_admin(data)
        owner = admin.projects.named(project)
        try:
            campaign = action(admin.campaigns)(owner, campaign_id)
        except RequestRefused as exc:
            fail(exc.message)
        _show(admin, owner, campaign, json_out)

    command.__doc__ = doc
    return command


show = _one(lambda c: c.get, "A campaign: its status, counts, skipped numbers and price.")
pause = _one(lambda c: c.pause, "Release no more of the campaign's numbers until resumed.")
resume = _one(lambda c: c.resume, "Release the campaign's numbers again.")
cancel = _one(
    lambda c: c.cancel, "Expire every call of the campaign that has not started its attempt."
)
