"""Setlists: ordered programmes of one's own scores. Ordering rules live in domain.setlists."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID, uuid4

from application.ports import Clock, Page, ScoreSummary, UnitOfWork
from application.scores import owned_score
from domain.errors import ScoreNotFound, SetlistNotFound
from domain.setlists import Setlist, SetlistItem, clean_notes, clean_setlist_description, clean_setlist_name
from domain.text import UNSET, Unset


@dataclass(frozen=True)
class SetlistView:
    setlist: Setlist
    summaries: dict[UUID, ScoreSummary]


async def _owned_setlist(uow: UnitOfWork, user_id: UUID, setlist_id: UUID, *, for_update: bool = False) -> Setlist:
    setlist = await uow.setlists.get(setlist_id, for_update=for_update)
    if setlist is None or setlist.user_id != user_id:
        raise SetlistNotFound()
    return setlist


async def _view(uow: UnitOfWork, setlist: Setlist) -> SetlistView:
    score_ids = list({item.score_id for item in setlist.visible_items})
    return SetlistView(setlist, dict(await uow.scores.summaries(setlist.user_id, score_ids)))


async def _save(uow: UnitOfWork, setlist: Setlist, clock: Clock) -> None:
    setlist.updated_at = clock.now()
    await uow.setlists.save(setlist)
    await uow.commit()


async def _saved_item(
    uow: UnitOfWork, setlist: Setlist, item: SetlistItem, clock: Clock
) -> tuple[SetlistItem, ScoreSummary]:
    await _save(uow, setlist, clock)
    summaries = await uow.scores.summaries(setlist.user_id, [item.score_id])
    if item.score_id not in summaries:  # the score was deleted the moment the item was committed
        raise ScoreNotFound()
    return item, summaries[item.score_id]


# Each use case below is one transaction that commits once. Edits lock the setlist row (where the database can),
# so concurrent edits keep positions contiguous.


class CreateSetlist:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, user_id: UUID, name: str, description: str | None) -> SetlistView:
        now = self._clock.now()
        setlist = Setlist(uuid4(), user_id, clean_setlist_name(name), clean_setlist_description(description), now, now)
        async with self._uow as uow:
            await uow.setlists.add(setlist)
            await uow.commit()
        return SetlistView(setlist, {})


class ListSetlists:
    """One's own setlists whose name contains `text` (all when None), a page at a time, without their scores."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, user_id: UUID, text: str | None, limit: int, offset: int) -> Page[Setlist]:
        async with self._uow as uow:
            return await uow.setlists.search(user_id, text, limit, offset)


class GetSetlist:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, user_id: UUID, setlist_id: UUID) -> SetlistView:
        async with self._uow as uow:
            return await _view(uow, await _owned_setlist(uow, user_id, setlist_id))


class UpdateSetlist:
    """Rename or describe a setlist; UNSET leaves a field as it is."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(
        self,
        user_id: UUID,
        setlist_id: UUID,
        name: str | Unset = UNSET,
        description: str | Unset | None = UNSET,
    ) -> SetlistView:
        async with self._uow as uow:
            setlist = await _owned_setlist(uow, user_id, setlist_id, for_update=True)
            if not isinstance(name, Unset):
                setlist.name = clean_setlist_name(name)
            if not isinstance(description, Unset):
                setlist.description = clean_setlist_description(description)
            await _save(uow, setlist, self._clock)
            return await _view(uow, setlist)


class DeleteSetlist:
    """The setlist and its items go; its scores stay."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, user_id: UUID, setlist_id: UUID) -> None:
        async with self._uow as uow:
            await uow.setlists.delete(await _owned_setlist(uow, user_id, setlist_id, for_update=True))
            await uow.commit()


class AddSetlistItem:
    """One's own score at `position` (clamped to the end), or appended when none is given."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(
        self, user_id: UUID, setlist_id: UUID, score_id: UUID, position: int | None, notes: str | None
    ) -> tuple[SetlistItem, ScoreSummary]:
        async with self._uow as uow:
            setlist = await _owned_setlist(uow, user_id, setlist_id, for_update=True)
            # Locked after the setlist, as deleting the score locks it: a delete that got there first has
            # committed once this returns, and the score is then not found.
            await owned_score(uow, user_id, score_id, for_update=True)
            item = setlist.add(SetlistItem(uuid4(), score_id, 0, clean_notes(notes)), position)
            return await _saved_item(uow, setlist, item, self._clock)


class UpdateSetlistItem:
    """Move an item to `position` (unless None) and/or change its notes (unless UNSET)."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(
        self,
        user_id: UUID,
        setlist_id: UUID,
        item_id: UUID,
        position: int | None,
        notes: str | Unset | None = UNSET,
    ) -> tuple[SetlistItem, ScoreSummary]:
        async with self._uow as uow:
            setlist = await _owned_setlist(uow, user_id, setlist_id, for_update=True)
            item = setlist.item(item_id)
            if position is not None:
                setlist.move(item_id, position)
            if not isinstance(notes, Unset):
                item.notes = clean_notes(notes)
            return await _saved_item(uow, setlist, item, self._clock)


class RemoveSetlistItem:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, user_id: UUID, setlist_id: UUID, item_id: UUID) -> None:
        async with self._uow as uow:
            setlist = await _owned_setlist(uow, user_id, setlist_id, for_update=True)
            setlist.remove(item_id)
            await _save(uow, setlist, self._clock)


class ReorderSetlistItems:
    """Put every item in the order of `item_ids`, which must name each exactly once."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, user_id: UUID, setlist_id: UUID, item_ids: Sequence[UUID]) -> SetlistView:
        async with self._uow as uow:
            setlist = await _owned_setlist(uow, user_id, setlist_id, for_update=True)
            setlist.reorder(list(item_ids))
            await _save(uow, setlist, self._clock)
            return await _view(uow, setlist)
