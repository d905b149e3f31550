"""Relational persistence with SQLAlchemy (async) and advanced-alchemy types; SQLite or Postgres.

Migrations: `adapters.sqlalchemy.migrate.migrate(url)` (not re-exported here, so the name stays the module's).
"""

from adapters.sqlalchemy.engine import create_engine, create_session_factory
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork

__all__ = ["SqlAlchemyUnitOfWork", "create_engine", "create_session_factory"]
