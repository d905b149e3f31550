"""Thumbnails of every page of a score: which are stored, and whether a run that makes them is wanted."""

from __future__ import annotations

from dataclasses import dataclass, field

PAGE_THUMBNAILS_FAILED = "Page thumbnails stopped because a service they need kept failing; generate them again."


@dataclass
class PageThumbnails:
    pages: list[int] = field(default_factory=list)  # sorted, each once
    wanted: bool = False  # asked for, and that run has not ended yet

    @property
    def count(self) -> int:
        return len(self.pages)

    def has(self, page: int) -> bool:
        return page in self.pages

    def record(self, page: int) -> None:
        if page not in self.pages:
            self.pages = sorted([*self.pages, page])

    def request(self) -> None:
        self.wanted = True

    def end_run(self) -> None:
        self.wanted = False
