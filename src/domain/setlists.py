"""Setlists: ordered items that point at scores. Positions are 0-based and contiguous after every change."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from domain.errors import SetlistItemNotFound, ValidationError
from domain.text import MAX_DESCRIPTION_LENGTH, clean_optional, clean_required

MAX_NAME_LENGTH = 200
MAX_NOTES_LENGTH = 2000


@dataclass
class SetlistItem:
    id: UUID
    score_id: UUID
    position: int
    notes: str | None = None


@dataclass
class Setlist:
    id: UUID
    user_id: UUID
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    items: list[SetlistItem] = field(default_factory=list)

    def _renumber(self) -> None:
        for index, item in enumerate(self.items):
            item.position = index

    def _index_of(self, item_id: UUID) -> int:
        for index, item in enumerate(self.items):
            if item.id == item_id:
                return index
        raise SetlistItemNotFound()

    def add(self, item: SetlistItem, position: int | None = None) -> SetlistItem:
        """Insert at `position` (clamped to the end), or append when none is given."""
        at = len(self.items) if position is None else _clamp(position, len(self.items))
        self.items.insert(at, item)
        self._renumber()
        return item

    def move(self, item_id: UUID, position: int) -> SetlistItem:
        at = _clamp(position, len(self.items) - 1)
        item = self.items.pop(self._index_of(item_id))
        self.items.insert(at, item)
        self._renumber()
        return item

    def remove(self, item_id: UUID) -> SetlistItem:
        item = self.items.pop(self._index_of(item_id))
        self._renumber()
        return item

    def remove_score(self, score_id: UUID) -> list[SetlistItem]:
        removed = [item for item in self.items if item.score_id == score_id]
        self.items = [item for item in self.items if item.score_id != score_id]
        self._renumber()
        return removed

    def reorder(self, item_ids: list[UUID]) -> None:
        """Put the items in the given order; it must name every item exactly once."""
        if Counter(item_ids) != Counter(item.id for item in self.items):
            raise ValidationError("item_ids must list every item of the setlist exactly once.")
        by_id = {item.id: item for item in self.items}
        self.items = [by_id[item_id] for item_id in item_ids]
        self._renumber()

    def item(self, item_id: UUID) -> SetlistItem:
        return self.items[self._index_of(item_id)]


def _clamp(position: int, upper: int) -> int:
    if position < 0:
        raise ValidationError("position must be 0 or more.")
    return min(position, upper)


def clean_setlist_name(name: str) -> str:
    return clean_required(name, "name", MAX_NAME_LENGTH)


def clean_setlist_description(description: str | None) -> str | None:
    return clean_optional(description, "description", MAX_DESCRIPTION_LENGTH)


def clean_notes(notes: str | None) -> str | None:
    """Notes are kept as given (not trimmed), only bounded."""
    if notes is not None and len(notes) > MAX_NOTES_LENGTH:
        raise ValidationError(f"Notes must have at most {MAX_NOTES_LENGTH} characters.")
    return notes
