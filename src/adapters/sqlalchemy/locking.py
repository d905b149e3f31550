"""Row locks where the database has them, and SQLite's database write lock where it has not."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession


async def lock_for_writing(session: AsyncSession) -> None:
    """On SQLite, take the database write lock now (BEGIN IMMEDIATE) unless the transaction already holds it.

    SQLite has no row locks, and the sqlite3 driver begins a transaction only at the first write, so without
    this two transactions could read the same rows and then both write from what they read (a setlist's
    positions, say). Holding the write lock from the first read serializes them, as FOR UPDATE does on Postgres,
    where this does nothing (the caller's FOR UPDATE locks the rows).
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    # The driver starts a transaction at the first write, which takes the write lock; none open means none held.
    if not raw.driver_connection.in_transaction:  # type: ignore[union-attr]
        await connection.exec_driver_sql("BEGIN IMMEDIATE")
