from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast
from uuid import UUID

from sqlalchemy import Table, bindparam, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sqlalchemy.driver import execute
from adapters.sqlalchemy.locking import lock_for_writing
from adapters.sqlalchemy.mappers import upload_from_row, upload_to_row, upload_values
from adapters.sqlalchemy.models import UploadRow
from domain.uploads import Upload, UploadStatus

_LIVE = (UploadStatus.PENDING.value, UploadStatus.CONFIRMED.value)
_UPLOADS = cast(Table, UploadRow.__table__)
# Core, not the ORM's bulk INSERT; every column a parameter, so that the driver can run it (adapters/sqlalchemy/driver).
_INSERT = insert(_UPLOADS).values({column.name: bindparam(column.name) for column in _UPLOADS.c})


class SqlAlchemyUploadRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, upload: Upload) -> None:
        # An INSERT now, in the unit of work's transaction, rather than an object for the ORM to flush at commit:
        # upload-url adds one per request, and the ORM's flush costs several times the statement.
        await execute(self._session, _INSERT, upload_values(upload))

    async def get(self, upload_id: UUID, *, for_update: bool = False) -> Upload | None:
        if for_update:
            await lock_for_writing(self._session)
            row = await self._session.get(UploadRow, upload_id, with_for_update=True, populate_existing=True)
        else:
            row = await self._session.get(UploadRow, upload_id)
        return None if row is None else upload_from_row(row)

    async def save(self, upload: Upload) -> None:
        row = await self._session.get(UploadRow, upload.id)
        if row is None:
            raise LookupError(f"upload {upload.id} is not stored; add it first")
        upload_to_row(upload, row)

    async def remove(self, upload: Upload) -> None:
        row = await self._session.get(UploadRow, upload.id)
        if row is not None:
            await self._session.delete(row)

    async def list_expired_pending(self, now: datetime, limit: int) -> Sequence[Upload]:
        await lock_for_writing(self._session)
        rows = await self._session.scalars(
            select(UploadRow)
            .where(UploadRow.status == UploadStatus.PENDING.value, UploadRow.expires_at <= now)
            .order_by(UploadRow.expires_at, UploadRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # a row a request holds is left for the next run
        )
        return [upload_from_row(row) for row in rows]

    async def list_unused_confirmed(self, confirmed_before: datetime, limit: int) -> Sequence[Upload]:
        await lock_for_writing(self._session)
        rows = await self._session.scalars(
            select(UploadRow)
            .where(
                UploadRow.status == UploadStatus.CONFIRMED.value,
                UploadRow.score_id.is_(None),
                UploadRow.confirmed_at < confirmed_before,
            )
            .order_by(UploadRow.confirmed_at, UploadRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [upload_from_row(row) for row in rows]

    async def list_to_clear(self, created_before: datetime, limit: int) -> Sequence[Upload]:
        # A plain read: ended uploads change no more, and clearing one twice does no harm.
        rows = await self._session.scalars(
            select(UploadRow)
            .where(UploadRow.storage_to_clear.is_(True), UploadRow.created_at < created_before)
            .order_by(UploadRow.created_at, UploadRow.id)
            .limit(limit)
        )
        return [upload_from_row(row) for row in rows]

    async def list_live(self, user_id: UUID | None = None) -> Sequence[Upload]:
        statement = select(UploadRow).where(or_(UploadRow.status.in_(_LIVE), UploadRow.storage_to_clear.is_(True)))
        if user_id is not None:
            statement = statement.where(UploadRow.user_id == user_id)
        rows = await self._session.scalars(statement.order_by(UploadRow.created_at, UploadRow.id))
        return [upload_from_row(row) for row in rows]
