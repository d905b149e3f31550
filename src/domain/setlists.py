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
    # Its score is in the trash: the item is kept, in its place, but no read shows it and positions skip it.
    hidden: bool = False


@dataclass
class Setlist:
    """`items` holds every item in order, hidden ones included; `visible_items` are what readers see and what
    edits address. A hidden item belongs with the visible item before it (or the start): edits move it along, so
    that when its score is restored it comes back right after the item it followed."""

    id: UUID
    user_id: UUID
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    items: list[SetlistItem] = field(default_factory=list)

    @property
    def visible_items(self) -> list[SetlistItem]:
        return [item for item in self.items if not item.hidden]

    def renumber(self) -> None:
        """Visible items get contiguous positions from 0; a hidden item the position the next visible one gets."""
        visible = 0
        for item in self.items:
            item.position = visible
            if not item.hidden:
                visible += 1

    def _index_of(self, item_id: UUID) -> int:
        for index, item in enumerate(self.items):
            if item.id == item_id and not item.hidden:
                return index
        raise SetlistItemNotFound()

    def _slot(self, position: int) -> int:
        """Where an item shown at `position` goes in `items`: just before the visible item now there (after the
        hidden items of the one before it), or at the end."""
        seen = 0
        for index, item in enumerate(self.items):
            if not item.hidden:
                if seen == position:
                    return index
                seen += 1
        return len(self.items)

    def _take_group(self, item_id: UUID) -> list[SetlistItem]:
        """Take out a visible item with the hidden items that follow it."""
        start = self._index_of(item_id)
        end = start + 1
        while end < len(self.items) and self.items[end].hidden:
            end += 1
        group = self.items[start:end]
        del self.items[start:end]
        return group

    def add(self, item: SetlistItem, position: int | None = None) -> SetlistItem:
        """Insert at `position` (clamped to the end), or append when none is given."""
        visible = len(self.visible_items)
        at = visible if position is None else _clamp(position, visible)
        self.items.insert(self._slot(at), item)
        self.renumber()
        return item

    def move(self, item_id: UUID, position: int) -> SetlistItem:
        at = _clamp(position, len(self.visible_items) - 1)
        group = self._take_group(item_id)
        slot = self._slot(at)
        self.items[slot:slot] = group
        self.renumber()
        return group[0]

    def remove(self, item_id: UUID) -> SetlistItem:
        item = self.items.pop(self._index_of(item_id))
        self.renumber()
        return item

    def remove_score(self, score_id: UUID) -> list[SetlistItem]:
        """Every item of the score, hidden or not (the score is deleted for good)."""
        removed = [item for item in self.items if item.score_id == score_id]
        self.items = [item for item in self.items if item.score_id != score_id]
        self.renumber()
        return removed

    def reorder(self, item_ids: list[UUID]) -> None:
        """Put the visible items in the given order; it must name every visible item exactly once. Hidden items
        before the first visible one stay first; the others move with the visible item they follow."""
        if Counter(item_ids) != Counter(item.id for item in self.visible_items):
            raise ValidationError("item_ids must list every item of the setlist exactly once.")
        leading: list[SetlistItem] = []
        groups: dict[UUID, list[SetlistItem]] = {}
        current = leading
        for item in self.items:
            if not item.hidden:
                current = groups[item.id] = []
            current.append(item)
        self.items = leading + [member for item_id in item_ids for member in groups[item_id]]
        self.renumber()

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
