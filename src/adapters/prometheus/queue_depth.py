"""The depth of the Redis task stream: messages waiting, and messages taken but not acknowledged."""

from __future__ import annotations

from redis.asyncio import Redis

from adapters.prometheus.metrics import QUEUE_DEPTH


async def measure_stream(redis: Redis, stream: str, group: str) -> tuple[int, int]:
    length = int(await redis.xlen(stream))
    try:
        pending = int((await redis.xpending(stream, group))["pending"])
    except Exception:  # the group does not exist until a worker has started
        pending = 0
    QUEUE_DEPTH.labels("stream").set(length)
    QUEUE_DEPTH.labels("unacknowledged").set(pending)
    return length, pending


class StreamDepthGauge:
    """Sets the queue-depth gauge from one task stream and its consumer group."""

    def __init__(self, redis: Redis, stream: str, group: str) -> None:
        self._redis = redis
        self._stream = stream
        self._group = group

    async def measure(self) -> tuple[int, int]:
        return await measure_stream(self._redis, self._stream, self._group)
