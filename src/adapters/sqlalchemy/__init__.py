"""Relational persistence with SQLAlchemy (async) and advanced-alchemy types; SQLite or Postgres."""

from adapters.sqlalchemy.engine import create_engine, create_session_factory
from adapters.sqlalchemy.migrate import migrate
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork

__all__ = ["SqlAlchemyUnitOfWork", "create_engine", "create_session_factory", "migrate"]
