import pytest

from voxcall.domain.idempotency import KEY_LIFETIME, key_is_spent

NOW = 1_764_190_000.0


@pytest.mark.parametrize(
    ("age", "answered", "spent"),
    [
        (KEY_LIFETIME - 1, True, False),  # answered within the day: replayed
        (KEY_LIFETIME + 1, True, True),  # a day old: forgotten
        (60, False, False),  # pending, its request may still be running: waited for
        (121, False, True),  # pending past stale_after: its process died
    ],
)
def test_a_key_is_spent_once_a_day_old_or_abandoned(
    age: float, answered: bool, spent: bool
) -> None:
    assert key_is_spent(NOW - age, answered, NOW, lifetime=KEY_LIFETIME, stale_after=120) is spent
