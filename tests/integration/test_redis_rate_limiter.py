"""RedisRateLimiter on the real server: the shared contract, window expiry, and counting under concurrency."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from adapters.redis import RedisRateLimiter
from application.ports import RateLimiter, RateRule
from tests.unit.test_memory_rate_limiter import RateLimiterContract


@pytest.fixture
def limiter(redis_client: aioredis.Redis, redis_key_prefix: str) -> RedisRateLimiter:
    return RedisRateLimiter(redis_client, key_prefix=redis_key_prefix)


class TestRedisRateLimiterContract(RateLimiterContract):
    @pytest.fixture
    def limiter(self, redis_client: aioredis.Redis, redis_key_prefix: str) -> RateLimiter:
        return RedisRateLimiter(redis_client, key_prefix=redis_key_prefix)


async def test_the_key_may_act_again_once_the_window_ends(limiter: RedisRateLimiter) -> None:
    rule = RateRule(limit=3, window_seconds=1)
    for _ in range(3):
        assert await limiter.acquire("login:alice", rule) is None
    assert await limiter.acquire("login:alice", rule) == 1
    await asyncio.sleep(1.05)
    assert await limiter.acquire("login:alice", rule) is None


async def test_later_actions_do_not_extend_the_window(
    limiter: RedisRateLimiter, redis_client: aioredis.Redis, redis_key_prefix: str
) -> None:
    rule = RateRule(limit=2, window_seconds=1)
    await limiter.acquire("k", rule)
    await asyncio.sleep(0.6)
    await limiter.acquire("k", rule)
    assert await limiter.acquire("k", rule) == 1
    assert 0 < await redis_client.pttl(f"{redis_key_prefix}rate:k") <= 400
    await asyncio.sleep(0.45)
    assert await limiter.acquire("k", rule) is None


async def test_concurrent_actions_never_pass_the_limit_together(redis_url: str, redis_key_prefix: str) -> None:
    rule = RateRule(limit=50, window_seconds=60)
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(3)]
    try:
        limiters = [RedisRateLimiter(client, key_prefix=redis_key_prefix) for client in clients]
        answers = await asyncio.gather(*(limiters[n % 3].acquire("k", rule) for n in range(80)))
        assert answers.count(None) == 50
        assert {answer for answer in answers if answer is not None} == {60}
    finally:
        for client in clients:
            await client.aclose()


async def test_a_counter_that_lost_its_ttl_gets_one_back(
    limiter: RedisRateLimiter, redis_client: aioredis.Redis, redis_key_prefix: str
) -> None:
    rule = RateRule(limit=1, window_seconds=30)
    await redis_client.set(f"{redis_key_prefix}rate:k", 5)
    assert await limiter.acquire("k", rule) == 30
    assert 29_000 < await redis_client.pttl(f"{redis_key_prefix}rate:k") <= 30_000
