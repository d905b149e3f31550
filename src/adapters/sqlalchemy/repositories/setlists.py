from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from adapters.sqlalchemy.locking import lock_for_writing
from adapters.sqlalchemy.mappers import item_to_row, setlist_from_row, setlist_to_row
from adapters.sqlalchemy.models import SetlistItemRow, SetlistRow
from application.ports import Page
from domain.setlists import Setlist
from domain.text import sort_key


class SqlAlchemySetlistRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, setlist: Setlist) -> None:
        row = setlist_to_row(setlist, SetlistRow())
        row.items = [item_to_row(item, SetlistItemRow(), index) for index, item in enumerate(setlist.items)]
        self._session.add(row)

    async def get(self, setlist_id: UUID, *, for_update: bool = False) -> Setlist | None:
        """With for_update the row stays locked until the transaction ends (SQLite: the whole database)."""
        statement = _with_items().where(SetlistRow.id == setlist_id)
        if for_update:
            await lock_for_writing(self._session)
            statement = statement.with_for_update()
        row = await self._session.scalar(statement)
        return None if row is None else setlist_from_row(row)

    async def save(self, setlist: Setlist) -> None:
        row = await self._session.scalar(_with_items().where(SetlistRow.id == setlist.id))
        if row is None:
            raise LookupError(f"setlist {setlist.id} is not stored; add it first")
        setlist_to_row(setlist, row)
        await self._sync_items(setlist, row)

    async def delete(self, setlist: Setlist) -> None:
        row = await self._session.get(SetlistRow, setlist.id)
        if row is not None:
            await self._session.delete(row)

    async def search(self, user_id: UUID, text: str | None, limit: int, offset: int) -> Page[Setlist]:
        conditions = [SetlistRow.user_id == user_id]
        if text:
            conditions.append(SetlistRow.name_sort.contains(sort_key(text), autoescape=True))
        total = await self._session.scalar(select(func.count()).select_from(SetlistRow).where(*conditions))
        rows = await self._session.scalars(
            _with_items().where(*conditions).order_by(SetlistRow.name_sort, SetlistRow.id).limit(limit).offset(offset)
        )
        return Page(items=[setlist_from_row(row) for row in rows], total=total or 0, limit=limit, offset=offset)

    async def containing_score(self, score_id: UUID) -> Sequence[Setlist]:
        """Locked like `get(for_update=True)`: the caller is about to take the score's items out of them."""
        await lock_for_writing(self._session)
        holding = select(SetlistItemRow.setlist_id).where(SetlistItemRow.score_id == score_id)
        rows = await self._session.scalars(
            _with_items()
            .where(SetlistRow.id.in_(holding))
            .order_by(SetlistRow.created_at, SetlistRow.id)
            .with_for_update(of=SetlistRow)
        )
        return [setlist_from_row(row) for row in rows]

    async def _sync_items(self, setlist: Setlist, row: SetlistRow) -> None:
        """Make the item rows match the setlist without ever holding two items at one position.

        (setlist_id, position) is unique and checked row by row, and the ORM flushes deletes last, so:
        delete removed items first, then park moved items at negative positions, then set the final ones.
        """
        order = {item.id: index for index, item in enumerate(setlist.items)}
        removed = [item_row for item_row in row.items if item_row.id not in order]
        for item_row in removed:
            row.items.remove(item_row)
        if removed:
            await self._session.flush()

        moved = [item_row for item_row in row.items if item_row.position != order[item_row.id]]
        for item_row in moved:
            item_row.position = -1 - order[item_row.id]
        if moved:
            await self._session.flush()

        existing = {item_row.id: item_row for item_row in row.items}
        for index, item in enumerate(setlist.items):
            if item.id in existing:
                item_to_row(item, existing[item.id], index)
            else:
                row.items.append(item_to_row(item, SetlistItemRow(), index))


def _with_items() -> Select[SetlistRow]:
    # Refresh rows already in the session: a score deleted meanwhile took its items with it (ON DELETE CASCADE).
    return select(SetlistRow).options(selectinload(SetlistRow.items)).execution_options(populate_existing=True)
