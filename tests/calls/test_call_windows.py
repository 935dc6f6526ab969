"""Which window gates a call and when its next attempt may start (calls/call_windows.py)."""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

from voxcall.calls.call_windows import WindowRules, attempt_from, releasing, window_of
from voxcall.calls.windows import Window
from voxcall.domain.calls import Call, CallClass, CallStatus, Phase
from voxcall.domain.campaigns import Campaign, CampaignPolicy, CampaignState, Skips
from voxcall.store.window_waits import WindowsInForce

TEHRAN = ZoneInfo("Asia/Tehran")
BOISE = ZoneInfo("America/Boise")  # +1 208 555 (Idaho): Boise's zone and Los Angeles'
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
WORKDAYS = Window.parse("sat-wed 09:00-20:00 Asia/Tehran")
EVENINGS = Window.parse("sat-fri 18:00-21:00 Asia/Tehran")
CALLEE_DAYTIME = Window.parse("sat-fri 09:00-20:00 callee")


def local(text: str, zone: ZoneInfo) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def call(
    e164: str = "+989121234567",
    call_class: CallClass = CallClass.SINGLE,
    campaign_id: str | None = None,
    expires_at: float = local("2027-01-01 00:00", TEHRAN),
) -> Call:
    return Call(
        id="c",
        project_id="p",
        campaign_id=campaign_id,
        voice_id="v",
        national_number="0" + e164[3:],
        e164=e164,
        dialer_id=None,
        status=CallStatus.WAITING,
        phase=Phase.QUEUED,
        retry_count=0,
        retry_interval=None,
        request_date=0,
        expires_at=int(expires_at),
        next_attempt_at=0.0,
        execution_date=0,
        attempts=0,
        bill_sec=0,
        price_milli=0,
        reserved_milli=0,
        cause="",
        call_class=call_class,
    )


def test_the_project_default_gates_single_batch_and_campaign_calls() -> None:
    rules = WindowRules(projects={"p": WORKDAYS})
    thursday_night = local("2026-12-10 23:00", TEHRAN)
    saturday_nine = local("2026-12-12 09:00", TEHRAN)
    for kind in (CallClass.SINGLE, CallClass.BATCH, CallClass.CAMPAIGN):
        gated = call(call_class=kind, campaign_id="k")
        assert window_of(gated, rules) == WORKDAYS
        assert attempt_from(gated, rules, thursday_night) == saturday_nine
    monday_noon = local("2026-12-07 12:00", TEHRAN)
    assert attempt_from(call(), rules, monday_noon) == monday_noon
    other = WindowRules(projects={"q": WORKDAYS})
    assert window_of(call(), other) is None
    assert attempt_from(call(), other, thursday_night) == thursday_night


def test_a_campaigns_own_window_comes_before_the_projects() -> None:
    rules = WindowRules(projects={"p": WORKDAYS}, campaigns={"k": EVENINGS})
    campaign_call = call(call_class=CallClass.CAMPAIGN, campaign_id="k")
    assert window_of(campaign_call, rules) == EVENINGS
    thursday_noon = local("2026-12-10 12:00", TEHRAN)
    assert attempt_from(campaign_call, rules, thursday_noon) == local("2026-12-10 18:00", TEHRAN)
    # a campaign without its own window, and a batch, have the project's
    other = call(call_class=CallClass.CAMPAIGN, campaign_id="other")
    assert attempt_from(other, rules, thursday_noon) == local("2026-12-12 09:00", TEHRAN)


def test_one_time_codes_are_never_held() -> None:
    rules = WindowRules(
        holidays=frozenset({date(2026, 12, 10)}),
        projects={"p": WORKDAYS},
    )
    code = call(call_class=CallClass.ONE_TIME_CODE)
    assert window_of(code, rules) is None
    thursday_night = local("2026-12-10 23:00", TEHRAN)
    assert attempt_from(code, rules, thursday_night) == thursday_night


def test_holidays_close_the_window_for_their_local_date() -> None:
    rules = WindowRules(holidays=frozenset({date(2026, 12, 12)}), projects={"p": WORKDAYS})
    friday = local("2026-12-11 12:00", TEHRAN)
    assert attempt_from(call(), rules, friday) == local("2026-12-13 09:00", TEHRAN)


def test_the_callees_zone_every_zone_of_the_number_open() -> None:
    rules = WindowRules(projects={"p": CALLEE_DAYTIME})
    iranian = call("+989121234567")
    idaho = call("+12085550123")  # Boise's zone and Los Angeles': both must be open
    tehran_eight = local("2026-12-07 08:00", TEHRAN)
    assert attempt_from(iranian, rules, tehran_eight) == local("2026-12-07 09:00", TEHRAN)
    boise_eight_thirty = local("2026-12-07 08:30", BOISE)
    # Boise opens at 09:00, Los Angeles an hour later (Boise's 10:00)
    assert attempt_from(idaho, rules, boise_eight_thirty) == local("2026-12-07 09:00", LOS_ANGELES)
    boise_noon = local("2026-12-07 12:00", BOISE)
    assert attempt_from(idaho, rules, boise_noon) == boise_noon
    # at 20:00 in Boise it has closed there, though Los Angeles is at 19:00
    boise_eight_pm = local("2026-12-07 20:00", BOISE)
    assert attempt_from(idaho, rules, boise_eight_pm) == local("2026-12-08 09:00", LOS_ANGELES)


def test_a_window_that_never_opens_holds_the_call_until_it_expires() -> None:
    every_day = frozenset(date.fromordinal(date(2026, 12, 1).toordinal() + n) for n in range(500))
    rules = WindowRules(holidays=every_day, projects={"p": WORKDAYS})
    expiring = call(expires_at=local("2026-12-20 00:00", TEHRAN))
    at = local("2026-12-07 12:00", TEHRAN)
    assert attempt_from(expiring, rules, at) == expiring.expires_at


def test_rules_from_the_stored_windows() -> None:
    stored = WindowsInForce(
        holidays=frozenset({date(2027, 3, 21)}),
        projects={"p": '{"days": ["sat"], "start": "09:00", "end": "20:00", "timezone": "UTC"}'},
        campaigns={
            "k": '{"days": ["sun"], "start": "10:00", "end": "11:00", "timezone": "callee"}',
            "bare": None,
        },
    )
    rules = WindowRules.from_stored(stored)
    assert rules.holidays == {date(2027, 3, 21)}
    assert rules.projects == {"p": Window.parse("sat 09:00-20:00 UTC")}
    assert rules.campaigns == {"k": Window.parse("sun 10:00-11:00 callee"), "bare": None}
    # a campaign's call is known once its campaign is read, with or without a window
    assert rules.knows(call(call_class=CallClass.CAMPAIGN, campaign_id="bare"))
    assert not rules.knows(call(call_class=CallClass.CAMPAIGN, campaign_id="new"))
    assert rules.knows(call(call_class=CallClass.BATCH, campaign_id="a batch"))


def campaign(window: Window | None) -> Campaign:
    policy = CampaignPolicy(
        voice_id="v",
        dialer_id=None,
        retry_count=0,
        retry_interval=None,
        start_at=0,
        end_at=2**40,
        window=json.dumps(window.to_json()) if window is not None else None,
        max_channels=None,
        calls_per_minute=None,
        reservation_milli=0,
    )
    return Campaign(
        id="k",
        project_id="p",
        name="c",
        policy=policy,
        state=CampaignState.ACTIVE,
        total=1,
        released=0,
        no_balance=False,
        skips=Skips(),
        rejected=(),
        created_at=0,
        started_at=None,
        finished_at=None,
    )


def test_a_campaign_is_released_inside_its_own_window_else_its_projects() -> None:
    rules = WindowRules(holidays=frozenset({date(2026, 12, 12)}), projects={"p": WORKDAYS})
    thursday_seven_pm = local("2026-12-10 19:00", TEHRAN)
    assert not releasing(campaign(None), rules, thursday_seven_pm)  # the project's
    assert releasing(campaign(EVENINGS), rules, thursday_seven_pm)  # its own
    assert not releasing(campaign(EVENINGS), rules, local("2026-12-12 19:00", TEHRAN))  # holiday
    # a window in the callee's zone is held call by call
    assert releasing(campaign(CALLEE_DAYTIME), rules, local("2026-12-10 03:00", TEHRAN))
    assert releasing(campaign(None), WindowRules(), thursday_seven_pm)
