from __future__ import annotations

from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sqlalchemy.models import ScoreRow, SetlistRow
from application.ports import LibraryStats
from domain.scores import ProcessingStatus


class SqlAlchemyStatsReader:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def library_stats(self, user_id: UUID) -> LibraryStats:
        by_status = await self._session.execute(
            select(ScoreRow.processing_status, func.count(), func.coalesce(func.sum(ScoreRow.page_count), 0))
            .where(ScoreRow.user_id == user_id)
            .group_by(ScoreRow.processing_status)
        )
        counts = dict.fromkeys(ProcessingStatus, 0)
        total_pages = 0
        for status, count, pages in by_status:
            counts[ProcessingStatus(status)] = count
            total_pages += pages or 0
        setlist_count = await self._session.scalar(
            select(func.count()).select_from(SetlistRow).where(SetlistRow.user_id == user_id)
        )
        return LibraryStats(
            score_count=sum(counts.values()),
            setlist_count=setlist_count or 0,
            total_pages=total_pages,
            processing_counts=counts,
        )
