from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import bindparam, false, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sqlalchemy.driver import fetch_rows
from adapters.sqlalchemy.locking import lock_for_writing
from adapters.sqlalchemy.mappers import user_from_row, user_to_row
from adapters.sqlalchemy.models import UserRow
from application.ports import Page
from domain.errors import EmailTaken
from domain.users import User

_C = UserRow.__table__.c
# In the order of User's fields.
_USER_COLUMNS = (
    _C.id,
    _C.email,
    _C.username,
    _C.password_hash,
    _C.quota_limit_bytes,
    _C.created_at,
    _C.is_admin,
    _C.is_active,
)
_BY_ID = select(*_USER_COLUMNS).where(_C.id == bindparam("id"))


class SqlAlchemyUserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, user: User) -> None:
        """Raises EmailTaken when another account has the email, also when it won a race to register."""
        self._session.add(user_to_row(user, UserRow()))
        try:
            await self._session.flush()
        except IntegrityError as error:
            if _is_email_conflict(error):
                raise EmailTaken() from error
            raise

    async def get(self, user_id: UUID, *, for_update: bool = False) -> User | None:
        if for_update:
            await lock_for_writing(self._session)
            # FOR NO KEY UPDATE: rows that merely reference the user (scores, uploads) can still be added meanwhile.
            row = await self._session.get(UserRow, user_id, with_for_update={"key_share": True}, populate_existing=True)
            return None if row is None else user_from_row(row)
        # Columns, not an ORM object: every upload-url, confirm and dashboard reads its user.
        found = await fetch_rows(self._session, _BY_ID, {"id": user_id})
        return User(*found[0]) if found else None

    async def list_ids(self) -> Sequence[UUID]:
        return list(await self._session.scalars(select(UserRow.id).order_by(UserRow.id)))

    async def get_by_email(self, email: str) -> User | None:
        row = await self._session.scalar(select(UserRow).where(UserRow.email == email.strip().lower()))
        return None if row is None else user_from_row(row)

    async def save(self, user: User) -> None:
        await self._session.execute(
            update(UserRow)
            .where(UserRow.id == user.id)
            .values(quota_limit_bytes=user.quota_limit_bytes, is_admin=user.is_admin, is_active=user.is_active)
        )

    async def search(self, text: str | None, limit: int, offset: int) -> Page[User]:
        conditions = []
        if text:
            needle = text.lower()
            conditions.append(
                or_(
                    func.lower(UserRow.email).contains(needle, autoescape=True),
                    func.lower(UserRow.username).contains(needle, autoescape=True),
                )
            )
        total = await self._session.scalar(select(func.count()).select_from(UserRow).where(*conditions))
        rows = await self._session.execute(
            select(*_USER_COLUMNS).where(*conditions).order_by(_C.created_at, _C.id).limit(limit).offset(offset)
        )
        return Page(items=[User(*row) for row in rows], total=total or 0, limit=limit, offset=offset)

    async def inactive_ids(self) -> Sequence[UUID]:
        return list(await self._session.scalars(select(UserRow.id).where(UserRow.is_active == false())))


def _is_email_conflict(error: IntegrityError) -> bool:
    message = str(error.orig)
    # Postgres names the constraint; SQLite names the column.
    return "uq_users_email" in message or "users.email" in message
