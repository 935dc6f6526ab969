from voxcall.billing.reservation import project_holds


def test_each_project_holds_the_sum_of_its_calls() -> None:
    calls = [("a", 1_500), ("b", 700), ("a", 2_500), ("b", 300)]
    assert project_holds(calls) == {"a": 4_000, "b": 1_000}


def test_a_project_whose_calls_cost_nothing_holds_nothing() -> None:
    # a free tariff: no conditional UPDATE for it, so it is never refused for its balance
    assert project_holds([("free", 0), ("free", 0), ("paid", 5)]) == {"paid": 5}
    assert project_holds([]) == {}
