from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, and_, func, literal, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import UnaryExpression

from adapters.sqlalchemy.locking import lock_for_writing
from adapters.sqlalchemy.mappers import score_from_row, score_to_row
from adapters.sqlalchemy.models import ScoreRow
from application.ports import Page, ScoreQuery, ScoreSummary
from domain.scores import ProcessingStatus, Score
from domain.text import sort_key

_SORT_COLUMNS = {"title": ScoreRow.title_sort, "created_at": ScoreRow.created_at, "composer": ScoreRow.composer_sort}
_UNFINISHED = (ProcessingStatus.PENDING.value, ProcessingStatus.PROCESSING.value)


class SqlAlchemyScoreRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, score: Score) -> None:
        self._session.add(score_to_row(score, ScoreRow()))

    async def get(self, score_id: UUID, *, for_update: bool = False) -> Score | None:
        """With for_update the row stays locked until the transaction ends (SQLite: the whole database)."""
        if for_update:
            await lock_for_writing(self._session)
            row = await self._session.get(ScoreRow, score_id, with_for_update=True, populate_existing=True)
        else:
            row = await self._session.get(ScoreRow, score_id)
        return None if row is None else score_from_row(row)

    async def save(self, score: Score) -> None:
        score_to_row(score, await self._row(score.id))

    async def delete(self, score: Score) -> None:
        """Delete the score; the database drops its setlist items (ON DELETE CASCADE)."""
        await self._session.delete(await self._row(score.id))

    async def search(self, query: ScoreQuery) -> Page[Score]:
        conditions = self._conditions(query)
        total = await self._session.scalar(select(func.count()).select_from(ScoreRow).where(*conditions))
        rows = await self._session.scalars(
            select(ScoreRow)
            .where(*conditions)
            .order_by(*_order_by(query.ordering))
            .limit(query.limit)
            .offset(query.offset)
        )
        return Page(
            items=[score_from_row(row) for row in rows], total=total or 0, limit=query.limit, offset=query.offset
        )

    async def recent(self, user_id: UUID, limit: int) -> Sequence[Score]:
        rows = await self._session.scalars(
            select(ScoreRow)
            .where(ScoreRow.user_id == user_id)
            .order_by(ScoreRow.created_at.desc(), ScoreRow.id.desc())
            .limit(limit)
        )
        return [score_from_row(row) for row in rows]

    async def summaries(self, user_id: UUID, score_ids: Sequence[UUID]) -> dict[UUID, ScoreSummary]:
        if not score_ids:
            return {}
        result = await self._session.execute(
            select(ScoreRow.id, ScoreRow.title, ScoreRow.composer, ScoreRow.page_count, ScoreRow.thumbnail_ready).where(
                ScoreRow.user_id == user_id, ScoreRow.id.in_(set(score_ids))
            )
        )
        return {
            row.id: ScoreSummary(
                id=row.id,
                title=row.title,
                composer=row.composer,
                page_count=row.page_count,
                thumbnail_ready=row.thumbnail_ready,
            )
            for row in result
        }

    async def list_stuck(self, started_before: datetime, limit: int) -> Sequence[Score]:
        started = func.coalesce(ScoreRow.processing_started_at, ScoreRow.created_at)
        await lock_for_writing(self._session)
        rows = await self._session.scalars(
            select(ScoreRow)
            .where(ScoreRow.processing_status.in_(_UNFINISHED), started < started_before)
            .order_by(started, ScoreRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # a score a task holds is not stuck
        )
        return [score_from_row(row) for row in rows]

    async def list_wanting_thumbnails(self, after: UUID | None, limit: int) -> Sequence[Score]:
        cover_wanted = and_(
            ScoreRow.processing_status == ProcessingStatus.READY.value,
            ScoreRow.processing_error_code.is_(None),
            or_(ScoreRow.cover_key.is_(None), ScoreRow.cover_key_page != ScoreRow.cover_page),
        )
        query = select(ScoreRow).where(or_(ScoreRow.page_thumbnails_wanted, cover_wanted))
        if after is not None:
            query = query.where(ScoreRow.id > after)
        rows = await self._session.scalars(query.order_by(ScoreRow.id).limit(limit))
        return [score_from_row(row) for row in rows]

    async def _row(self, score_id: UUID) -> ScoreRow:
        row = await self._session.get(ScoreRow, score_id)
        if row is None:
            raise LookupError(f"score {score_id} is not stored")
        return row

    def _conditions(self, query: ScoreQuery) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [ScoreRow.user_id == query.user_id]
        # Text, composer and genre match the sort keys: case and accents aside, as the library orders them.
        if query.text:
            key = sort_key(query.text)
            conditions.append(
                or_(
                    ScoreRow.title_sort.contains(key, autoescape=True),
                    ScoreRow.composer_sort.contains(key, autoescape=True),
                )
            )
        if query.composer is not None:
            conditions.append(ScoreRow.composer_sort == sort_key(query.composer))
        if query.genre is not None:
            conditions.append(ScoreRow.genre_sort == sort_key(query.genre))
        if query.tag is not None:
            conditions.append(self._has_tag(query.tag))
        if query.status is not None:
            conditions.append(ScoreRow.processing_status == query.status.value)
        return conditions

    def _has_tag(self, tag: str) -> ColumnElement[bool]:
        """Ignoring case and accents, as the library's ordering does."""
        key = sort_key(tag)
        dialect = self._session.get_bind().dialect.name
        if dialect == "postgresql":
            return type_coerce(ScoreRow.tag_keys, JSONB).contains([key])
        if dialect == "sqlite":
            elements = func.json_each(ScoreRow.tag_keys).table_valued("value")
            return select(literal(1)).select_from(elements).where(elements.c.value == key).exists()
        raise NotImplementedError(f"tag search is not implemented for {dialect}")


def _order_by(ordering: str) -> list[UnaryExpression[Any]]:
    descending = ordering.startswith("-")
    name = ordering.removeprefix("-")
    if name not in _SORT_COLUMNS:
        raise ValueError(f"unknown ordering {ordering!r}")
    column = _SORT_COLUMNS[name]
    primary = column.desc() if descending else column.asc()
    if name == "composer":
        primary = primary.nulls_last()
    return [primary, ScoreRow.id.desc() if descending else ScoreRow.id.asc()]
