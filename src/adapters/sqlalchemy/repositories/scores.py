from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, literal, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import UnaryExpression

from adapters.sqlalchemy.driver import fetch_rows
from adapters.sqlalchemy.locking import lock_for_writing
from adapters.sqlalchemy.mappers import metadata_from_json, score_from_row, score_to_row
from adapters.sqlalchemy.models import ScoreRow
from application.ports import ChecksumMatch, DuplicateGroup, Page, ScoreListing, ScoreQuery, ScoreSummary
from domain.scores import ProcessingStatus, Score
from domain.text import sort_key

_T = ScoreRow.__table__
_C = _T.c
# The filters a kept listing statement takes as parameters, by parameter name.
_BOUND_FILTERS = {"composer": _C.composer_sort, "genre": _C.genre_sort, "status": _C.processing_status}
_SORT_COLUMNS = {"title": _C.title_sort, "created_at": _C.created_at, "composer": _C.composer_sort}
_UNFINISHED = (ProcessingStatus.PENDING.value, ProcessingStatus.PROCESSING.value)
_IN_LIBRARY = _C.deleted_at.is_(None)


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

    async def search(self, query: ScoreQuery) -> Page[ScoreListing]:
        """One statement: the page's columns and, in each row, the count of all matches."""
        statement, params, kept = self._listing_statement(query)
        if kept:
            rows = await fetch_rows(self._session, statement, params)
        else:
            rows = (await self._session.execute(statement, params)).all()
        if rows:
            total = int(rows[0][-1])
        elif query.offset:  # past the end: no row carries the count
            count = select(func.count()).select_from(ScoreRow).where(*self._conditions(query))
            total = await self._session.scalar(count) or 0
        else:
            total = 0
        return Page(items=[_listing(row) for row in rows], total=total, limit=query.limit, offset=query.offset)

    async def recent(self, user_id: UUID, limit: int) -> Sequence[ScoreListing]:
        statement = _RECENT.get(self._dialect)
        if statement is None:
            statement = _RECENT[self._dialect] = (
                select(*_listing_columns(self._dialect))
                .where(_C.user_id == bindparam("user_id"), _IN_LIBRARY)
                .order_by(_C.created_at.desc(), _C.id.desc())
                .limit(bindparam("page_limit"))
            )
        rows = await fetch_rows(self._session, statement, {"user_id": user_id, "page_limit": limit})
        return [_listing(row) for row in rows]

    @property
    def _dialect(self) -> str:
        return self._session.get_bind().dialect.name

    def _listing_statement(self, query: ScoreQuery) -> tuple[Select[Any], dict[str, Any], bool]:
        """The page's statement with the values as parameters, and whether it is kept: built once for each shape of
        query without a text or tag filter, so that it is neither built nor compiled again."""
        params: dict[str, Any] = {"user_id": query.user_id, "page_limit": query.limit, "page_offset": query.offset}
        for name, value in (("composer", query.composer), ("genre", query.genre), ("status", query.status)):
            if value is not None:
                params[name] = value.value if isinstance(value, ProcessingStatus) else sort_key(value)
        key = (self._dialect, query.ordering, *params)
        cacheable = query.text is None and query.tag is None
        statement: Select[Any] | None = _LISTINGS.get(key) if cacheable else None
        if statement is None:
            bound = [_C.user_id == bindparam("user_id"), _IN_LIBRARY]
            bound += [_BOUND_FILTERS[name] == bindparam(name) for name in params if name in _BOUND_FILTERS]
            unbound = self._conditions(replace(query, composer=None, genre=None, status=None))[2:]
            # The count as an uncorrelated subquery, which the database runs once (from an index where it can).
            # A window count, count(*) OVER (), would read every matching row, not just the page's, to count them.
            total = select(func.count()).select_from(_T).where(*bound, *unbound).scalar_subquery()
            columns: list[ColumnElement[Any]] = [*_listing_columns(self._dialect), total]
            statement = (
                select(*columns)
                .where(*bound, *unbound)
                .order_by(*_order_by(query.ordering))
                .limit(bindparam("page_limit"))
                .offset(bindparam("page_offset"))
            )
            if cacheable:
                _LISTINGS[key] = statement
        return statement, params, cacheable

    async def summaries(self, user_id: UUID, score_ids: Sequence[UUID]) -> dict[UUID, ScoreSummary]:
        if not score_ids:
            return {}
        result = await self._session.execute(
            select(ScoreRow.id, ScoreRow.title, ScoreRow.composer, ScoreRow.page_count, ScoreRow.thumbnail_ready).where(
                ScoreRow.user_id == user_id, ScoreRow.id.in_(set(score_ids)), ScoreRow.deleted_at.is_(None)
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

    async def trash(self, user_id: UUID, limit: int, offset: int) -> Page[ScoreListing]:
        """One statement, as search: the page's columns with `deleted_at` and, in each row, the count."""
        in_trash = (_C.user_id == user_id, _C.deleted_at.is_not(None))
        total = select(func.count()).select_from(_T).where(*in_trash).scalar_subquery()
        rows = (
            await self._session.execute(
                select(*_listing_columns(self._dialect), _C.deleted_at, total)
                .where(*in_trash)
                .order_by(_C.deleted_at.desc(), _C.id.desc())
                .limit(limit)
                .offset(offset)
            )
        ).all()
        if rows:
            count = int(rows[0][-1])
        else:
            count = await self._session.scalar(select(func.count()).select_from(_T).where(*in_trash)) or 0
        items = [replace(_listing(row), deleted_at=row[-2]) for row in rows]
        return Page(items=items, total=count, limit=limit, offset=offset)

    async def list_trashed(
        self, limit: int, *, user_id: UUID | None = None, deleted_before: datetime | None = None
    ) -> Sequence[Score]:
        conditions: list[ColumnElement[bool]] = [ScoreRow.deleted_at.is_not(None)]
        if user_id is not None:
            conditions.append(ScoreRow.user_id == user_id)
        if deleted_before is not None:
            conditions.append(ScoreRow.deleted_at < deleted_before)
        rows = await self._session.scalars(
            select(ScoreRow).where(*conditions).order_by(ScoreRow.deleted_at, ScoreRow.id).limit(limit)
        )
        return [score_from_row(row) for row in rows]

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

    async def checksum_match(self, user_id: UUID, checksum_sha256: str) -> ChecksumMatch | None:
        """One statement on the (user_id, checksum_sha256) index."""
        in_trash = _C.deleted_at.is_not(None)
        statement = _CHECKSUM_MATCH.get(self._dialect)
        if statement is None:
            statement = _CHECKSUM_MATCH[self._dialect] = (
                select(_C.id, in_trash)
                .where(_C.user_id == bindparam("user_id"), _C.checksum_sha256 == bindparam("checksum"))
                .order_by(in_trash, _C.created_at, _C.id)
                .limit(1)
            )
        row = (await self._session.execute(statement, {"user_id": user_id, "checksum": checksum_sha256})).first()
        return None if row is None else ChecksumMatch(row[0], bool(row[1]))

    async def duplicate_groups(self, user_id: UUID, limit: int, offset: int) -> Page[DuplicateGroup]:
        """The page's groups (with the count of all groups in each row), then the scores of those groups."""
        mine = (_C.user_id == user_id, _C.deleted_at.is_(None), _C.checksum_sha256.is_not(None))
        oldest = func.min(_C.created_at)
        grouped = select(_C.checksum_sha256).where(*mine).group_by(_C.checksum_sha256).having(func.count() >= 2)
        page = (
            select(_C.checksum_sha256, func.count().over())
            .where(*mine)
            .group_by(_C.checksum_sha256)
            .having(func.count() >= 2)
            .order_by(oldest, _C.checksum_sha256)
            .limit(limit)
            .offset(offset)
        )
        rows = (await self._session.execute(page)).all()
        if not rows:
            total = await self._session.scalar(select(func.count()).select_from(grouped.subquery())) if offset else 0
            return Page(items=[], total=total or 0, limit=limit, offset=offset)
        checksums = [row[0] for row in rows]
        members = await self._session.execute(
            select(*_listing_columns(self._dialect))
            .where(*mine, _C.checksum_sha256.in_(checksums))
            .order_by(_C.created_at, _C.id)
        )
        by_checksum: dict[str, list[ScoreListing]] = {checksum: [] for checksum in checksums}
        for row in members:
            listing = _listing(row)
            by_checksum[listing.checksum_sha256 or ""].append(listing)
        groups = [DuplicateGroup(c, scores[0].size_bytes, scores) for c, scores in by_checksum.items()]
        return Page(items=groups, total=int(rows[0][1]), limit=limit, offset=offset)

    async def list_without_checksum(self, after: UUID | None, limit: int) -> Sequence[Score]:
        processed = (ProcessingStatus.READY.value, ProcessingStatus.FAILED.value)
        query = select(ScoreRow).where(ScoreRow.checksum_sha256.is_(None), ScoreRow.processing_status.in_(processed))
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
        conditions: list[ColumnElement[bool]] = [ScoreRow.user_id == query.user_id, ScoreRow.deleted_at.is_(None)]
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


_STATUSES = {status.value: status for status in ProcessingStatus}
_LISTINGS: dict[tuple[Any, ...], Select[Any]] = {}
_RECENT: dict[str, Select[Any]] = {}
_CHECKSUM_MATCH: dict[str, Select[Any]] = {}


def _listing_columns(dialect: str) -> list[ColumnElement[Any]]:
    """What a ScoreListing needs, in its order: plain table columns, so rows come back without the ORM."""
    length = func.jsonb_array_length if dialect == "postgresql" else func.json_array_length
    return [
        _C.id,
        _C.upload_id,
        _C.title,
        _C.composer,
        _C.genre,
        _C.tags,
        _C.description,
        _C.original_filename,
        _C.size_bytes,
        _C.page_count,
        _C.pdf_metadata,
        _C.processing_status,
        _C.processing_error,
        _C.processing_error_code,
        _C.cover_key.is_not(None),
        length(_C.thumbnail_pages),
        _C.created_at,
        _C.updated_at,
        _C.checksum_sha256,
    ]


def _listing(row: Sequence[Any]) -> ScoreListing:
    return ScoreListing(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        row[6],
        row[7],
        row[8],
        row[9],
        metadata_from_json(row[10]),
        _STATUSES[row[11]],
        row[12],
        row[13],
        bool(row[14]),
        row[15] or 0,
        row[16],
        row[17],
        row[18],
    )


def _order_by(ordering: str) -> list[UnaryExpression[Any]]:
    descending = ordering.startswith("-")
    name = ordering.removeprefix("-")
    if name not in _SORT_COLUMNS:
        raise ValueError(f"unknown ordering {ordering!r}")
    column = _SORT_COLUMNS[name]
    primary = column.desc() if descending else column.asc()
    if name == "composer":
        primary = primary.nulls_last()
    return [primary, _C.id.desc() if descending else _C.id.asc()]
