from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sqlalchemy.locking import lock_for_writing
from adapters.sqlalchemy.mappers import user_from_row, user_to_row
from adapters.sqlalchemy.models import UserRow
from domain.errors import EmailTaken
from domain.users import User

_C = UserRow.__table__.c
# In the order of User's fields.
_BY_ID = select(_C.id, _C.email, _C.username, _C.password_hash, _C.quota_limit_bytes, _C.created_at).where(
    _C.id == bindparam("id")
)


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
        found = (await self._session.execute(_BY_ID, {"id": user_id})).first()
        return None if found is None else User(*found)

    async def list_ids(self) -> Sequence[UUID]:
        return list(await self._session.scalars(select(UserRow.id).order_by(UserRow.id)))

    async def get_by_email(self, email: str) -> User | None:
        row = await self._session.scalar(select(UserRow).where(UserRow.email == email.strip().lower()))
        return None if row is None else user_from_row(row)


def _is_email_conflict(error: IntegrityError) -> bool:
    message = str(error.orig)
    # Postgres names the constraint; SQLite names the column.
    return "uq_users_email" in message or "users.email" in message
