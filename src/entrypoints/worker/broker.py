"""Build the broker the settings ask for. Nothing here runs at import time."""

from __future__ import annotations

from taskiq import AsyncBroker, InMemoryBroker
from taskiq_redis import RedisAsyncResultBackend

from adapters.taskiq.stream_broker import ResilientRedisStreamBroker
from entrypoints.settings import Settings

TASK_RESULT_TTL_SECONDS = 3600


def build_broker(settings: Settings) -> AsyncBroker:
    if not settings.redis_url:
        # Embedded default: tasks run as asyncio tasks of the API process itself.
        return InMemoryBroker(max_stored_results=1000, propagate_exceptions=False)
    broker = ResilientRedisStreamBroker(
        settings.redis_url,
        queue_name=f"{settings.redis_key_prefix}tasks",
        consumer_group_name=f"{settings.redis_key_prefix}workers",
        maxlen=settings.task_stream_maxlen,
        # A message unacknowledged this long belongs to a dead worker and is handed to another one. It must
        # exceed the longest task (all-page thumbnails of a large score), or live tasks would run twice.
        idle_timeout=int(settings.task_idle_timeout_seconds * 1000),
        # The reclaim lock must expire by itself: a worker SIGKILLed while holding it would otherwise block
        # every other worker from reclaiming forever.
        unacknowledged_lock_timeout=settings.task_reclaim_lock_timeout_seconds,
    )
    return broker.with_result_backend(
        RedisAsyncResultBackend(
            settings.redis_url, result_ex_time=TASK_RESULT_TTL_SECONDS, prefix_str=f"{settings.redis_key_prefix}results"
        )
    )
