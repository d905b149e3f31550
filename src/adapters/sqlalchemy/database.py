"""The Database port: migrations at start and the readiness check, on the process's engine."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sqlalchemy.migrate import ensure_schema_migrated, head_revision, migrate


class AlembicDatabase:
    def __init__(self, engine: AsyncEngine, url: str) -> None:
        self._engine = engine
        self._url = url

    async def upgrade(self) -> None:
        await migrate(self._url)

    async def check(self) -> None:
        await asyncio.to_thread(head_revision)  # reads the migration scripts once, off the event loop
        async with self._engine.connect() as connection:
            await ensure_schema_migrated(connection)
