from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import and_, case, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sqlalchemy.models import ScoreRow, SetlistRow, UploadRow, UserRow
from application.ports import LibraryStats, SiteStats, UserLibraryCounts
from domain.scores import ProcessingStatus
from domain.uploads import UploadStatus


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

    async def user_library_counts(self, user_ids: Sequence[UUID]) -> dict[UUID, UserLibraryCounts]:
        if not user_ids:
            return {}
        in_trash = ScoreRow.deleted_at.is_not(None)
        rows = await self._session.execute(
            select(
                ScoreRow.user_id,
                func.count().filter(ScoreRow.deleted_at.is_(None)),
                func.coalesce(func.sum(case((in_trash, ScoreRow.size_bytes), else_=0)), 0),
            )
            .where(ScoreRow.user_id.in_(user_ids))
            .group_by(ScoreRow.user_id)
        )
        return {user_id: UserLibraryCounts(score_count, trash_bytes) for user_id, score_count, trash_bytes in rows}

    async def site_stats(self, now: datetime) -> SiteStats:
        users, active_users = (
            await self._session.execute(
                select(func.count(), func.count().filter(UserRow.is_active == true())).select_from(UserRow)
            )
        ).one()
        by_status = await self._session.execute(
            select(ScoreRow.processing_status, ScoreRow.deleted_at.is_not(None), func.count()).group_by(
                ScoreRow.processing_status, ScoreRow.deleted_at.is_not(None)
            )
        )
        counts = dict.fromkeys(ProcessingStatus, 0)
        in_trash = 0
        for status, trashed, count in by_status:
            if trashed:
                in_trash += count
            else:
                counts[ProcessingStatus(status)] += count
        confirmed = UploadRow.status == UploadStatus.CONFIRMED.value
        pending = and_(UploadRow.status == UploadStatus.PENDING.value, UploadRow.expires_at > now)
        stored, reserved = (
            await self._session.execute(
                select(
                    func.coalesce(func.sum(case((confirmed, UploadRow.size_bytes), else_=0)), 0),
                    func.coalesce(func.sum(case((pending, UploadRow.size_bytes), else_=0)), 0),
                )
            )
        ).one()
        return SiteStats(
            user_count=users,
            active_user_count=active_users,
            score_count=sum(counts.values()),
            trash_score_count=in_trash,
            stored_bytes=int(stored),
            reserved_bytes=int(reserved),
            processing_counts=counts,
        )
