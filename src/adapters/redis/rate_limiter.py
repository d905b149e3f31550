"""Fixed-window RateLimiter in Redis: a counter per key that expires with its window, changed by Lua scripts."""

from __future__ import annotations

import math

from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.outages import outages_unavailable
from application.ports import RateRule

# KEYS[1] counter; ARGV[1] limit, ARGV[2] window in ms. Returns -1 when counted, else the ms to wait.
_ACQUIRE = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
if count >= tonumber(ARGV[1]) then
  if ttl < 0 then
    -- A counter without a TTL would block the key for good; give it one.
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    ttl = tonumber(ARGV[2])
  end
  return ttl
end
redis.call('INCR', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return -1
"""

_RELEASE = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then
  redis.call('DECR', KEYS[1])
end
return 0
"""


@outages_unavailable("redis", (RedisError,))
class RedisRateLimiter:
    def __init__(self, redis: Redis, key_prefix: str = "scoremate:") -> None:
        self._prefix = key_prefix
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)

    async def acquire(self, key: str, rule: RateRule) -> int | None:
        wait_ms = int(await self._acquire(keys=[self._key(key)], args=[rule.limit, rule.window_seconds * 1000]))
        return None if wait_ms < 0 else max(1, math.ceil(wait_ms / 1000))

    async def release(self, key: str) -> None:
        await self._release(keys=[self._key(key)])

    def _key(self, key: str) -> str:
        return f"{self._prefix}rate:{key}"
