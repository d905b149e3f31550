"""The production stack as real processes: migrate, API servers and workers on Postgres, Redis and S3."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.integration.support.backends import migrate_with_cli, postgres_database
from tests.integration.support.redis import REDIS_URL
from tests.integration.support.seaweed import S3ServerInfo
from tests.integration.support.server import (
    RunningProcess,
    free_port,
    scoremate_env,
    serve,
    start_process,
    stop_process,
    wait_until_healthy,
)


@dataclass
class Stack:
    """Shared settings of one deployment, and the processes started for it."""

    directory: Path
    env: dict[str, str]
    redis_prefix: str
    database_name: str
    processes: list[RunningProcess] = field(default_factory=list)

    def start(self, *args: str, **settings: object) -> RunningProcess:
        env = {**self.env, **{f"SCOREMATE_{k.upper()}": str(v) for k, v in settings.items()}}
        name = f"{args[0]}-{len(self.processes)}"
        running = start_process(list(args), env, self.directory / f"{name}.log")
        self.processes.append(running)
        return running

    def api(self, processes: int = 1, **settings: object) -> str:
        """`scoremate serve` (with `processes` API processes, as compose's API_PROCESSES) on a free port."""
        port = free_port()
        running = self.start("serve", "--port", str(port), "--workers", str(processes), port=port, **settings)
        base_url = f"http://127.0.0.1:{port}"
        wait_until_healthy(base_url, running)
        return base_url

    def worker(self, **settings: object) -> RunningProcess:
        return self.start("worker", **settings)

    def logs(self) -> str:
        return "\n".join(f"--- {p.log_path.name}\n{p.log()}" for p in self.processes)

    def stop_all(self) -> None:
        for running in self.processes:
            stop_process(running)


@asynccontextmanager
async def production_stack(
    directory: Path, s3: S3ServerInfo, redis_url: str = REDIS_URL, **settings: object
) -> AsyncIterator[Stack]:
    """A fresh database, Redis key prefix and bucket; `scoremate migrate` applied; everything removed after."""
    token = uuid.uuid4().hex[:12]
    prefix = f"test:{token}:"
    async with postgres_database("stack") as (database, url):
        env = scoremate_env(
            directory,
            database_url=url,
            redis_url=redis_url,
            redis_key_prefix=prefix,
            storage="s3",
            s3_endpoint=s3.endpoint,
            s3_access_key=s3.access_key,
            s3_secret_key=s3.secret_key,
            s3_bucket=f"stack-{token}",
            s3_region=s3.region,
            s3_secure="false",
            **settings,
        )
        stack = Stack(directory, env, prefix, database)
        try:
            await migrate_with_cli(env)
            yield stack
        finally:
            stack.stop_all()
            await delete_redis_keys(prefix, redis_url)
            await asyncio.to_thread(_empty_bucket, s3, f"stack-{token}")


async def delete_redis_keys(prefix: str, url: str = REDIS_URL) -> int:
    redis = Redis.from_url(url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=1000)]
        keys += [key async for key in redis.scan_iter(match=f"autoclaim:{prefix}*", count=1000)]
        if keys:
            await redis.delete(*keys)
        return len(keys)
    finally:
        await redis.aclose()


def _empty_bucket(s3: S3ServerInfo, bucket: str) -> None:
    client = s3.client()
    if not client.bucket_exists(bucket):
        return
    for item in client.list_objects(bucket, recursive=True):
        client.remove_object(bucket, item.object_name)
    client.remove_bucket(bucket)


@contextmanager
def collecting_logs(stack: Stack) -> Iterator[None]:
    """Show every process's log when a test fails, so a failure says what the servers saw."""
    try:
        yield
    except BaseException:
        print(stack.logs())
        raise


@asynccontextmanager
async def embedded_or_stack(
    kind: str, directory: Path, request: pytest.FixtureRequest, api_processes: int = 1
) -> AsyncIterator[str]:
    """The base URL of the embedded default (`kind` "embedded") or of the production stack with one worker."""
    if kind == "embedded":
        with serve(directory) as server:
            yield server.base_url
        return
    s3: S3ServerInfo = request.getfixturevalue("s3_server")
    async with production_stack(directory, s3) as stack:
        with collecting_logs(stack):
            url = stack.api(processes=api_processes)
            stack.worker()
            yield url
