"""RedisPeriodicClaims on the real server, and workers that take turns sending the housekeeping tasks."""

from __future__ import annotations

import asyncio
from collections import Counter

import redis.asyncio as aioredis
from taskiq import InMemoryBroker

from adapters.redis import RedisPeriodicClaims
from adapters.taskiq.names import TaskName
from adapters.taskiq.queue import TaskiqQueue
from entrypoints.worker.housekeeping import Housekeeping


async def test_one_claim_per_period(redis_client: aioredis.Redis, redis_key_prefix: str) -> None:
    first, second = (
        RedisPeriodicClaims(redis_client, redis_key_prefix),
        RedisPeriodicClaims(redis_client, redis_key_prefix),
    )
    assert await first.claim("sweep", 0.3)
    assert not await second.claim("sweep", 0.3)
    assert not await first.claim("sweep", 0.3)
    assert await second.claim("purge", 0.3)  # each task has its own periods
    await asyncio.sleep(0.35)
    assert await second.claim("sweep", 0.3)


async def test_of_three_workers_only_one_sends_each_periodic_task(
    redis_client: aioredis.Redis, redis_key_prefix: str
) -> None:
    broker = InMemoryBroker()
    sent: Counter[str] = Counter()
    for name in TaskName:

        async def record(*_: object, name: str = str(name)) -> None:
            sent[name] += 1

        broker.register_task(record, task_name=str(name))
    schedule = {TaskName.EXPIRE_RESERVATIONS: 60.0, TaskName.SWEEP_STUCK_SCORES: 60.0}
    stop = asyncio.Event()
    workers = [
        asyncio.create_task(
            Housekeeping(TaskiqQueue(broker), schedule, RedisPeriodicClaims(redis_client, redis_key_prefix).claim).run(
                stop
            )
        )
        for _ in range(3)
    ]
    await asyncio.sleep(0.3)  # each worker has made its first round; the next is a minute away
    stop.set()
    await asyncio.gather(*workers)
    await broker.wait_all()
    assert sent == {str(TaskName.EXPIRE_RESERVATIONS): 1, str(TaskName.SWEEP_STUCK_SCORES): 1}
