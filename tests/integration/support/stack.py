"""The production stack as real processes: migrate, API servers, workers and a scheduler on Postgres, Redis and S3."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from redis.asyncio import Redis

from tests.integration.support.databases import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER
from tests.integration.support.seaweed import S3ServerInfo
from tests.integration.support.server import (
    RunningProcess,
    free_port,
    scoremate_env,
    start_process,
    stop_process,
    wait_until_healthy,
)

REDIS_URL = "redis://127.0.0.1:6379/0"


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

    def api(self, **settings: object) -> str:
        port = free_port()
        running = self.start("serve", "--port", str(port), port=port, **settings)
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


async def _admin() -> asyncpg.Connection:
    return await asyncpg.connect(host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, database="postgres")


@asynccontextmanager
async def production_stack(directory: Path, s3: S3ServerInfo, **settings: object) -> AsyncIterator[Stack]:
    """A fresh database, Redis key prefix and bucket; `scoremate migrate` applied; everything removed after."""
    token = uuid.uuid4().hex[:12]
    database = f"scoremate_stack_{token}"
    admin = await _admin()
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    prefix = f"test:{token}:"
    env = scoremate_env(
        directory,
        database_url=f"postgresql+asyncpg://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{database}",
        redis_url=REDIS_URL,
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
        migrate = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "entrypoints.cli", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr
        yield stack
    finally:
        stack.stop_all()
        await delete_redis_keys(prefix)
        admin = await _admin()
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
        await asyncio.to_thread(_empty_bucket, s3, f"stack-{token}")


async def delete_redis_keys(prefix: str) -> int:
    redis = Redis.from_url(REDIS_URL)
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
