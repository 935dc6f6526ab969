from voxcall.api.throttle import TokenBucket


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
