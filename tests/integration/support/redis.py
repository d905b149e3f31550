"""Redis fixtures: the shared server at 127.0.0.1:6379, and a unique key prefix per test, cleaned up after."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from uuid import uuid4

import pytest
import redis
import redis.asyncio as aioredis

__all__ = ["REDIS_URL", "redis_client", "redis_key_prefix", "redis_url"]

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis does not answer at {REDIS_URL} ({error!r}); the integration tests need it running.")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def redis_key_prefix(redis_url: str) -> Iterator[str]:
    prefix = f"test:{uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()
