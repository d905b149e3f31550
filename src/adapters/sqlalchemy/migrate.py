"""Apply (and, for developers, write) Alembic migrations programmatically; no alembic.ini is needed."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sqlalchemy.engine import create_engine

SCRIPT_LOCATION = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("path_separator", "os")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision` (the newest by default); a database already there is left alone."""
    await _run(url, lambda config: command.upgrade(config, revision))


async def downgrade(url: str, revision: str) -> None:
    """Take the database at `url` back to `revision` (for developers: the server only ever upgrades)."""
    await _run(url, lambda config: command.downgrade(config, revision))


async def autogenerate(url: str, message: str, rev_id: str) -> None:
    """Write a revision for the difference between the models and a scratch database at `url` migrated to head."""
    await _run(url, lambda config: command.revision(config, message=message, autogenerate=True, rev_id=rev_id))


class SchemaNotMigrated(Exception):
    """The database is behind the schema this code needs (or empty): `scoremate migrate` has not run."""


async def ensure_schema_migrated(connection: AsyncConnection) -> None:
    """SchemaNotMigrated when the database's revision is missing or older than this code's newest.

    A revision this code does not know is newer: a migration for the next release may already have run.
    """
    revision = await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
    head, known = _revisions()
    if revision is None or (revision != head and revision in known):
        raise SchemaNotMigrated(f"the database is at revision {revision}, this code needs {head}")


def head_revision() -> str:
    """The newest revision of the packaged migrations."""
    return _revisions()[0]


@functools.cache
def _revisions() -> tuple[str, frozenset[str]]:
    script = ScriptDirectory.from_config(alembic_config(""))
    head = script.get_current_head()
    assert head is not None, "the packaged migrations have one head"
    return head, frozenset(revision.revision for revision in script.walk_revisions())


def create_migration_engine(url: str) -> AsyncEngine:
    """The application's engine, but on SQLite with foreign keys off while migrating, as Alembic advises.

    A batch operation copies a table and drops the original; with foreign keys on, dropping it would delete
    every row that refers to it ON DELETE CASCADE (setlist items, with their scores or setlists).
    """
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _foreign_keys_off)
    return engine


def _foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=OFF")
    finally:
        cursor.close()


async def _run(url: str, alembic_command: Callable[[Config], object]) -> None:
    engine = create_migration_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_with_connection, url, alembic_command)
            if connection.dialect.name == "sqlite":
                broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
                if broken:
                    raise RuntimeError(f"the migration left rows whose references are gone: {broken[:5]}")
    finally:
        await engine.dispose()


def _with_connection(connection: Connection, url: str, alembic_command: Callable[[Config], object]) -> None:
    config = alembic_config(url)
    # env.py runs on this connection, so SQLite gets the engine's pragmas and no second event loop is needed.
    config.attributes["connection"] = connection
    alembic_command(config)
