from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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

    async def __aenter__(self) -> Self:
        session = self._session_factory()
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
