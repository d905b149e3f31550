"""The stream broker on a real Redis: a dead consumer's messages go to a live one once its heartbeat lapses, a live
consumer's never do however long they wait, and a Redis restart makes nobody look dead.

Each consumer here is a broker of its own, as each `scoremate worker` process is; "killing" one stops its heartbeat
without a word, as SIGKILL would.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from taskiq import AckableMessage, BrokerMessage, TaskiqMessage, TaskiqMiddleware, TaskiqResult
from taskiq.kicker import AsyncKicker
from taskiq_redis import RedisStreamBroker

from adapters.taskiq.names import TaskName
from adapters.taskiq.queue import TaskiqQueue
from adapters.taskiq.receiver import ReleasingReceiver
from adapters.taskiq.stream_broker import ResilientRedisStreamBroker
from domain.errors import ServiceUnavailable
from tests.integration.support.redis import REDIS_URL
from tests.integration.support.redis_server import private_redis
from tests.integration.support.stack import delete_redis_keys

INTERVAL, TTL = 0.25, 1.0


@dataclass
class Consumer:
    """A broker listening in the background, as a worker's receiver does, keeping what it received."""

    broker: RedisStreamBroker
    received: list[tuple[float, AckableMessage]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def start(self) -> Consumer:
        async def listen() -> None:
            async for message in self.broker.listen():
                self.received.append((time.monotonic(), message))

        self.task = asyncio.create_task(listen())
        return self

    async def next(self, timeout: float) -> AckableMessage:
        deadline = time.monotonic() + timeout
        seen = len(self.received)
        while len(self.received) == seen:
            assert time.monotonic() < deadline, f"nothing received within {timeout} s"
            await asyncio.sleep(0.02)
        return self.received[-1][1]

    async def kill(self) -> None:
        """Stop listening and beating, and leave everything in Redis as it is."""
        if self.task is not None:
            self.task.cancel()
            await asyncio.wait_for(asyncio.gather(self.task, return_exceptions=True), 30)
        heartbeat = getattr(self.broker, "_heartbeat", None)
        if heartbeat is not None:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
            self.broker._heartbeat = None  # type: ignore[attr-defined]
        await asyncio.wait_for(self.broker.connection_pool.disconnect(), 30)

    async def stop(self) -> None:
        """A clean stop: the listener ends, then the broker shuts down."""
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.broker.shutdown()


@pytest.fixture
async def make_consumer() -> AsyncIterator[Callable[..., Consumer]]:
    name = f"test:{uuid.uuid4().hex}:"
    made: list[Consumer] = []

    def make(
        *, url: str = REDIS_URL, legacy: bool = False, interval: float = INTERVAL, ttl: float = TTL, **settings: Any
    ) -> Consumer:
        options: dict[str, Any] = {"queue_name": f"{name}tasks", "consumer_group_name": f"{name}workers"}
        # Timeouts as the composition root sets them (without, closing a connection may wait for ever).
        options |= {"xread_block": 100, "idle_timeout": 600_000, "socket_connect_timeout": 5, "socket_timeout": 10}
        options |= settings
        if legacy:  # taskiq's own broker: a worker of a version without heartbeats
            broker: RedisStreamBroker = RedisStreamBroker(url, xread_count=1, **options)
        else:
            broker = ResilientRedisStreamBroker(url, heartbeat_interval=interval, heartbeat_ttl=ttl, **options)
        consumer = Consumer(broker)
        made.append(consumer)
        return consumer

    yield make
    for consumer in made:
        await consumer.kill()
    await delete_redis_keys(name)


async def _send(consumer: Consumer, data: bytes) -> None:
    await consumer.broker.startup()
    await consumer.broker.kick(BrokerMessage(task_id=uuid.uuid4().hex, task_name="test", message=data, labels={}))


async def _pending(broker: RedisStreamBroker) -> list[dict[str, Any]]:
    redis = Redis(connection_pool=broker.connection_pool)
    entries: list[dict[str, Any]] = await redis.xpending_range(
        broker.queue_name, broker.consumer_group_name, "-", "+", 10
    )
    return entries


async def test_a_dead_consumers_message_goes_to_a_live_one_once_its_heartbeat_lapses(
    make_consumer: Callable[..., Consumer],
) -> None:
    doomed, survivor = make_consumer(), make_consumer()
    await _send(doomed, b"score 1")
    doomed.start()
    assert (await doomed.next(timeout=5)).data == b"score 1"
    await survivor.broker.startup()
    survivor.start()
    await asyncio.sleep(TTL + 2 * INTERVAL)  # both beat for a while: nothing moves
    assert survivor.received == []

    await doomed.kill()
    killed = time.monotonic()
    taken = await survivor.next(timeout=10)
    took = survivor.received[-1][0] - killed

    assert taken.data == b"score 1"
    assert TTL - INTERVAL <= took <= TTL + 2.0, took  # the key lapses, then the next check finds it
    [entry] = await _pending(survivor.broker)
    assert (entry["consumer"].decode(), entry["times_delivered"]) == (survivor.broker.consumer_name, 2)
    await taken.ack()
    assert await _pending(survivor.broker) == []
    # The dead consumer, with nothing left, is forgotten: by the group and by the set of heartbeating consumers.
    redis = Redis(connection_pool=survivor.broker.connection_pool)
    for _ in range(50):
        consumers = [
            c["name"].decode()
            for c in await redis.xinfo_consumers(survivor.broker.queue_name, survivor.broker.consumer_group_name)
        ]
        if doomed.broker.consumer_name not in consumers:
            break
        await asyncio.sleep(0.1)
    assert consumers == [survivor.broker.consumer_name]
    assert await redis.smembers(f"{survivor.broker.consumer_group_name}:consumers") == {
        survivor.broker.consumer_name.encode()
    }


async def test_a_live_consumers_task_is_never_taken_over_even_long_past_the_idle_timeout(
    make_consumer: Callable[..., Consumer],
) -> None:
    # The last resort hands over what waited 0.5 s unacknowledged; a live consumer's task runs 4 s.
    busy, idle = make_consumer(idle_timeout=500), make_consumer(idle_timeout=500)
    await _send(busy, b"long task")
    busy.start()
    running = await busy.next(timeout=5)
    idle.start()
    for _ in range(16):
        await asyncio.sleep(0.25)
        [entry] = await _pending(busy.broker)
        assert entry["consumer"].decode() == busy.broker.consumer_name
        assert entry["time_since_delivered"] < 2 * INTERVAL * 1000 + 250  # claimed again at every beat
    assert idle.received == []
    await running.ack()
    assert await _pending(busy.broker) == []


async def test_a_cancelled_listener_ends_even_when_the_cancel_meets_a_command_being_sent(
    make_consumer: Callable[..., Consumer],
) -> None:
    """Cancelled at every point of its 100 ms blocking reads: Python 3.11's asyncio.wait_for, around each command
    redis-py sends, loses a cancel that comes as the send ends, and the listener read on for ever (1 in 6 runs of
    the takeover test hung its teardown for 30 s)."""
    consumers = [make_consumer().start() for _ in range(24)]
    await asyncio.sleep(0.3)
    for index, consumer in enumerate(consumers):
        await asyncio.sleep(0.1 + index * 0.013)  # a different point of the read cycle each time
        assert consumer.task is not None
        consumer.task.cancel()
        done, _ = await asyncio.wait([consumer.task], timeout=5)
        assert done, f"listener {index} still runs 5 s after its cancel"


async def test_a_consumer_that_stops_cleanly_hands_back_at_once_what_it_had_not_started(
    make_consumer: Callable[..., Consumer],
) -> None:
    ttl = 4.0  # long, to tell "at once" from "once the heartbeat lapsed"
    stopping, other = make_consumer(ttl=ttl), make_consumer(ttl=ttl)
    await _send(stopping, b"not started")
    stopping.start()
    await stopping.next(timeout=5)
    other.start()
    await asyncio.sleep(ttl + INTERVAL)  # the other one may judge by now
    assert other.received == []

    await stopping.stop()
    stopped = time.monotonic()
    taken = await other.next(timeout=10)
    assert taken.data == b"not started"
    assert other.received[-1][0] - stopped < ttl / 2  # the stopped worker's key is gone: no waiting for it to lapse


async def test_a_consumer_without_heartbeat_is_taken_over_only_after_the_idle_timeout(
    make_consumer: Callable[..., Consumer],
) -> None:
    old, new = make_consumer(legacy=True), make_consumer(idle_timeout=3000)
    await _send(old, b"from an older worker")
    old.start()
    await old.next(timeout=5)
    received = time.monotonic()
    new.start()
    taken = await new.next(timeout=15)
    assert taken.data == b"from an older worker"
    assert new.received[-1][0] - received >= 3.0


async def test_after_a_redis_restart_no_live_consumer_looks_dead(
    make_consumer: Callable[..., Consumer], tmp_path: Path
) -> None:
    """Redis is away longer than a TTL, so every heartbeat key has lapsed when it comes back; the consumers renew
    theirs before any of them judges the others."""
    with private_redis(tmp_path / "redis") as server:
        busy, idle = make_consumer(url=server.url), make_consumer(url=server.url)
        await _send(busy, b"long task")
        busy.start()
        running = await busy.next(timeout=5)
        await idle.broker.startup()
        idle.start()
        await asyncio.sleep(TTL + 2 * INTERVAL)
        await asyncio.to_thread(server.restart, TTL * 2)
        await asyncio.sleep(3 * TTL)
        assert idle.received == []
        [entry] = await _pending(busy.broker)
        assert entry["consumer"].decode() == busy.broker.consumer_name
        await running.ack()
        assert await _pending(busy.broker) == []


async def test_a_task_sent_while_redis_restarts_is_queued_once_it_is_back(
    make_consumer: Callable[..., Consumer], tmp_path: Path
) -> None:
    with private_redis(tmp_path / "redis") as server:
        worker = make_consumer(url=server.url)
        await worker.broker.startup()
        queue = TaskiqQueue(worker.broker)
        server.stop()
        sending = asyncio.create_task(queue.send(TaskName.SWEEP_STUCK_SCORES))
        await asyncio.sleep(1.0)
        assert not sending.done()
        await asyncio.to_thread(server.start)
        await sending
        worker.start()
        received = await worker.next(timeout=5)
        assert TaskName.SWEEP_STUCK_SCORES.value.encode() in received.data


async def test_a_task_that_cannot_be_sent_for_seconds_is_service_unavailable(
    make_consumer: Callable[..., Consumer],
) -> None:
    queue = TaskiqQueue(make_consumer(url="redis://127.0.0.1:1/0").broker)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        await queue.send(TaskName.SWEEP_STUCK_SCORES)
    assert 3 < time.monotonic() - started < 10


class _RetryThatCannotBeSent(TaskiqMiddleware):
    def on_error(self, message: TaskiqMessage, result: TaskiqResult[Any], exception: BaseException) -> None:
        raise ConnectionError("the retry could not be sent")


async def test_a_run_that_could_not_be_acknowledged_runs_again_after_the_idle_timeout() -> None:
    """A failing task whose retry cannot be sent leaves its message unacknowledged on a live worker: it runs again
    after the last-resort idle timeout instead of staying with that worker for ever."""
    name = f"test:{uuid.uuid4().hex}:"
    broker = ResilientRedisStreamBroker(
        REDIS_URL,
        queue_name=f"{name}tasks",
        consumer_group_name=f"{name}workers",
        heartbeat_interval=INTERVAL,
        heartbeat_ttl=TTL,
        idle_timeout=2000,
        xread_block=100,
        socket_connect_timeout=5,
        socket_timeout=10,
    )
    runs: list[float] = []

    async def failing() -> None:
        runs.append(time.monotonic())
        raise ValueError("the task failed")

    broker.register_task(failing, task_name="test.failing")
    broker.add_middlewares(_RetryThatCannotBeSent())
    await broker.startup()
    broker.is_worker_process = True
    stop = asyncio.Event()
    listening = asyncio.create_task(ReleasingReceiver(broker, propagate_exceptions=False).listen(stop))
    try:
        await AsyncKicker("test.failing", broker, {}).kiq()
        deadline = time.monotonic() + 20
        while len(runs) < 2:
            assert time.monotonic() < deadline, f"ran {len(runs)} time(s) in 20 s"
            await asyncio.sleep(0.05)
        assert runs[1] - runs[0] >= 2.0
    finally:
        stop.set()
        await asyncio.wait_for(listening, 30)
        await broker.shutdown()
        await delete_redis_keys(name)
