"""Engine and session factory. SQLite gets the settings a multi-connection embedded server needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import msgspec
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session

SQLITE_BUSY_TIMEOUT_MS = 5000
# More connections to one SQLite file only contend for its single write lock, which SQLite's busy handler grants in
# no order: under 32 concurrent upload-url requests, 15 connections gave p99 1.0 s and a few 503s after the busy
# timeout, 2 gave p99 0.1 s at a higher rate (requests wait their turn for a connection instead).
SQLITE_MAX_CONNECTIONS = 2
# A server connection is replaced after this long, so that none outlives a network device's idle limit unnoticed.
RECYCLE_SECONDS = 1800


def create_engine(url: str, *, max_connections: int = 15, pool_timeout_seconds: float = 30.0) -> AsyncEngine:
    """An async engine for a `sqlite+aiosqlite://` or `postgresql+asyncpg://` URL, holding at most
    `max_connections` at once (SQLite at most SQLITE_MAX_CONNECTIONS), each waited for at most `pool_timeout_seconds`.

    PostgreSQL connections, once opened, are kept (until RECYCLE_SECONDS old): a process serving a steady load opens
    none while it does (it opened and closed one per request past 5 before). None is pinged when taken from the pool
    (that was a BEGIN, a query and a ROLLBACK each time): a connection the server dropped fails the statement that
    meets it, with an error the API answers 503, and SQLAlchemy then discards every connection opened before it.
    """
    sa_url = make_url(url)
    # JSON columns are decoded by msgspec, several times faster than the standard library's decoder.
    json = {"json_deserializer": msgspec.json.decode}
    if sa_url.get_backend_name() != "sqlite":
        return create_async_engine(
            sa_url,
            pool_size=max_connections,
            max_overflow=0,
            pool_timeout=pool_timeout_seconds,
            pool_recycle=RECYCLE_SECONDS,
            **json,
        )
    connections = min(SQLITE_MAX_CONNECTIONS, max_connections)
    pooled = {"pool_size": connections, "max_overflow": 0, "pool_timeout": pool_timeout_seconds}
    _create_parent_dir(sa_url)
    # An in-memory database lives in one connection, which SQLAlchemy keeps in a pool that takes no sizes.
    in_memory = sa_url.database in (None, "", ":memory:") or sa_url.query.get("mode") == "memory"
    engine = create_async_engine(sa_url, **json, **({} if in_memory else pooled))
    event.listen(engine.sync_engine, "connect", _configure_sqlite)
    return engine


class KeepingSession(Session):
    """Holds every row it loads until it is closed. The identity map holds rows weakly, and repositories keep domain
    objects, not rows: a row read under a lock and then saved was gone from the map and read a second time."""


@event.listens_for(KeepingSession, "loaded_as_persistent")
def _keep(session: Session, instance: object) -> None:
    session.info.setdefault("loaded", []).append(instance)


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Repositories hand out domain objects, so nothing needs the rows refreshed after commit.
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=KeepingSession)


def autocommit_session_factory(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    """On PostgreSQL, sessions whose every statement is its own transaction: no BEGIN, COMMIT or ROLLBACK go to the
    server around them. Elsewhere the same sessions as `sessions` (SQLite's transactions cost no round trip)."""
    bind = sessions.kw.get("bind")
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "postgresql":
        return sessions
    autocommitting = _AUTOCOMMIT.get(bind)
    if autocommitting is None:
        engine = bind.execution_options(isolation_level="AUTOCOMMIT")
        autocommitting = _AUTOCOMMIT[bind] = async_sessionmaker(
            engine, expire_on_commit=False, sync_session_class=KeepingSession
        )
    return autocommitting


_AUTOCOMMIT: WeakKeyDictionary[AsyncEngine, async_sessionmaker[AsyncSession]] = WeakKeyDictionary()


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
