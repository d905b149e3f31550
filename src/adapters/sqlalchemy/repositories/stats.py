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
        in_trash = ScoreRow.deleted_at.is_not(None)
        by_status = await self._session.execute(
            select(
                ScoreRow.processing_status,
                in_trash,
                func.count(),
                func.coalesce(func.sum(ScoreRow.page_count), 0),
                func.coalesce(func.sum(ScoreRow.size_bytes), 0),
            )
            .where(ScoreRow.user_id == user_id)
            .group_by(ScoreRow.processing_status, in_trash)
        )
        counts = dict.fromkeys(ProcessingStatus, 0)
        total_pages = trash_count = trash_bytes = 0
        for status, trashed, count, pages, size in by_status:
            if trashed:
                trash_count += count
                trash_bytes += int(size or 0)
                continue
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
            trash_score_count=trash_count,
            trash_bytes=trash_bytes,
        )
