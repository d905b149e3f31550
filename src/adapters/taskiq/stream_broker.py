"""The Redis stream broker: it survives the loss of its consumer group (Redis flushed or restarted) and hands a dead
worker's tasks to a live one within seconds, never a live worker's task however long it runs.

Liveness is known per worker (per stream consumer), not guessed from how long a message has waited:

- Each worker renews a key with a short TTL every `heartbeat_interval` seconds while it runs (until `shutdown`,
  so also while a stopping worker finishes its tasks), and registers its consumer name in a set.
- At the same beat it claims again, for itself, the messages it has received and not yet acknowledged
  (XCLAIM ... JUSTID), so their idle time starts over: a live worker's task never looks abandoned.
- A worker with room for a task first takes over (XPENDING, XCLAIM) the messages of registered consumers whose key
  has lapsed, whatever their idle time, then reads new ones. A consumer with nothing left is removed from the group.
- It judges others only once its own heartbeat has been renewed without a gap for a whole TTL: after Redis comes
  back from a restart, every live worker has renewed its key before any worker decides who is dead.
- Messages unacknowledged for `idle_timeout` are still taken over (XAUTOCLAIM), as a last resort for consumers
  that do not beat (a worker of an older version during a rolling upgrade).

A worker reads one message at a time (`xread_count`), when it has room to run it, so that it holds no backlog a
crash would strand and work spreads over the workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, cast

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq import AckableMessage
from taskiq_redis import RedisStreamBroker

logger = logging.getLogger(__name__)

RECONNECT_DELAY_SECONDS = 1.0
# An acknowledgement that fails (Redis restarting) is tried again for about this long before it is given up; the
# message then waits for the last-resort reclaim and runs again (tasks are idempotent).
ACK_DELAYS_SECONDS = (0.2, 0.5, 1.0, 2.0, 4.0)
# Redis's words when the stream or its group was deleted under a blocked or a new XREADGROUP.
_STREAM_GONE = ("NOGROUP", "UNBLOCKED")
_LOST_REDIS = (RedisConnectionError, RedisTimeoutError, OSError)

# ARGV: group, consumer, message ids. Claims again for `consumer` those of the ids that are still its own.
_TOUCH = """
local touched = 0
for i = 3, #ARGV do
  local entry = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if #entry == 1 and entry[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    touched = touched + 1
  end
end
return touched
"""

# KEYS: the set of heartbeating consumers, the consumer's heartbeat key, then every stream. ARGV: group, consumer.
# Removes a consumer that has no heartbeat and nothing pending in any stream from the group and the set.
_FORGET = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
for i = 3, #KEYS do
  if #redis.call('XPENDING', KEYS[i], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return 0 end
end
for i = 3, #KEYS do redis.call('XGROUP', 'DELCONSUMER', KEYS[i], ARGV[1], ARGV[2]) end
redis.call('SREM', KEYS[1], ARGV[2])
return 1
"""


Fields = dict[bytes, bytes]
Entry = tuple[str, bytes | str, Fields | None]  # stream, message id, the message's fields (None once trimmed)


class StreamMessage(AckableMessage):
    """A message of the stream, knowing where it came from."""

    stream: str
    message_id: str


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class ResilientRedisStreamBroker(RedisStreamBroker):
    def __init__(
        self,
        url: str,
        *,
        heartbeat_interval: float = 5.0,
        heartbeat_ttl: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("xread_count", 1)
        super().__init__(url, **kwargs)
        if not 0 < 2 * heartbeat_interval <= heartbeat_ttl:
            raise ValueError("the heartbeat TTL must be at least twice its interval")
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_ttl = heartbeat_ttl
        self._clock = clock
        self._heartbeat: asyncio.Task[None] | None = None
        self._alive_since: float | None = None  # start of the current run of renewals without a gap
        self._last_beat = 0.0
        self._in_flight: defaultdict[str, set[str]] = defaultdict(set)  # stream -> ids received, not acknowledged
        self._dead: list[str] = []  # consumers whose heartbeat lapsed, still to take over from
        self._next_check = 0.0
        self._autoclaim_from: dict[str, str] = {}
        self._group_lost = False
        # A client of the broker's pool holds no connection of its own; the scripts are loaded on first use (again
        # after a Redis restart).
        self._redis = Redis(connection_pool=self.connection_pool)
        self._touch: AsyncScript = self._redis.register_script(_TOUCH)
        self._forget: AsyncScript = self._redis.register_script(_FORGET)

    # --- keys ----------------------------------------------------------------------------------------

    @property
    def streams(self) -> list[str]:
        return [self.queue_name, *self.additional_streams]

    @property
    def consumers_key(self) -> str:
        """The set of consumers that beat: only those can be found dead."""
        return f"{self.consumer_group_name}:consumers"

    def heartbeat_key(self, consumer: str) -> str:
        return f"{self.consumer_group_name}:alive:{consumer}"

    # --- receiving -----------------------------------------------------------------------------------

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        await self._start_heartbeat()
        while True:
            try:
                async for message in self._receive():
                    yield message
            except ResponseError as error:
                if not str(error).startswith(_STREAM_GONE):
                    raise
                logger.warning("the task stream or its consumer group vanished; declaring it again")
                self._group_lost = True
            except _LOST_REDIS as error:
                _end_if_cancelled()
                logger.warning("lost Redis (%s); reconnecting", error)
                await asyncio.sleep(RECONNECT_DELAY_SECONDS)

    async def _receive(self) -> AsyncGenerator[AckableMessage, None]:
        if self._group_lost:
            await self._declare_consumer_group()
            self._group_lost = False
        while True:
            _end_if_cancelled()
            taken = await self._take_over()
            for stream, message_id, fields in taken:
                if (message := await self._message(stream, message_id, fields)) is not None:
                    yield message
            if taken:
                continue  # a dead worker's tasks before new ones
            fetched = await self._redis.xreadgroup(
                self.consumer_group_name,
                self.consumer_name,
                {self.queue_name: ">", **self.additional_streams},  # type: ignore[dict-item]
                block=self.block,
                count=self.count,
            )
            for name, entries in cast(list[tuple[bytes, list[tuple[bytes, Fields]]]], fetched or []):
                for message_id, fields in entries:
                    if (message := await self._message(_text(name), message_id, fields)) is not None:
                        yield message

    async def _message(self, stream: str, message_id: bytes | str, fields: Fields | None) -> AckableMessage | None:
        ident = _text(message_id)
        if not fields or b"data" not in fields:  # an entry trimmed from the stream: nothing left to run
            await self._redis.xack(stream, self.consumer_group_name, ident)
            return None
        self._in_flight[stream].add(ident)
        return StreamMessage(
            data=fields[b"data"], ack=self._acknowledger(stream, ident), stream=stream, message_id=ident
        )

    def release(self, message: AckableMessage) -> None:
        """The receiver is done with `message` but could not acknowledge it (the run failed outside the task: a
        retry that could not be sent, say). It is no longer claimed again at each beat, so it looks abandoned after
        the idle timeout and runs again then, rather than staying with this live worker for ever."""
        if isinstance(message, StreamMessage) and message.message_id in self._in_flight[message.stream]:
            self._in_flight[message.stream].discard(message.message_id)
            logger.warning(
                "task message %s ended without acknowledgement; it runs again after %.0f s",
                message.message_id,
                self.idle_timeout / 1000,
            )

    def _acknowledger(self, stream: str, ident: str) -> Callable[[], Awaitable[None]]:
        async def ack() -> None:
            try:
                for delay in (*ACK_DELAYS_SECONDS, None):
                    try:
                        await self._redis.xack(stream, self.consumer_group_name, ident)
                        return
                    except _LOST_REDIS:
                        if delay is None:
                            raise
                        await asyncio.sleep(delay)
            finally:
                self._in_flight[stream].discard(ident)

        return ack

    # --- taking over ---------------------------------------------------------------------------------

    @property
    def may_judge(self) -> bool:
        """This worker's own heartbeat has held without a gap for a whole TTL, so every live worker had the time
        to renew its own since Redis last came back."""
        return self._alive_since is not None and self._clock() - self._alive_since >= self.heartbeat_ttl

    async def _take_over(self) -> list[Entry]:
        """Claim up to `count` messages of a consumer whose heartbeat lapsed, or failing that, of messages
        unacknowledged for `idle_timeout`."""
        if not self.may_judge:
            return []
        now = self._clock()
        last_resort = False
        if now >= self._next_check:
            self._next_check = now + self.heartbeat_interval
            self._dead = await self._dead_consumers()
            last_resort = True
        while self._dead:
            consumer = self._dead[0]
            claimed, pending = await self._claim_from(consumer)
            if claimed:
                logger.warning("took over %d task(s) of worker %s, whose heartbeat lapsed", len(claimed), consumer)
                return claimed
            self._dead.pop(0)
            if not pending:
                await self._forget_consumer(consumer)
        return await self._claim_long_idle() if last_resort else []

    async def _dead_consumers(self) -> list[str]:
        members = sorted(_text(member) for member in await self._redis.smembers(self.consumers_key))  # type: ignore[misc]
        others = [member for member in members if member != self.consumer_name]
        if not others:
            return []
        beats = await self._redis.mget([self.heartbeat_key(consumer) for consumer in others])
        return [consumer for consumer, beat in zip(others, beats, strict=True) if beat is None]

    async def _claim_from(self, consumer: str) -> tuple[list[Entry], bool]:
        """Claimed messages of `consumer`, and whether it had any pending. Claiming needs the message idle for one
        heartbeat interval (a dead worker's have been for a TTL): of workers taking over at once, one gets it."""
        claimed: list[Entry] = []
        had_pending = False
        for stream in self.streams:
            pending = await self._redis.xpending_range(
                stream, self.consumer_group_name, min="-", max="+", count=self.count or 1, consumername=consumer
            )
            if not pending:
                continue
            had_pending = True
            entries = await self._redis.xclaim(
                stream,
                self.consumer_group_name,
                self.consumer_name,
                min_idle_time=int(self.heartbeat_interval * 1000),
                message_ids=[entry["message_id"] for entry in pending],
            )
            claimed += [
                (stream, message_id, fields) for message_id, fields in cast(list[tuple[bytes, Fields | None]], entries)
            ]
            if claimed:
                break
        return claimed, had_pending

    async def _claim_long_idle(self) -> list[Entry]:
        claimed: list[Entry] = []
        for stream in self.streams:
            start = self._autoclaim_from.get(stream, "0-0")
            response = await self._redis.xautoclaim(
                stream,
                self.consumer_group_name,
                self.consumer_name,
                min_idle_time=self.idle_timeout,
                start_id=start,
                count=self.count or 1,
            )
            self._autoclaim_from[stream] = _text(response[0])
            claimed += [(stream, message_id, fields) for message_id, fields in response[1]]
        if claimed:
            logger.warning(
                "took over %d task(s) unacknowledged for %.0f s (of a worker without a heartbeat)",
                len(claimed),
                self.idle_timeout / 1000,
            )
        return claimed

    async def _forget_consumer(self, consumer: str) -> None:
        keys = [self.consumers_key, self.heartbeat_key(consumer), *self.streams]
        await self._forget(keys=keys, args=[self.consumer_group_name, consumer], client=self._redis)

    # --- the heartbeat -------------------------------------------------------------------------------

    async def _start_heartbeat(self) -> None:
        """Beat once before the first read (a worker killed right after it must be known to have lived), then every
        interval until shutdown."""
        if self._heartbeat is not None:
            return
        first = self.heartbeat_interval
        try:
            await self.beat()
        except (RedisError, OSError):
            first = 0  # the loop says what failed
        self._heartbeat = asyncio.create_task(self._beat_until_shutdown(first), name="stream-consumer-heartbeat")

    async def _beat_until_shutdown(self, first_delay: float) -> None:
        await asyncio.sleep(first_delay)
        while True:
            try:
                await self.beat()
                delay = self.heartbeat_interval
            except (RedisError, OSError) as error:
                if self._alive_since is not None:
                    logger.warning("could not renew this worker's heartbeat in Redis (%s); retrying", error)
                self._alive_since = None
                delay = min(RECONNECT_DELAY_SECONDS, self.heartbeat_interval)
            await asyncio.sleep(delay)

    async def beat(self) -> None:
        """Renew this consumer's heartbeat, then claim its unacknowledged messages again so that their idle time
        starts over."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(self.heartbeat_key(self.consumer_name), b"1", px=int(self.heartbeat_ttl * 1000))
            pipe.sadd(self.consumers_key, self.consumer_name)
            await pipe.execute()
        now = self._clock()
        if self._alive_since is None or now - self._last_beat > self.heartbeat_ttl:
            self._alive_since = now  # after a gap (Redis away, the loop stalled) the key may have lapsed meanwhile
        self._last_beat = now
        for stream, ids in list(self._in_flight.items()):
            if not ids:
                continue
            try:
                await self._touch(
                    keys=[stream], args=[self.consumer_group_name, self.consumer_name, *ids], client=self._redis
                )
            except ResponseError as error:  # the group vanished: the listener declares it again
                logger.debug("could not claim running tasks again: %s", error)

    async def shutdown(self) -> None:
        """Stop beating. A worker stops once its running tasks ended, so what it still holds (messages received but
        not started) goes to the other workers at once."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
            try:
                await self._redis.delete(self.heartbeat_key(self.consumer_name))
                await self._forget_consumer(self.consumer_name)
            except (RedisError, OSError) as error:
                logger.warning("could not remove this worker's heartbeat from Redis (%s)", error)
        await super().shutdown()


def _end_if_cancelled() -> None:
    """Raise the cancel that Python 3.11's asyncio.wait_for lost: it returns the result of what it waited for when
    that finished as the cancel came (fixed in 3.12), and redis-py sends every command within one. The task still
    counts the cancel, so the listener ends at its next step instead of reading on for ever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling() > 0:
        raise asyncio.CancelledError
