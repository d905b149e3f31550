"""Alembic environment: runs on the connection `migrate` hands over, or on its own engine for the URL."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import JSON
from sqlalchemy.engine import Connection

from adapters.sqlalchemy.migrate import create_migration_engine
from adapters.sqlalchemy.models import Base


def render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render the column types autogenerate would otherwise spell with unimported module paths."""
    if kind != "type":
        return False
    if isinstance(obj, GUID):
        autogen_context.imports.add("from advanced_alchemy.types import GUID")
        return f"GUID(binary={obj.binary})"
    if isinstance(obj, DateTimeUTC):
        autogen_context.imports.add("from advanced_alchemy.types import DateTimeUTC")
        return "DateTimeUTC()"
    if isinstance(obj, JSON):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return 'sa.JSON().with_variant(postgresql.JSONB(), "postgresql")'
    return False


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        compare_type=True,
        render_item=render_item,
        # Batch operations let one revision ALTER tables on SQLite too; on Postgres they are plain ALTERs.
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_on_url(url: str) -> None:
    engine = create_migration_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run_on)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("ScoreMate migrations run online only")

shared = context.config.attributes.get("connection")
if isinstance(shared, Connection):
    run_on(shared)
else:
    asyncio.run(run_on_url(context.config.get_main_option("sqlalchemy.url") or ""))
