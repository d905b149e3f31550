"""A score's cover: the page the musician chose, and the thumbnail stored of it (or of an earlier choice)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StoredCover:
    """The cover thumbnail in storage, and the page it shows."""

    key: str
    page: int


@dataclass
class Cover:
    page: int = 1  # the page the cover is to show: the musician's last choice
    stored: StoredCover | None = None

    @property
    def ready(self) -> bool:
        """A cover thumbnail is stored, of whichever page."""
        return self.stored is not None

    @property
    def is_current(self) -> bool:
        """A cover is stored, of the chosen page (not one from before a choice whose rendering gave up)."""
        return self.stored is not None and self.stored.page == self.page

    def choose(self, page: int) -> None:
        """The cover is to be made of `page`; the one stored now stays until that one replaces it."""
        self.page = page

    def record(self, stored: StoredCover) -> str | None:
        """`stored` is the cover now; returns the key of the one it replaces."""
        replaced = None if self.stored is None else self.stored.key
        self.stored = stored
        return replaced

    def fit_within(self, page_count: int) -> int | None:
        """A page chosen before the page count was known, and beyond it, gives way to page 1; returns that page."""
        if self.page <= page_count:
            return None
        missing, self.page = self.page, 1
        return missing
