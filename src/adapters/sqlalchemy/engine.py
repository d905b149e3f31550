"""Engine and session factory. SQLite gets the settings a multi-connection embedded server needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 5000


def create_engine(url: str, *, max_connections: int = 15, pool_timeout_seconds: float = 30.0) -> AsyncEngine:
    """An async engine for a `sqlite+aiosqlite://` or `postgresql+asyncpg://` URL, holding at most
    `max_connections` at once (up to 5 of them while idle), each waited for at most `pool_timeout_seconds`."""
    sa_url = make_url(url)
    kept = min(5, max_connections)
    pooled = {"pool_size": kept, "max_overflow": max_connections - kept, "pool_timeout": pool_timeout_seconds}
    if sa_url.get_backend_name() != "sqlite":
        return create_async_engine(sa_url, pool_pre_ping=True, **pooled)
    _create_parent_dir(sa_url)
    # An in-memory database lives in one connection, which SQLAlchemy keeps in a pool that takes no sizes.
    in_memory = sa_url.database in (None, "", ":memory:") or sa_url.query.get("mode") == "memory"
    engine = create_async_engine(sa_url, **({} if in_memory else pooled))
    event.listen(engine.sync_engine, "connect", _configure_sqlite)
    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Repositories hand out domain objects, so nothing needs the rows refreshed after commit.
    return async_sessionmaker(engine, expire_on_commit=False)


def _create_parent_dir(url: URL) -> None:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()
