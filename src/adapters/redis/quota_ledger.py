"""QuotaLedger in Redis: each operation is one Lua script, so API processes can never pass a limit together.

Per user: hash `used` (item -> size), hash `reserved` (item -> size), sorted set `expiry` (item -> expiry,
epoch ms of the Redis server's clock) of pending uploads, sorted set `held` of the same for ended uploads whose
URL may still store a file (reserved, but not pending), and a `version` counter bumped by every change.
`reserved`, `expiry` and `held` expire with their last reservation. Each hash also holds the sum of its sizes,
and `expiry` counts the pending uploads, so every operation costs the same however many uploads the user has.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.outages import outages_unavailable
from application.ports import GRANTED, OVER_QUOTA, LedgerEntry, Reservation
from domain.errors import ServiceUnavailable

_PRELUDE = """
local used_key, reserved_key, expiry_key, version_key, held_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
-- Each hash keeps the sum of its sizes in this field (no upload id looks like it), so that no operation reads
-- every item: a hash written before it had the field gets it the first time it is read.
local SUM = '#bytes'

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function total(key)
  local sum = redis.call('HGET', key, SUM)
  if sum then
    return tonumber(sum)
  end
  local all = redis.call('HGETALL', key)
  local counted = 0
  for i = 1, #all, 2 do
    if all[i] ~= SUM then
      counted = counted + tonumber(all[i + 1])
    end
  end
  if #all > 0 then
    redis.call('HSET', key, SUM, counted)
  end
  return counted
end

local function put(key, item, size)
  local sum = total(key)
  local old = redis.call('HGET', key, item)
  if old then
    sum = sum - tonumber(old)
  end
  redis.call('HSET', key, item, size, SUM, sum + tonumber(size))
end

local function drop(key, item)
  local old = redis.call('HGET', key, item)
  if not old then
    return
  end
  local sum = total(key) - tonumber(old)
  redis.call('HDEL', key, item)
  if redis.call('HLEN', key) <= 1 then
    redis.call('DEL', key)
  else
    redis.call('HSET', key, SUM, sum)
  end
end

local function holds(key, item)
  return redis.call('HEXISTS', key, item) == 1
end

local function drop_lapsed(now)
  for _, key in ipairs({expiry_key, held_key}) do
    local lapsed = redis.call('ZRANGEBYSCORE', key, '-inf', now)
    for i = 1, #lapsed do
      drop(reserved_key, lapsed[i])
    end
    if #lapsed > 0 then
      redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    end
  end
end

local function forget_expiry(item)
  redis.call('ZREM', expiry_key, item)
  redis.call('ZREM', held_key, item)
end

local function expire_with_last_reservation()
  local latest = 0
  for _, key in ipairs({expiry_key, held_key}) do
    local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
    if #last > 0 then
      redis.call('PEXPIREAT', key, last[2])
      latest = math.max(latest, tonumber(last[2]))
    end
  end
  if latest == 0 then
    redis.call('DEL', reserved_key, expiry_key, held_key)
  else
    redis.call('PEXPIREAT', reserved_key, latest)
  end
end
"""

# KEYS[6]: the mark of a full rebuild; without it (Redis lost its data) nothing is counted: -1.
_UNLESS_REBUILT = """
if redis.call('EXISTS', KEYS[6]) == 0 then
  return -1
end
"""

# ARGV: item, size, limit, ttl_ms, max_pending ('' for no bound). Returns 1 when granted, 0 over the limit, and
# {-2, pending, ms} when `pending` live reservations reach max_pending: in `ms` the earliest expiry that brings them
# under it passes.
_RESERVE = """
local item, size, limit, ttl_ms = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local max_pending = tonumber(ARGV[5])
local now = now_ms()
drop_lapsed(now)
if holds(used_key, item) or holds(reserved_key, item) then
  return 1
end
if max_pending then
  local pending = redis.call('ZCARD', expiry_key)
  if pending >= max_pending then
    local frees = redis.call('ZRANGE', expiry_key, pending - max_pending, pending - max_pending, 'WITHSCORES')
    return {-2, pending, tonumber(frees[2]) - now}
  end
end
if total(used_key) + total(reserved_key) + size > limit then
  return 0
end
put(reserved_key, item, ARGV[2])
redis.call('ZADD', expiry_key, now + ttl_ms, item)
expire_with_last_reservation()
redis.call('INCR', version_key)
return 1
"""

# ARGV: item, size, limit. Returns 1 when the item is used bytes now.
_CONFIRM = """
local item, size, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
drop_lapsed(now_ms())
local held = holds(used_key, item) or holds(reserved_key, item)
if not held and total(used_key) + total(reserved_key) + size > limit then
  return 0
end
drop(reserved_key, item)
forget_expiry(item)
put(used_key, item, ARGV[2])
redis.call('INCR', version_key)
return 1
"""

# ARGV: item.
_RELEASE = """
drop(used_key, ARGV[1])
drop(reserved_key, ARGV[1])
forget_expiry(ARGV[1])
redis.call('INCR', version_key)
return 1
"""

# ARGV: item, size, until_ms.
_HOLD = """
drop(used_key, ARGV[1])
drop(reserved_key, ARGV[1])
forget_expiry(ARGV[1])
if tonumber(ARGV[3]) > now_ms() then
  put(reserved_key, ARGV[1], ARGV[2])
  redis.call('ZADD', held_key, ARGV[3], ARGV[1])
end
expire_with_last_reservation()
redis.call('INCR', version_key)
return 1
"""

_USAGE = """
drop_lapsed(now_ms())
return {total(used_key), total(reserved_key)}
"""

# ARGV: expected version ('' for any), limit, then JSON of {used: [[item, size]], reserved: [[item, size,
# expires_ms]], in_flight: [[item, size, expires_ms]]}. Returns 0 when the version moved on.
_REPLACE = """
local current = tonumber(redis.call('GET', version_key) or '0')
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= current then
  return 0
end
local limit = tonumber(ARGV[2])
local state = cjson.decode(ARGV[3])
local now = now_ms()
drop_lapsed(now)
local kept, added = {}, {}
for _, pending in ipairs({state.reserved, state.in_flight}) do
  for _, entry in ipairs(pending) do
    local confirming = redis.call('HGET', used_key, entry[1])
    if confirming then
      table.insert(state.used, {entry[1], confirming})
    elseif holds(reserved_key, entry[1]) then
      table.insert(kept, entry)
    elseif pending == state.reserved then
      table.insert(added, entry)
    end
  end
end
local was_held = {}
for _, item in ipairs(redis.call('ZRANGE', held_key, 0, -1)) do
  was_held[item] = true
end
redis.call('DEL', used_key, reserved_key, expiry_key, held_key)
for _, entry in ipairs(state.used) do
  put(used_key, entry[1], entry[2])
end
local held = total(used_key)
for _, entries in ipairs({kept, added}) do
  for _, entry in ipairs(entries) do
    local known = holds(used_key, entry[1]) or holds(reserved_key, entry[1])
    if entry[3] > now and not known and held + entry[2] <= limit then
      put(reserved_key, entry[1], entry[2])
      redis.call('ZADD', was_held[entry[1]] and held_key or expiry_key, entry[3], entry[1])
      held = held + entry[2]
    end
  end
end
expire_with_last_reservation()
return 1
"""


@outages_unavailable("redis", (RedisError,))
class RedisQuotaLedger:
    def __init__(self, redis: Redis, key_prefix: str = "scoremate:") -> None:
        self._redis = redis
        self._prefix = key_prefix
        self._reserve = redis.register_script(_PRELUDE + _UNLESS_REBUILT + _RESERVE)
        self._confirm = redis.register_script(_PRELUDE + _UNLESS_REBUILT + _CONFIRM)
        self._release = redis.register_script(_PRELUDE + _RELEASE)
        self._hold = redis.register_script(_PRELUDE + _HOLD)
        self._usage = redis.register_script(_PRELUDE + _USAGE)
        self._replace = redis.register_script(_PRELUDE + _REPLACE)

    async def reserve(
        self,
        user_id: UUID,
        upload_id: UUID,
        size_bytes: int,
        limit_bytes: int,
        ttl_seconds: int,
        max_pending: int | None = None,
    ) -> Reservation:
        if size_bytes < 0 or ttl_seconds <= 0:
            raise ValueError("size_bytes must be >= 0 and ttl_seconds > 0")
        if max_pending is not None and max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        bound = "" if max_pending is None else max_pending
        answer = await self._reserve(
            keys=[*self._keys(user_id), self._rebuilt_key],
            args=[str(upload_id), size_bytes, limit_bytes, ttl_seconds * 1000, bound],
        )
        if isinstance(answer, list):  # too many pending: [-2, pending, ms until a place frees]
            return Reservation(False, int(answer[1]), max(1, math.ceil(int(answer[2]) / 1000)))
        return GRANTED if _counted(answer) else OVER_QUOTA

    async def confirm(self, user_id: UUID, upload_id: UUID, size_bytes: int, limit_bytes: int) -> bool:
        if size_bytes < 0:
            raise ValueError("size_bytes must be >= 0")
        keys = [*self._keys(user_id), self._rebuilt_key]
        return _counted(await self._confirm(keys=keys, args=[str(upload_id), size_bytes, limit_bytes]))

    async def release(self, user_id: UUID, upload_id: UUID) -> None:
        await self._release(keys=self._keys(user_id), args=[str(upload_id)])

    async def hold(self, user_id: UUID, upload_id: UUID, size_bytes: int, until: datetime) -> None:
        if until.tzinfo is None:
            raise ValueError("until must be timezone-aware")
        await self._hold(keys=self._keys(user_id), args=[str(upload_id), size_bytes, int(until.timestamp() * 1000)])

    async def usage(self, user_id: UUID) -> tuple[int, int]:
        used, reserved = await self._usage(keys=self._keys(user_id))
        return int(used), int(reserved)

    async def version(self, user_id: UUID) -> int:
        return int(await self._redis.get(self._keys(user_id)[3]) or 0)

    async def replace(
        self,
        user_id: UUID,
        used: Sequence[LedgerEntry],
        reserved: Sequence[LedgerEntry],
        *,
        limit_bytes: int,
        expected_version: int | None = None,
        in_flight: Sequence[LedgerEntry] = (),
    ) -> bool:
        state = {
            "used": [[str(entry.upload_id), entry.size_bytes] for entry in used],
            "reserved": [[str(entry.upload_id), entry.size_bytes, _epoch_ms(entry)] for entry in reserved],
            "in_flight": [[str(entry.upload_id), entry.size_bytes, _epoch_ms(entry)] for entry in in_flight],
        }
        expected = "" if expected_version is None else str(expected_version)
        args: list[str | int] = [expected, limit_bytes, json.dumps(state)]
        return bool(await self._replace(keys=self._keys(user_id), args=args))

    async def rebuilt(self) -> bool:
        return bool(await self._redis.exists(self._rebuilt_key))

    async def mark_rebuilt(self) -> None:
        await self._redis.set(self._rebuilt_key, "1")

    async def check(self) -> None:
        await self._redis.ping()

    @property
    def _rebuilt_key(self) -> str:
        return f"{self._prefix}quota:rebuilt"

    def _keys(self, user_id: UUID) -> list[str]:
        base = f"{self._prefix}quota:{user_id}"
        return [f"{base}:used", f"{base}:reserved", f"{base}:expiry", f"{base}:version", f"{base}:held"]


def _counted(answer: int) -> bool:
    if answer == -1:
        raise ServiceUnavailable("The quota ledger lost its data; it is being rebuilt from the database.")
    return bool(answer)


def _epoch_ms(entry: LedgerEntry) -> int:
    if entry.expires_at is None or entry.expires_at.tzinfo is None:
        raise ValueError(f"reserved entry {entry.upload_id} needs a timezone-aware expires_at")
    return int(entry.expires_at.timestamp() * 1000)
