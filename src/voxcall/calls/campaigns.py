"""Campaigns (api.md §8): creating one from a list of numbers, reading, pausing, resuming and
cancelling it. Its numbers reach the dialers through `voxcall.calls.releaser`.

Synchronous like the call service: each method is a few store transactions, run by the API in
a worker thread. Nothing here knows of HTTP.
"""

from __future__ import annotations

import functools
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voxcall.billing.reservation import max_price
from voxcall.calls.call_windows import WindowRules, project_window, releasing
from voxcall.calls.errors import FileTooLarge, InvalidList, InvalidVoice, NotFound
from voxcall.calls.ids import is_id
from voxcall.calls.lists import (
    BinaryReadable,
    ListError,
    ListNumbers,
    ListReader,
    ListTooLarge,
    Skipped,
    SkipReason,
    phone_cells,
)
from voxcall.calls.names import check_name
from voxcall.calls.numbers import parse_phone, plain_iranian
from voxcall.calls.service import CallService
from voxcall.calls.windows import InvalidWindow, Window
from voxcall.domain.calls import Call, CallStatus, longest_talk
from voxcall.domain.campaigns import (
    Campaign,
    CampaignPolicy,
    CampaignState,
    CampaignStatus,
    ListSkips,
    NewCampaign,
    RejectedLine,
    Skips,
)
from voxcall.domain.interaction import Gather, MachineDetection
from voxcall.domain.projects import Project
from voxcall.domain.voices import Voice
from voxcall.store.campaigns import EmptyList, ListBatch, ListRows, ReportRow
from voxcall.store.store import Store

MAX_JSON_NUMBERS = 10_000
DEFAULT_RUN = 7 * 86400  # seconds from startAt to the default endAt
FIRST_CALLS = 1000  # calls of a campaign that GET /voice/campaign/{id} answers
DNC_PAGE = 10_000
DNC_IN_MEMORY = 200_000  # do-not-call numbers an import holds in memory rather than look up
_E164 = re.compile(r"\+[1-9][0-9]{0,14}")  # at most 15 digits: an int64


@dataclass(frozen=True, slots=True)
class CampaignFields:
    """What a client sets when it creates a campaign; the ranges are the API's to check."""

    name: str
    voice_id: str
    retry_count: int = 1
    retry_interval: int | None = None
    server_id: str | None = None
    start_at: int | None = None
    end_at: int | None = None
    window: str | None = None  # the window's JSON (§10)
    max_channels: int | None = None
    calls_per_minute: int | None = None
    gather: Gather | None = None  # api.md §11
    machine_detection: MachineDetection = MachineDetection.OFF


Progress = Callable[[int], None]  # told the rows read so far


class CampaignService:
    def __init__(
        self,
        store: Store,
        calls: CallService,
        *,
        on_new_campaign: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.calls = calls
        self.on_new_campaign = on_new_campaign

    def status(self, project: Project, campaign: Campaign, now: float) -> CampaignStatus:
        """Its status (§8), OUTSIDE_WINDOW while the window that releases it (its own, else
        its project's default) is closed or a holiday closes it, as the releaser sees it."""
        window = project_window(project)
        rules = WindowRules(self.calls.holidays.now(), {project.id: window} if window else {})
        return campaign.status(now, window_open=releasing(campaign, rules, now))

    def create(
        self,
        project: Project,
        fields: CampaignFields,
        numbers: Sequence[str] | BinaryReadable,
        *,
        progress: Progress | None = None,
    ) -> Campaign:
        """Read the list (a JSON array of numbers, or a CSV or text file read in one pass),
        skip what cannot be called, and store the campaign with every number it will call,
        in one transaction, the numbers streaming from the reader to the database."""
        check_name("name", fields.name)
        now = int(time.time())
        start_at = now if fields.start_at is None else fields.start_at
        end_at = start_at + DEFAULT_RUN if fields.end_at is None else fields.end_at
        if fields.end_at is None and end_at <= now:  # the client gave startAt alone
            raise InvalidList(
                "startAt: more than 7 days ago (endAt, by default 7 days later, has passed)"
            )
        if end_at <= max(start_at, now):
            raise InvalidList("endAt: must be later than startAt and now")
        if fields.window is not None:
            try:
                Window.from_json(json.loads(fields.window))
            except InvalidWindow as exc:
                raise InvalidList(str(exc)) from exc
        dialer_id, candidates = self.calls.route(project, fields.server_id, None)
        voice = self._voice(project, fields.voice_id)
        if isinstance(numbers, Sequence):  # a JSON array: each entry's line is its place
            reader = _reader(enumerate(numbers, start=1), project)
            field = "phoneNumbers"
        else:
            reader = _reader(phone_cells(numbers), project)
            field = "file"
        new = NewCampaign(
            id=uuid.uuid4().hex,
            project_id=project.id,
            name=fields.name,
            policy=CampaignPolicy(
                voice_id=voice.id,
                dialer_id=dialer_id,
                retry_count=fields.retry_count,
                retry_interval=fields.retry_interval,
                start_at=start_at,
                end_at=end_at,
                window=fields.window,
                max_channels=fields.max_channels,
                calls_per_minute=fields.calls_per_minute,
                reservation_milli=max_price(
                    longest_talk(voice.duration, fields.gather, fields.machine_detection),
                    [d.tariff for d in candidates],
                ),
                gather=fields.gather,
                machine_detection=fields.machine_detection,
            ),
            created_at=now,
        )

        try:
            campaign = self.store.create_campaign(
                new,
                _rows(reader, self._do_not_call(project), progress),
                lambda: _list_skips(reader.skipped),
            )
        except EmptyList as exc:
            raise InvalidList(f"{field}: the list holds no number that can be called") from exc
        except ListTooLarge as exc:
            raise FileTooLarge(str(exc)) from exc
        except ListError as exc:
            raise InvalidList(str(exc)) from exc
        self.on_new_campaign()
        return campaign

    def _do_not_call(self, project: Project) -> Listed:
        """The numbers of the do-not-call lists that stop the project's campaigns: read
        whole when they are short, as most are (a lookup a batch costs more than the rest of
        the import), else looked up a batch at a time."""
        numbers: set[str] = set()
        for scope in (project.id, None):  # the project's list, the operator's
            after = None
            while True:
                page = self.store.dnc_page(scope, after=after, limit=DNC_PAGE)
                numbers.update(e164 for e164, _ in page)
                if len(numbers) > DNC_IN_MEMORY:
                    return functools.partial(self._looked_up, project)
                if len(page) < DNC_PAGE:
                    break
                after = page[-1][0]
        # a list's numbers are E.164 with no zero after the "+": as integers, the same
        keys = np.array([int(e164[1:]) for e164 in numbers if _E164.fullmatch(e164)], np.int64)
        return lambda batch: np.isin(batch.keys, keys)

    def _looked_up(self, project: Project, numbers: ListNumbers) -> npt.NDArray[np.bool_]:
        e164s = numbers.e164.tolist()
        barred = self.store.listed_numbers(project.id, e164s, project_list=True)
        return np.array([e164 in barred for e164 in e164s], dtype=np.bool_)

    def _voice(self, project: Project, voice_id: str) -> Voice:
        voice = self.store.get_voice(project.id, voice_id) if is_id(voice_id) else None
        if voice is None:
            raise InvalidVoice("voiceId: no such voice")
        return voice

    def get(self, project: Project, campaign_id: str) -> Campaign:
        campaign = self.store.get_campaign(project.id, campaign_id) if is_id(campaign_id) else None
        if campaign is None:
            raise NotFound("id: no such campaign")
        return campaign

    def page(self, project: Project, *, limit: int, before: str | None) -> list[Campaign]:
        if before is not None and not is_id(before):
            raise NotFound("before: no such campaign")
        campaigns = self.store.list_campaigns(project.id, limit=limit, before=before)
        if campaigns is None:
            raise NotFound("before: no such campaign")
        return campaigns

    def pause(self, project: Project, campaign_id: str) -> Campaign:
        return self._set(project, campaign_id, CampaignState.PAUSED)

    def resume(self, project: Project, campaign_id: str) -> Campaign:
        campaign = self._set(project, campaign_id, CampaignState.ACTIVE)
        self.on_new_campaign()
        return campaign

    def cancel(self, project: Project, campaign_id: str) -> Campaign:
        return self._set(project, campaign_id, CampaignState.CANCELLED)

    def _set(self, project: Project, campaign_id: str, state: CampaignState) -> Campaign:
        campaign = (
            self.store.set_campaign_state(project.id, campaign_id, state)
            if is_id(campaign_id)
            else None
        )
        if campaign is None:
            raise NotFound("id: no such campaign")
        return campaign

    def calls_page(
        self,
        project: Project,
        campaign_id: str,
        *,
        limit: int,
        after: str | None,
        status: CallStatus | None,
    ) -> list[Call]:
        """The campaign's calls (numbers released to the dialers) in list order."""
        if not is_id(campaign_id) or (after is not None and not is_id(after)):
            raise NotFound(
                "id: no such campaign" if not is_id(campaign_id) else "after: no such call"
            )
        page = self.store.campaign_call_page(
            project.id, campaign_id, limit=limit, after=after, status=status
        )
        if page is None:
            self.get(project, campaign_id)
            raise NotFound("after: no such call of this campaign")
        return page

    def first_calls(self, project: Project, campaign_id: str) -> list[Call]:
        """`GET /voice/campaign/{id}`: a batch's calls, or a campaign's first 1,000."""
        if is_id(campaign_id) and self.store.get_campaign(project.id, campaign_id) is not None:
            page = self.store.campaign_call_page(project.id, campaign_id, limit=FIRST_CALLS)
            return page or []
        return self.calls.campaign(project, campaign_id)

    def report(self, project: Project, campaign_id: str) -> tuple[Campaign, Iterator[ReportRow]]:
        campaign = self.get(project, campaign_id)
        return campaign, self.store.campaign_report(campaign)


def _reader(cells: Iterable[tuple[int, str]], project: Project) -> ListReader:
    """A reader of the project's list; the plain Iranian forms are read a batch at a time
    when the project may call Iran."""
    regions = project.allowed_regions
    return ListReader(
        cells,
        lambda raw: parse_phone(raw, allowed_regions=regions),
        plain=plain_iranian if "IR" in regions else None,
    )


# Which of a batch's numbers are on a do-not-call list that stops the campaign.
Listed = Callable[[ListNumbers], npt.NDArray[np.bool_]]


def _rows(reader: ListReader, listed: Listed, progress: Progress | None) -> ListRows:
    """The list's rows a batch at a time; numbers on a do-not-call list are skipped."""
    for numbers in reader.numbers():
        if (barred := listed(numbers)).any():
            numbers = reader.skip_numbers(numbers, barred, SkipReason.DO_NOT_CALL)
        yield ListBatch(numbers.lines, numbers.national, numbers.e164)
        if progress is not None:
            progress(reader.rows)


def _list_skips(skipped: Skipped) -> ListSkips:
    counts = skipped.counts
    return (
        Skips(
            invalid=counts[SkipReason.INVALID],
            not_allowed=counts[SkipReason.NOT_ALLOWED],
            duplicate=counts[SkipReason.DUPLICATE],
            do_not_call=counts[SkipReason.DO_NOT_CALL],
        ),
        tuple(RejectedLine(r.line, r.value, r.reason.value) for r in skipped.rejected),
    )
