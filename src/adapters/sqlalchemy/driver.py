"""Hot statements run by the driver itself: on PostgreSQL, in a session whose every statement is its own transaction
(`uow.autocommit()`), a statement compiled once is sent by asyncpg on the session's pooled connection, and rows
come back as asyncpg records. That skips SQLAlchemy's execution context and result processing, which took a fifth
of the API's CPU on a page of scores. Anywhere else (SQLite, or inside a transaction) the session runs it as usual.

Only statements built once and kept (module-level or in a dict) should come here, since each is compiled at its
first use; their columns must be plain enough that asyncpg's own decoding is what SQLAlchemy's would give: UUIDs,
timestamps with time zone, JSON (decoded by the codec the engine sets on each connection), text and numbers.
A statement cancelled midway leaves the connection usable: asyncpg waits for the server's cancel before the next.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

import asyncpg
from sqlalchemy import Executable
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import PoolProxiedConnection

_T = TypeVar("_T")
# A failure after which the connection cannot be trusted: the pool must not hand it out again.
_BROKEN_CONNECTION = (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError)


class DriverError(Exception):
    """asyncpg's error from a statement run by the driver; `translated` reads `orig` as it does SQLAlchemy's."""

    def __init__(self, orig: Exception) -> None:
        super().__init__(repr(orig))
        self.orig = orig


class DriverIntegrityError(DriverError):
    """A constraint refused the statement (a key taken, a referenced row gone): SQLAlchemy's IntegrityError."""


async def fetch_rows(
    session: AsyncSession, statement: Executable, params: Mapping[str, Any]
) -> Sequence[Sequence[Any]]:
    """The statement's rows."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = _autocommitting_asyncpg(raw)
    if driver is None:
        return (await session.execute(statement, params)).all()
    sql, names = _compiled(statement, connection.dialect)
    rows: list[asyncpg.Record] = await _run(raw, driver.fetch(sql, *(params[name] for name in names)))
    return rows


async def execute(session: AsyncSession, statement: Executable, params: Mapping[str, Any]) -> None:
    """A statement that returns no rows (an INSERT, say)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = _autocommitting_asyncpg(raw)
    if driver is None:
        await session.execute(statement, params)
        return
    sql, names = _compiled(statement, connection.dialect)
    await _run(raw, driver.execute(sql, *(params[name] for name in names)))


def _autocommitting_asyncpg(raw: PoolProxiedConnection) -> asyncpg.Connection | None:
    driver = raw.driver_connection
    if isinstance(driver, asyncpg.Connection) and getattr(raw.dbapi_connection, "autocommit", False):
        return driver
    return None


async def _run(raw: PoolProxiedConnection, sent: Awaitable[_T]) -> _T:
    try:
        return await sent
    except _BROKEN_CONNECTION as error:
        raw.invalidate(error)
        raise DriverError(error) from error
    except asyncpg.IntegrityConstraintViolationError as error:
        raise DriverIntegrityError(error) from error
    except asyncpg.PostgresError as error:
        raise DriverError(error) from error


_COMPILED: WeakKeyDictionary[Executable, tuple[str, tuple[str, ...]]] = WeakKeyDictionary()


def _compiled(statement: Executable, dialect: Dialect) -> tuple[str, tuple[str, ...]]:
    """The SQL text and the order of its parameters, compiled at the first use of the statement."""
    compiled = _COMPILED.get(statement)
    if compiled is None:
        sql = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        compiled = _COMPILED[statement] = (sql.string, tuple(sql.positiontup or ()))
    return compiled
