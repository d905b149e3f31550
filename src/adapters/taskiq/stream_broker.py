"""The Redis stream broker, made to survive the loss of its consumer group (Redis flushed or restarted)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from taskiq import AckableMessage
from taskiq_redis import RedisStreamBroker

logger = logging.getLogger(__name__)

RECONNECT_DELAY_SECONDS = 1.0
# Redis's words when the stream or its group was deleted under a blocked or a new XREADGROUP.
_STREAM_GONE = ("NOGROUP", "UNBLOCKED")


class ResilientRedisStreamBroker(RedisStreamBroker):
    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        while True:
            try:
                async for message in super().listen():
                    yield message
            except ResponseError as error:
                if not str(error).startswith(_STREAM_GONE):
                    raise
                logger.warning("the task stream or its consumer group vanished; declaring it again")
                await self._declare_consumer_group()
            except RedisConnectionError as error:
                logger.warning("lost Redis (%s); reconnecting", error)
                await asyncio.sleep(RECONNECT_DELAY_SECONDS)
