from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxcall.calls.priority import CallClass, Queue, Turns, choose

OTP, SINGLE, BATCH, CAMPAIGN = CallClass


def names(picks: list[Queue]) -> list[str]:
    return [f"{q.project}/{q.campaign}" if q.campaign else q.project for q in picks]


def test_a_one_time_code_goes_before_a_million_campaign_calls() -> None:
    queues = [
        Queue(CAMPAIGN, "shop", "spring", ready=1_000_000),
        Queue(BATCH, "clinic", "monday", ready=5),
        Queue(OTP, "bank", None, ready=1),
        Queue(SINGLE, "clinic", None, ready=1),
    ]
    picks, _ = choose(queues, 4, Turns())
    assert names(picks) == ["bank", "clinic", "clinic/monday", "clinic/monday"]


def test_projects_of_a_class_take_turns_and_the_turns_carry_over() -> None:
    queues = [
        Queue(CAMPAIGN, "a", "big", ready=1_000_000),
        Queue(CAMPAIGN, "b", "small", ready=3),
        Queue(CAMPAIGN, "c", "tiny", ready=1),
    ]
    picks, turns = choose(queues, 5, Turns())
    assert names(picks) == ["a/big", "b/small", "c/tiny", "a/big", "b/small"]
    picks, turns = choose(queues, 2, turns)
    assert names(picks) == ["c/tiny", "a/big"]  # the same calls still wait
    picks, _ = choose(queues, 3, turns)
    assert names(picks) == ["b/small", "c/tiny", "a/big"]


def test_a_projects_campaigns_share_its_turns() -> None:
    queues = [
        Queue(CAMPAIGN, "a", "one", ready=100),
        Queue(CAMPAIGN, "a", "two", ready=100),
        Queue(CAMPAIGN, "b", "only", ready=100),
    ]
    picks, _ = choose(queues, 6, Turns())
    assert names(picks) == ["a/one", "b/only", "a/two", "b/only", "a/one", "b/only"]


def test_a_campaigns_limits_cap_it() -> None:
    queues = [
        Queue(CAMPAIGN, "a", "capped", ready=100, running=3, max_channels=4),
        Queue(CAMPAIGN, "a", "paced", ready=100, started_last_minute=58, calls_per_minute=60),
        Queue(CAMPAIGN, "a", "full", ready=100, running=5, max_channels=5),
        Queue(CAMPAIGN, "b", "open", ready=100),
    ]
    picks, _ = choose(queues, 10, Turns())
    assert Counter(names(picks)) == {"a/capped": 1, "a/paced": 2, "b/open": 7}


def test_nothing_to_choose() -> None:
    assert choose([], 5, Turns()) == ([], Turns())
    assert choose([Queue(SINGLE, "a", None, ready=0)], 5, Turns())[0] == []
    assert choose([Queue(SINGLE, "a", None, ready=3)], 0, Turns())[0] == []


def test_a_queue_given_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="one queue per class, project and list"):
        choose([Queue(SINGLE, "a", None, ready=1), Queue(SINGLE, "a", None, ready=2)], 1, Turns())


@st.composite
def _queues(draw: st.DrawFn) -> list[Queue]:
    keys = draw(
        st.sets(
            st.tuples(
                st.sampled_from(CallClass),
                st.sampled_from(["p1", "p2", "p3", "p4"]),
                st.sampled_from([None, "c1", "c2", "c3"]),
            ),
            max_size=12,
        )
    )
    queues = []
    for call_class, project, campaign in sorted(keys, key=str):
        limited = draw(st.booleans())
        queues.append(
            Queue(
                call_class,
                project,
                campaign,
                ready=draw(st.integers(0, 12)),
                running=draw(st.integers(0, 5)),
                started_last_minute=draw(st.integers(0, 10)),
                max_channels=draw(st.integers(1, 6)) if limited else None,
                calls_per_minute=draw(st.one_of(st.none(), st.integers(1, 12))),
            )
        )
    return queues


@st.composite
def _turns(draw: st.DrawFn) -> Turns:
    projects = draw(
        st.dictionaries(st.sampled_from(CallClass), st.sampled_from(["p1", "p3", "p9"]))
    )
    lists = draw(
        st.dictionaries(
            st.tuples(st.sampled_from(CallClass), st.sampled_from(["p1", "p2"])),
            st.sampled_from(["", "c1", "c2", "c9"]),
        )
    )
    return Turns(projects, lists)


Key = tuple[CallClass, str, str | None]


def _picked(picks: list[Queue]) -> Counter[Key]:
    return Counter((queue.call_class, queue.project, queue.campaign) for queue in picks)


@settings(max_examples=500)
@given(queues=_queues(), slots=st.integers(0, 40), turns=_turns())
def test_choices_keep_class_order_limits_and_fair_shares(
    queues: list[Queue], slots: int, turns: Turns
) -> None:
    picks, _ = choose(queues, slots, turns)
    picked = _picked(picks)
    allowance = {(q.call_class, q.project, q.campaign): q.allowance for q in queues}
    # as many as there are slots for and calls allowed to go
    assert len(picks) == min(slots, sum(allowance.values()))
    # no queue, hence no campaign, beyond its limits
    for queue in queues:
        count = picked[(queue.call_class, queue.project, queue.campaign)]
        assert count <= queue.ready
        if queue.max_channels is not None:
            assert queue.running + count <= max(queue.max_channels, queue.running)
        if queue.calls_per_minute is not None:
            assert queue.started_last_minute + count <= max(
                queue.calls_per_minute, queue.started_last_minute
            )
    # strict class order: a class gets nothing while an earlier one has calls left to go
    assert [queue.call_class for queue in picks] == sorted(queue.call_class for queue in picks)
    for call_class in CallClass:
        if any(queue.call_class > call_class for queue in picks):
            of_class = [key for key in allowance if key[0] == call_class]
            assert all(picked[key] == allowance[key] for key in of_class)
    # fair shares: a project (a list within a project) gets more than one call more than
    # another only when the other has nothing more allowed
    for call_class in CallClass:
        of_class = {key: left for key, left in allowance.items() if key[0] == call_class}
        _assert_fair(of_class, picked, lambda key: key[1])
        for project in {key[1] for key in of_class}:
            of_project = {key: left for key, left in of_class.items() if key[1] == project}
            _assert_fair(of_project, picked, lambda key: key[2] or "")


def _assert_fair(
    allowance: dict[Key, int], picked: Counter[Key], member: Callable[[Key], str]
) -> None:
    got: Counter[str] = Counter()
    room: Counter[str] = Counter()
    for key, left in allowance.items():
        got[member(key)] += picked[key]
        room[member(key)] += left
    for one in room:
        for other in room:
            if got[one] > got[other] + 1:
                assert got[other] == room[other], (one, other, got, room)


@settings(max_examples=200)
@given(
    projects=st.lists(st.sampled_from(["p1", "p2", "p3", "p4", "p5"]), min_size=1, unique=True),
    rounds=st.integers(1, 30),
    slots=st.integers(1, 3),
    turns=_turns(),
)
def test_no_project_of_the_first_class_waits_more_than_a_turn_of_the_others(
    projects: list[str], rounds: int, slots: int, turns: Turns
) -> None:
    """Choices one after another, each with the turns the last gave: over any stretch, a
    project with calls always ready gets its share to within one call."""
    queues = [Queue(BATCH, project, "list", ready=1_000) for project in projects]
    queues += [Queue(CAMPAIGN, "p1", "big", ready=1_000)]
    counts: Counter[str] = Counter()
    for _ in range(rounds):
        picks, turns = choose(queues, slots, turns)
        counts.update(queue.project for queue in picks)
        assert all(queue.call_class == BATCH for queue in picks)
    total = rounds * slots
    for project in projects:
        assert total // len(projects) <= counts[project] <= -(-total // len(projects))
