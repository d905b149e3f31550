from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.sqlalchemy.engine import autocommit_session_factory
from adapters.sqlalchemy.outages import translated
from adapters.sqlalchemy.repositories import (
    SqlAlchemyScoreRepository,
    SqlAlchemySetlistRepository,
    SqlAlchemyStatsReader,
    SqlAlchemyUploadRepository,
    SqlAlchemyUserRepository,
)
from application.ports import ScoreRepository, SetlistRepository, StatsReader, UploadRepository, UserRepository


class SqlAlchemyUnitOfWork:
    """One session and transaction per `async with`; whatever is not committed is rolled back on exit.

    A driver error that leaves the block comes out as the ports' error: ConcurrentChange for a lost race,
    ServiceUnavailable for an outage.

    `async with uow.autocommit()` runs each statement as its own transaction where the database allows it (see
    autocommit_session_factory).
    """

    # Typed as the ports, so the type checker proves each repository implements its port.
    users: UserRepository
    uploads: UploadRepository
    scores: ScoreRepository
    setlists: SetlistRepository
    stats: StatsReader

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory
        self._session: AsyncSession | None = None
        self._autocommit_next = False

    def autocommit(self) -> Self:
        self._autocommit_next = True
        return self

    async def __aenter__(self) -> Self:
        autocommit, self._autocommit_next = self._autocommit_next, False
        factory = autocommit_session_factory(self._session_factory) if autocommit else self._session_factory
        session = factory()
        self._session = session
        self.users = SqlAlchemyUserRepository(session)
        self.uploads = SqlAlchemyUploadRepository(session)
        self.scores = SqlAlchemyScoreRepository(session)
        self.setlists = SqlAlchemySetlistRepository(session)
        self.stats = SqlAlchemyStatsReader(session)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        session, self._session = self._active, None
        failure = exc
        try:
            await session.close()  # rolls back whatever was not committed
        except Exception as close_error:
            failure = failure or close_error
            if exc is None and translated(close_error) is None:
                raise
        if failure is not None and (port_error := translated(failure)) is not None:
            raise port_error from failure

    async def commit(self) -> None:
        await self._active.commit()

    async def rollback(self) -> None:
        await self._active.rollback()

    @property
    def _active(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is used outside `async with`")
        return self._session
