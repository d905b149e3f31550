"""Retries really wait: exponential backoff with jitter, at most 3, on the in-process and the Redis broker."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from taskiq import AsyncBroker, InMemoryBroker, TaskiqMessage
from taskiq.kicker import AsyncKicker
from taskiq.receiver import Receiver

from adapters.taskiq.retry import BackoffRetryMiddleware, backoff_delay
from adapters.taskiq.stream_broker import ResilientRedisStreamBroker
from tests.integration.support.stack import REDIS_URL, delete_redis_keys

BASE_DELAY = 0.2


def test_backoff_doubles_its_ceiling_and_jitters_below_it() -> None:
    rng = random.Random(7)
    for attempt in (1, 2, 3, 4):
        ceiling = BASE_DELAY * 2 ** (attempt - 1)
        delays = [backoff_delay(attempt, BASE_DELAY, 60, rng) for _ in range(200)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len({round(delay, 6) for delay in delays}) > 150  # jitter: not one fixed value
    assert backoff_delay(30, BASE_DELAY, 5.0, rng) <= 5.0


def _in_memory() -> AsyncBroker:
    return InMemoryBroker(propagate_exceptions=False)


def _redis() -> AsyncBroker:
    name = f"test:{uuid.uuid4().hex}:"
    return ResilientRedisStreamBroker(REDIS_URL, queue_name=f"{name}tasks", consumer_group_name=f"{name}workers")


@pytest.fixture(params=[_in_memory, _redis], ids=["in-memory", "redis-stream"])
async def broker_factory(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[], AsyncBroker]]:
    made: list[AsyncBroker] = []

    def make() -> AsyncBroker:
        broker: AsyncBroker = request.param()
        made.append(broker)
        return broker

    yield make
    for broker in made:
        if isinstance(broker, ResilientRedisStreamBroker):
            await delete_redis_keys(broker.queue_name.removesuffix("tasks"))


async def test_a_failing_task_is_retried_three_times_with_growing_waits_then_given_up(
    broker_factory: Callable[[], AsyncBroker],
) -> None:
    broker = broker_factory()
    attempts: list[float] = []
    given_up: list[tuple[TaskiqMessage, BaseException]] = []
    done = asyncio.Event()

    async def on_give_up(message: TaskiqMessage, error: BaseException) -> None:
        given_up.append((message, error))
        done.set()

    async def flaky(score_id: str) -> None:
        attempts.append(time.monotonic())
        raise ConnectionError(f"storage unreachable while processing {score_id}")

    broker.add_middlewares(BackoffRetryMiddleware(max_retries=3, base_delay=BASE_DELAY, on_give_up=on_give_up))
    broker.register_task(flaky, task_name="test.flaky")
    listener = None
    await broker.startup()
    if not isinstance(broker, InMemoryBroker):
        broker.is_worker_process = True
        listener = asyncio.create_task(Receiver(broker, propagate_exceptions=False).listen(asyncio.Event()))
    try:
        await AsyncKicker("test.flaky", broker, {}).kiq("score-1")
        await asyncio.wait_for(done.wait(), timeout=30)
        await asyncio.sleep(BASE_DELAY * 4)  # a fifth attempt would come within this
    finally:
        if listener is not None:
            listener.cancel()
        await broker.shutdown()

    assert len(attempts) == 4, "one run and exactly three retries"
    waits = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    for retry, wait in enumerate(waits, start=1):
        assert wait >= BASE_DELAY * 2 ** (retry - 1) / 2 - 0.01, waits
    assert waits[2] > waits[0]
    message, error = given_up[0]
    assert len(given_up) == 1
    assert message.args == ["score-1"]
    assert isinstance(error, ConnectionError)
