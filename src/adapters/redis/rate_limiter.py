"""Fixed-window RateLimiter in Redis: a counter per key that expires with its window."""

from __future__ import annotations

import math

from redis.asyncio import Redis

from application.ports import RateRule


class RedisRateLimiter:
    def __init__(self, redis: Redis, key_prefix: str = "scoremate:") -> None:
        self._redis = redis
        self._prefix = key_prefix

    async def retry_after(self, key: str, rule: RateRule) -> int | None:
        name = self._key(key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(name)
            pipe.pttl(name)
            count, ttl = await pipe.execute()
        ttl_ms = int(ttl)
        if count is None or int(count) < rule.limit:
            return None
        if ttl_ms < 0:
            # A counter without a TTL would block the key for good; give it one (hit() never leaves it so).
            await self._redis.pexpire(name, rule.window_seconds * 1000, nx=True)
            return rule.window_seconds
        return max(1, math.ceil(ttl_ms / 1000))

    async def hit(self, key: str, rule: RateRule) -> None:
        name = self._key(key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.pexpire(name, rule.window_seconds * 1000, nx=True)
            await pipe.execute()

    def _key(self, key: str) -> str:
        return f"{self._prefix}rate:{key}"
