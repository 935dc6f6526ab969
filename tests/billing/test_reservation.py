import pytest

from voxcall.billing.reservation import affordable, project_holds


def test_each_project_holds_the_sum_of_its_calls() -> None:
    calls = [("a", 1_500), ("b", 700), ("a", 2_500), ("b", 300)]
    assert project_holds(calls) == {"a": 4_000, "b": 1_000}


def test_a_project_whose_calls_cost_nothing_holds_nothing() -> None:
    # a free tariff: no conditional UPDATE for it, so it is never refused for its balance
    assert project_holds([("free", 0), ("free", 0), ("paid", 5)]) == {"paid": 5}
    assert project_holds([]) == {}


@pytest.mark.parametrize(
    ("wanted", "available", "each", "count"),
    [
        (10, 3_500, 1_000, 3),  # what the balance covers, rounded down
        (2, 3_500, 1_000, 2),  # no more than wanted
        (10, 999, 1_000, 0),
        (10, -5_000, 1_000, 0),  # an overdrawn balance covers none
        (10, -5_000, 0, 10),  # calls that cost nothing are all affordable
    ],
)
def test_a_campaign_releases_what_the_balance_covers(
    wanted: int, available: int, each: int, count: int
) -> None:
    assert affordable(wanted, available, each) == count
