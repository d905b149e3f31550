"""Apply (and, for developers, write) Alembic migrations programmatically; no alembic.ini is needed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

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


async def autogenerate(url: str, message: str, rev_id: str) -> None:
    """Write a revision for the difference between the models and a scratch database at `url` migrated to head."""
    await _run(url, lambda config: command.revision(config, message=message, autogenerate=True, rev_id=rev_id))


async def _run(url: str, alembic_command: Callable[[Config], object]) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_with_connection, url, alembic_command)
    finally:
        await engine.dispose()


def _with_connection(connection: Connection, url: str, alembic_command: Callable[[Config], object]) -> None:
    config = alembic_config(url)
    # env.py runs on this connection, so SQLite gets the engine's pragmas and no second event loop is needed.
    config.attributes["connection"] = connection
    alembic_command(config)
