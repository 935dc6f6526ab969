from voxcall.api.throttle import RateLimiter, TokenBucket
from voxcall.domain.projects import Project


def test_burst_then_refill() -> None:
    bucket = TokenBucket(rate=10, capacity=10)
    assert all(bucket.take(0.0) for _ in range(10))
    assert not bucket.take(0.0)
    assert bucket.wait_time(0.0) == 0.1
    assert bucket.take(0.1)
    assert not bucket.take(0.1)


def test_never_exceeds_capacity() -> None:
    bucket = TokenBucket(rate=5, capacity=5)
    assert bucket.take(0.0, 5)
    # a long idle time refills to the capacity, not beyond it
    assert bucket.take(1000.0, 5)
    assert not bucket.take(1000.0)


def _project(project_id: str, rate_limit: int) -> Project:
    return Project(project_id, project_id, rate_limit, None, ("IR",), 0)


def test_rate_limiter_keeps_a_bucket_per_project() -> None:
    limiter = RateLimiter()
    acme, other = _project("acme", 2), _project("other", 2)
    assert [limiter.wait(acme, 0.0) for _ in range(2)] == [None, None]
    assert limiter.wait(acme, 0.0) == 0.5
    assert limiter.wait(other, 0.0) is None  # acme's burst costs no other project
    assert limiter.wait(acme, 0.5) is None


def test_rate_limiter_starts_afresh_when_a_project_s_rate_changes() -> None:
    limiter = RateLimiter()
    assert limiter.wait(_project("acme", 1), 0.0) is None
    assert limiter.wait(_project("acme", 1), 0.0) == 1.0
    assert limiter.wait(_project("acme", 4), 0.0) is None
