"""InMemoryRateLimiter: the RateLimiter contract (reused for Redis) and fixed windows on a hand-moved clock."""

from __future__ import annotations

from uuid import uuid4

import pytest

from adapters.memory import InMemoryRateLimiter
from application.ports import RateLimiter, RateRule

THREE_A_MINUTE = RateRule(limit=3, window_seconds=60)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RateLimiterContract:
    """Behaviour every RateLimiter shares; subclasses provide the `limiter` fixture."""

    async def test_a_key_may_act_up_to_its_limit_then_waits_for_the_window(self, limiter: RateLimiter) -> None:
        key = f"k{uuid4()}"
        assert [await limiter.acquire(key, THREE_A_MINUTE) for _ in range(3)] == [None, None, None]
        retry_after = await limiter.acquire(key, THREE_A_MINUTE)
        assert retry_after is not None
        assert 59 <= retry_after <= 60

    async def test_refused_actions_are_not_counted(self, limiter: RateLimiter) -> None:
        key = f"k{uuid4()}"
        for _ in range(6):
            await limiter.acquire(key, THREE_A_MINUTE)
        await limiter.release(key)
        assert await limiter.acquire(key, THREE_A_MINUTE) is None  # 3 counted, 1 released: room for one
        assert await limiter.acquire(key, THREE_A_MINUTE) is not None

    async def test_releasing_more_than_was_counted_gives_no_credit(self, limiter: RateLimiter) -> None:
        key = f"k{uuid4()}"
        await limiter.release(key)
        await limiter.acquire(key, THREE_A_MINUTE)
        await limiter.release(key)
        await limiter.release(key)
        assert [await limiter.acquire(key, THREE_A_MINUTE) for _ in range(3)] == [None, None, None]
        assert await limiter.acquire(key, THREE_A_MINUTE) is not None

    async def test_keys_are_counted_apart(self, limiter: RateLimiter) -> None:
        busy, quiet = f"k{uuid4()}", f"k{uuid4()}"
        for _ in range(3):
            await limiter.acquire(busy, THREE_A_MINUTE)
        assert await limiter.acquire(quiet, THREE_A_MINUTE) is None
        assert await limiter.acquire(busy, THREE_A_MINUTE) is not None


class TestInMemoryRateLimiterContract(RateLimiterContract):
    @pytest.fixture
    def limiter(self) -> RateLimiter:
        return InMemoryRateLimiter()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limiter(clock: FakeClock) -> InMemoryRateLimiter:
    return InMemoryRateLimiter(clock=clock)


async def _use_up(limiter: InMemoryRateLimiter, key: str, count: int = 3) -> None:
    for _ in range(count):
        assert await limiter.acquire(key, THREE_A_MINUTE) is None


async def test_the_wait_counts_down_to_the_end_of_the_window(limiter: InMemoryRateLimiter, clock: FakeClock) -> None:
    await _use_up(limiter, "k")
    assert await limiter.acquire("k", THREE_A_MINUTE) == 60
    clock.advance(45.5)
    assert await limiter.acquire("k", THREE_A_MINUTE) == 15
    clock.advance(14.4)
    assert await limiter.acquire("k", THREE_A_MINUTE) == 1


async def test_the_key_may_act_again_once_the_window_ends(limiter: InMemoryRateLimiter, clock: FakeClock) -> None:
    await _use_up(limiter, "k")
    clock.advance(60)
    await _use_up(limiter, "k")
    assert await limiter.acquire("k", THREE_A_MINUTE) == 60


async def test_later_actions_do_not_extend_the_window(limiter: InMemoryRateLimiter, clock: FakeClock) -> None:
    await _use_up(limiter, "k", 1)
    clock.advance(50)
    await _use_up(limiter, "k", 2)
    assert await limiter.acquire("k", THREE_A_MINUTE) == 10
    clock.advance(10)
    assert await limiter.acquire("k", THREE_A_MINUTE) is None


async def test_lapsed_windows_are_dropped(limiter: InMemoryRateLimiter, clock: FakeClock) -> None:
    one_a_second = RateRule(limit=1, window_seconds=1)
    for n in range(5000):
        await limiter.acquire(f"client-{n}", one_a_second)
        clock.advance(0.01)
    # About 100 windows are live at any time; lapsed ones are swept whenever 1024 are held.
    assert len(limiter) <= 1024
    await limiter.acquire("late", THREE_A_MINUTE)
    held = len(limiter)
    clock.advance(60)
    await limiter.release("late")  # finds the window lapsed and drops it
    assert len(limiter) == held - 1
