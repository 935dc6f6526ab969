"""A window widened or cleared, or a holiday removed, lets the calls it held go at once
(api.md §10), on SQLite and PostgreSQL: through the services as the CLI and the console call
them, and by `rewindow` on a clock the test sets. A narrowed window, a retry's back-off and a
campaign's own window keep the time they set."""

from __future__ import annotations

import json
import math
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.calls.dialers import silent_voice
from voxcall.calls.call_windows import WINDOWS_REFRESH, Holidays, rewindow
from voxcall.calls.campaigns import CampaignFields
from voxcall.calls.dialers import new_dialer
from voxcall.calls.service import CallOptions
from voxcall.calls.windows import Window
from voxcall.config import Settings
from voxcall.domain.calls import AttemptRecord, Call, CallClass, CallStatus, NewCall
from voxcall.domain.projects import Project
from voxcall.runtime import Services
from voxcall.store.store import Store

DAY = 86_400
LONG_LIFE = CallOptions(server_id="d", time_to_live=3 * DAY, retry_interval=3600)


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'voxcall.db'}"
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        Store.open(url, create=True).close()
    return Settings(data_dir=data, database_url=url, sandbox_speed=100.0)


@pytest.fixture
def opening() -> float:
    """A whole UTC hour two to three hours from now: when the test's window opens."""
    return math.ceil(time.time() / 3600) * 3600 + 2 * 3600.0


def daily(start: float, hours: float) -> Window:
    """A window open every day from `start`'s UTC time of day for `hours`."""
    begin = datetime.fromtimestamp(start, UTC)
    return Window.parse(f"sat-fri {begin:%H:%M}-{begin + timedelta(hours=hours):%H:%M} UTC")


@pytest.fixture
def project(services: Services, opening: float) -> Project:
    """A project whose default window is an hour a day, from `opening` on."""
    services.store.add_dialer(new_dialer("d", "sandbox", "D", {}, channels=5, cps=1000))
    project = services.store.create_project("p", rate_limit=10, allowed_regions=["IR"])
    services.projects.update(project, window=daily(opening, 1))
    return services.projects.get(project.id)


def place(services: Services, project: Project) -> Call:
    """A call accepted now, with the holidays as they are now."""
    services.calls.holidays = Holidays(lambda: [d for d, _ in services.store.holidays()])
    (call,) = services.calls.place(
        project, ["09121234567"], silent_voice(services, project, 0.2), LONG_LIFE
    )
    return call


def due(services: Services, call: Call) -> float:
    now = services.store.get_call(call.project_id, call.id)
    assert now is not None
    return now.next_attempt_at


def test_a_holiday_removed_lets_its_calls_go_at_the_opening_again(
    services: Services, project: Project, opening: float
) -> None:
    """Added by mistake and removed: the calls accepted meanwhile wait for today's opening,
    not tomorrow's; a call held over another date is left alone."""
    holiday = datetime.fromtimestamp(opening, UTC).date()
    services.holidays.add(holiday.isoformat())
    call = place(services, project)
    assert due(services, call) == opening + DAY
    services.holidays.remove(holiday.isoformat())
    assert due(services, call) == opening
    services.holidays.add(holiday.isoformat())
    moved = place(services, project)
    other = holiday + timedelta(days=3)
    services.holidays.add(other.isoformat())
    services.holidays.remove(other.isoformat())
    assert due(services, moved) == opening + DAY


def test_a_holiday_removed_inside_the_window_lets_its_calls_go_now(
    services: Services, project: Project, opening: float
) -> None:
    holiday = datetime.fromtimestamp(opening, UTC).date()
    services.holidays.add(holiday.isoformat())
    call = place(services, project)
    services.store.remove_holiday(holiday)
    now = opening + 600
    rewindow(services.store, now, holiday=holiday)
    assert due(services, call) == now + WINDOWS_REFRESH


def test_a_window_widened_or_cleared_lets_its_calls_go_now(
    services: Services, project: Project, opening: float
) -> None:
    widened, cleared = place(services, project), place(services, project)
    now = opening - 1800
    services.store.update_project(project.id, window=json.dumps(daily(now, 2).to_json()))
    rewindow(services.store, now, project_id=project.id)
    assert due(services, widened) == now + WINDOWS_REFRESH
    before = time.time()
    services.projects.update(project, clear_window=True)
    assert before + WINDOWS_REFRESH <= due(services, cleared) <= time.time() + WINDOWS_REFRESH


def test_a_window_narrowed_leaves_its_calls_waiting(
    services: Services, project: Project, opening: float
) -> None:
    """The claim's check hands them back if the narrowed window is closed at their time."""
    call = place(services, project)
    services.projects.update(project, window=daily(opening + 1800, 0.5))
    assert due(services, call) == opening


def test_a_retrys_back_off_is_never_shortened(
    services: Services, project: Project, opening: float
) -> None:
    """A retry its window pushed is due at its back-off's end once the window is cleared; a
    retry that no window pushed is not held at all."""
    dialer = services.store.get_dialer("d")
    assert dialer is not None
    services.store.update_project(project.id, clear_window=True)
    project = services.projects.get(project.id)
    pushed, later = place(services, project), place(services, project)
    claims = services.store.claim_due(dialer, 10, time.time() + 1)
    assert {c.call.id for c in claims} == {pushed.id, later.id}
    backoff_end = time.time() + 1200
    for claim in claims:
        services.store.finish_attempt(
            claim.call.id,
            AttemptRecord(
                attempt_id=claim.attempt_id,
                result="BUSY",
                answered_at=None,
                ended_at=time.time(),
                bill_sec=0,
                cause="busy",
                call_status=CallStatus.WAITING,
                next_attempt_at=opening if claim.call.id == pushed.id else opening + 60,
                window_held_from=backoff_end if claim.call.id == pushed.id else None,
            ),
        )
    services.projects.update(project, window=daily(time.time() - 3600, 2))
    assert (due(services, pushed), due(services, later)) == (backoff_end, opening + 60)


def test_a_campaigns_own_window_is_not_the_projects(
    services: Services, project: Project, opening: float
) -> None:
    """Its calls wait for its own window when the project's is cleared."""
    voice = silent_voice(services, project, 0.2)
    own = daily(opening + 3600, 1)
    fields = CampaignFields(name="c", voice_id=voice, window=json.dumps(own.to_json()))
    campaign = services.campaigns.create(project, fields, ["09121234567"])
    now = int(time.time())
    call = NewCall(
        id=uuid.uuid4().hex,
        project_id=project.id,
        campaign_id=campaign.id,
        voice_id=voice,
        national_number="09121234567",
        e164="+989121234567",
        dialer_id=None,
        retry_count=0,
        retry_interval=None,
        request_date=now,
        expires_at=now + 3 * DAY,
        call_class=CallClass.CAMPAIGN,
        not_before=opening + 3600,
    )
    (held,) = services.store.insert_calls([call])
    services.projects.update(project, clear_window=True)
    assert due(services, held) == opening + 3600
