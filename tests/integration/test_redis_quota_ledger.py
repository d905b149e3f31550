"""RedisQuotaLedger on the real server: the shared contract, expiry by Redis TTL, and atomicity under concurrency."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from adapters.redis import RedisQuotaLedger
from application.ports import LedgerEntry, QuotaLedger
from domain.errors import ServiceUnavailable
from tests.unit.test_memory_quota_ledger import QuotaLedgerContract


@pytest.fixture
async def ledger(redis_client: aioredis.Redis, redis_key_prefix: str) -> RedisQuotaLedger:
    ledger = RedisQuotaLedger(redis_client, key_prefix=redis_key_prefix)
    await ledger.mark_rebuilt()
    return ledger


class TestRedisQuotaLedgerContract(QuotaLedgerContract):
    @pytest.fixture
    async def ledger(self, redis_client: aioredis.Redis, redis_key_prefix: str) -> QuotaLedger:
        ledger = RedisQuotaLedger(redis_client, key_prefix=redis_key_prefix)
        await ledger.mark_rebuilt()
        return ledger


async def test_a_ledger_that_lost_its_data_counts_nothing_until_rebuilt(
    ledger: RedisQuotaLedger, redis_client: aioredis.Redis, redis_key_prefix: str
) -> None:
    """Counting from nothing would grant bytes the database already holds as used."""
    user, held = uuid4(), uuid4()
    assert await ledger.confirm(user, held, 90, 100)
    assert await ledger.rebuilt()
    await redis_client.delete(*await redis_client.keys(f"{redis_key_prefix}*"))  # Redis restarted empty

    assert not await ledger.rebuilt()
    with pytest.raises(ServiceUnavailable):
        await ledger.reserve(user, uuid4(), 50, 100, ttl_seconds=60)
    with pytest.raises(ServiceUnavailable):
        await ledger.confirm(user, uuid4(), 50, 100)
    await ledger.replace(user, [LedgerEntry(held, 90)], [], limit_bytes=100)
    await ledger.mark_rebuilt()
    assert not await ledger.reserve(user, uuid4(), 50, 100, ttl_seconds=60)
    assert await ledger.usage(user) == (90, 0)


async def test_reservations_lapse_after_their_ttl_and_their_keys_vanish(
    ledger: RedisQuotaLedger, redis_client: aioredis.Redis, redis_key_prefix: str
) -> None:
    user, item = uuid4(), uuid4()
    assert await ledger.reserve(user, item, 100, 100, ttl_seconds=1)
    assert not await ledger.reserve(user, uuid4(), 1, 100, ttl_seconds=1)
    user_keys = f"{redis_key_prefix}quota:{user}:*"
    keys = [key async for key in redis_client.scan_iter(match=user_keys) if not key.endswith(b":version")]
    assert keys
    for key in keys:
        assert 0 < await redis_client.pttl(key) <= 1000
    await asyncio.sleep(1.1)
    # Idle users' lapsed reservations leave nothing behind but the user's change counter.
    left = [key async for key in redis_client.scan_iter(match=user_keys)]
    assert [key.decode().rsplit(":", 1)[1] for key in left] == ["version"]
    assert await ledger.usage(user) == (0, 0)
    assert await ledger.reserve(user, item, 100, 100, ttl_seconds=60)
    assert await ledger.usage(user) == (0, 100)


async def test_a_lapsed_reservation_is_dropped_before_the_limit_is_checked(ledger: RedisQuotaLedger) -> None:
    user = uuid4()
    assert await ledger.reserve(user, uuid4(), 60, 100, ttl_seconds=1)
    assert await ledger.reserve(user, uuid4(), 40, 100, ttl_seconds=60)
    await asyncio.sleep(1.1)
    assert await ledger.reserve(user, uuid4(), 60, 100, ttl_seconds=60)
    assert await ledger.usage(user) == (0, 100)


async def test_a_reservation_that_lapsed_before_its_confirm_cannot_take_room_given_away(
    ledger: RedisQuotaLedger,
) -> None:
    user, late, other = uuid4(), uuid4(), uuid4()
    assert await ledger.reserve(user, late, 60, 100, ttl_seconds=1)
    await asyncio.sleep(1.1)
    assert await ledger.reserve(user, other, 60, 100, ttl_seconds=60)
    assert not await ledger.confirm(user, late, 60, 100)
    assert await ledger.usage(user) == (0, 60)


async def test_confirm_after_the_reservation_lapsed_still_records_used(
    ledger: RedisQuotaLedger, redis_client: aioredis.Redis, redis_key_prefix: str
) -> None:
    user, item = uuid4(), uuid4()
    await ledger.reserve(user, item, 60, 100, ttl_seconds=1)
    await asyncio.sleep(1.1)
    assert await ledger.confirm(user, item, 60, 100)
    assert await ledger.usage(user) == (60, 0)
    keys = [key async for key in redis_client.scan_iter(match=f"{redis_key_prefix}*") if not key.endswith(b":version")]
    assert keys
    for key in keys:
        assert await redis_client.pttl(key) == -1  # used bytes never expire


async def test_concurrent_reservations_from_several_processes_never_pass_the_limit(
    redis_url: str, redis_key_prefix: str
) -> None:
    granted_count, size = 17, 1000
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(3)]
    try:
        ledgers = [RedisQuotaLedger(client, key_prefix=redis_key_prefix) for client in clients]
        await ledgers[0].mark_rebuilt()
        user = uuid4()
        results = await asyncio.gather(
            *(ledgers[n % 3].reserve(user, uuid4(), size, granted_count * size, ttl_seconds=60) for n in range(60))
        )
        assert sum(map(bool, results)) == granted_count
        assert await ledgers[0].usage(user) == (0, granted_count * size)
    finally:
        for client in clients:
            await client.aclose()


async def test_check_raises_when_redis_is_unreachable() -> None:
    client = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), retries=0))
    try:
        with pytest.raises(ServiceUnavailable):  # the adapter's word for its driver's outage
            await RedisQuotaLedger(client).check()
    finally:
        await client.aclose()


async def test_concurrent_reservations_from_several_processes_never_pass_the_pending_bound(
    redis_url: str, redis_key_prefix: str
) -> None:
    bound = 5
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(3)]
    try:
        ledgers = [RedisQuotaLedger(client, key_prefix=redis_key_prefix) for client in clients]
        await ledgers[0].mark_rebuilt()
        user = uuid4()
        results = await asyncio.gather(
            *(ledgers[n % 3].reserve(user, uuid4(), 10, 10**9, 60, max_pending=bound) for n in range(60))
        )
        assert sum(map(bool, results)) == bound
        refused = [result for result in results if not result]
        assert all(r.too_many_pending and r.pending == bound for r in refused)
        assert all(0 < (r.retry_after_seconds or 0) <= 60 for r in refused)
        assert await ledgers[0].usage(user) == (0, bound * 10)
    finally:
        for client in clients:
            await client.aclose()


async def test_sums_of_a_ledger_written_before_they_were_kept_are_counted_once(
    ledger: RedisQuotaLedger, redis_client: aioredis.Redis, redis_key_prefix: str
) -> None:
    """Hashes of an earlier version hold only items: their sums are counted the first time they are read."""
    user, held, reserved = uuid4(), uuid4(), uuid4()
    base = f"{redis_key_prefix}quota:{user}"
    await redis_client.hset(f"{base}:used", mapping={str(held): 60, str(uuid4()): 10})
    await redis_client.hset(f"{base}:reserved", str(reserved), 20)
    await redis_client.zadd(f"{base}:expiry", {str(reserved): 10**13})
    assert await ledger.usage(user) == (70, 20)
    assert not await ledger.reserve(user, uuid4(), 11, 100, ttl_seconds=60)
    assert await ledger.reserve(user, uuid4(), 10, 100, ttl_seconds=60)
    await ledger.release(user, held)
    assert await ledger.confirm(user, reserved, 20, 100)
    assert await ledger.usage(user) == (30, 10)
