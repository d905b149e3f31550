"""`scoremate serve` on SQLite or on a fresh, migrated PostgreSQL database that is dropped afterwards."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from tests.integration.support.databases import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER
from tests.integration.support.server import Server, scoremate_env, serve

BACKENDS = ["sqlite", "postgres"]


async def _admin(statement: str) -> None:
    admin = await asyncpg.connect(host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, database="postgres")
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


@asynccontextmanager
async def postgres_database(label: str) -> AsyncIterator[tuple[str, str]]:
    """A new database; yields (name, SQLAlchemy URL) and drops it at the end."""
    name = f"scoremate_{label}_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield name, f"postgresql+asyncpg://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{name}"
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def migrate_with_cli(env: dict[str, str]) -> None:
    """`scoremate migrate`, as production runs it (serve migrates only SQLite by itself)."""
    migrated = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "entrypoints.cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "migrated to revision" in migrated.stdout


@asynccontextmanager
async def serve_on(backend: str, data_dir: Path, **settings: object) -> AsyncIterator[Server]:
    if backend == "sqlite":
        with serve(data_dir, **settings) as running:
            yield running
        return
    async with postgres_database(data_dir.name.replace("-", "_")[:20]) as (_, url):
        await migrate_with_cli(scoremate_env(data_dir, database_url=url))
        with serve(data_dir, database_url=url, **settings) as running:
            yield running
