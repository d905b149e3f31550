"""Database fixtures: a throwaway SQLite file, a throwaway Postgres database, and `database_url` over both."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

__all__ = ["database_url", "postgres_url", "sqlite_url"]

POSTGRES_HOST = os.environ.get("SCOREMATE_TEST_POSTGRES_HOST", "127.0.0.1")
POSTGRES_PORT = int(os.environ.get("SCOREMATE_TEST_POSTGRES_PORT", "5432"))
POSTGRES_USER = os.environ.get("SCOREMATE_TEST_POSTGRES_USER", "postgres")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    # A subdirectory that does not exist yet: the engine must create it.
    return f"sqlite+aiosqlite:///{tmp_path / 'db' / 'scoremate.db'}"


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    name = f"scoremate_test_{uuid.uuid4().hex}"
    admin = await _connect_admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield f"postgresql+asyncpg://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{name}"
    admin = await _connect_admin()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


async def _connect_admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(
            host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, database="postgres", timeout=5
        )
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        pytest.fail(
            f"PostgreSQL at {POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT} did not answer ({error!r}). "
            "The integration tests need it running with trust auth; they never skip it.",
            pytrace=False,
        )
