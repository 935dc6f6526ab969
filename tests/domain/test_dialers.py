"""A dialer's calls-per-second limit as a sliding window."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxcall.domain.dialers import claimable, cps_budget


@pytest.mark.parametrize(
    ("cps", "budget"),
    [
        (1, (1.0, 1)),
        (5, (1.0, 5)),
        (2.5, (1.0, 2)),  # whole calls per second, rounded down
        (0.5, (2.0, 1)),  # below 1: one call per 1/cps seconds
        (0.25, (4.0, 1)),
    ],
)
def test_cps_budget(cps: float, budget: tuple[float, int]) -> None:
    assert cps_budget(cps) == budget


@given(st.floats(min_value=0.01, max_value=10_000))
def test_a_window_never_starts_more_than_the_limit_allows(cps: float) -> None:
    window, per_window = cps_budget(cps)
    assert per_window >= 1
    assert per_window / window <= cps * (1 + 1e-12)


@pytest.mark.parametrize(
    ("wanted", "busy", "recent", "count"),
    [
        (5, 0, 0, 5),  # room for all
        (5, 8, 0, 2),  # two channels free
        (5, 0, 9, 1),  # one call left of the second's budget
        (5, 10, 0, 0),  # every channel busy
        (5, 12, 0, 0),  # channels lowered below the calls on them: none, not fewer than 0
    ],
)
def test_a_claim_takes_what_channels_and_budget_leave(
    wanted: int, busy: int, recent: int, count: int
) -> None:
    assert claimable(wanted, channels=10, busy=busy, per_window=10, recent=recent) == count
