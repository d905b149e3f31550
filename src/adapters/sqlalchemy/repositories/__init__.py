"""One repository per aggregate, each working on the unit of work's session."""

from adapters.sqlalchemy.repositories.scores import SqlAlchemyScoreRepository
from adapters.sqlalchemy.repositories.setlists import SqlAlchemySetlistRepository
from adapters.sqlalchemy.repositories.stats import SqlAlchemyStatsReader
from adapters.sqlalchemy.repositories.uploads import SqlAlchemyUploadRepository
from adapters.sqlalchemy.repositories.users import SqlAlchemyUserRepository

__all__ = [
    "SqlAlchemyScoreRepository",
    "SqlAlchemySetlistRepository",
    "SqlAlchemyStatsReader",
    "SqlAlchemyUploadRepository",
    "SqlAlchemyUserRepository",
]
