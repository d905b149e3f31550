"""Claims on the current period of a periodic task, so that of all the workers exactly one sends it."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.outages import outages_unavailable


@outages_unavailable("redis", (RedisError,))
class RedisPeriodicClaims:
    def __init__(self, redis: Redis, key_prefix: str) -> None:
        self._redis = redis
        self._prefix = f"{key_prefix}periodic:"

    async def claim(self, name: str, period_seconds: float) -> bool:
        """True for the first caller in a period: the claim lives one period, then the next caller's wins."""
        period_ms = max(1, round(period_seconds * 1000))
        return bool(await self._redis.set(f"{self._prefix}{name}", "claimed", nx=True, px=period_ms))
