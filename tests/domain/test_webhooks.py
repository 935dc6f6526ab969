from voxcall.domain.webhooks import lease_shares

NOW = 1_000.0


def test_projects_whose_oldest_event_is_due_share_a_lease_oldest_first() -> None:
    oldest = [("late", 900.0), ("early", 100.0), ("not yet", NOW + 1), ("none", None)]
    assert lease_shares(oldest, NOW, limit=10, per_project=2, room={}) == [
        ("early", 2),
        ("late", 2),
    ]


def test_a_project_takes_its_room_and_none_without_room() -> None:
    oldest = [("a", 100.0), ("b", 200.0), ("c", 300.0)]
    shares = lease_shares(oldest, NOW, limit=10, per_project=2, room={"a": 5, "b": 0})
    assert shares == [("a", 5), ("c", 2)]


def test_no_more_projects_than_the_lease_may_take_events() -> None:
    oldest = [(f"p{i}", float(i)) for i in range(5)]
    assert lease_shares(oldest, NOW, limit=3, per_project=1, room={}) == [
        ("p0", 1),
        ("p1", 1),
        ("p2", 1),
    ]
