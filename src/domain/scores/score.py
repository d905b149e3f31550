"""The score: a confirmed PDF upload, made of parts that each change for their own reason (domain.scores'
details, processing, cover and page_thumbnails). Score applies the rules that span parts and keeps updated_at."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from domain.pdf import PdfError, PdfInfo
from domain.scores.cover import Cover, StoredCover
from domain.scores.details import DetailChanges, Details
from domain.scores.page_thumbnails import PAGE_THUMBNAILS_FAILED, PageThumbnails
from domain.scores.processing import Processing, ProcessingProblem, ProcessingStatus


@dataclass
class Score:
    """Changes that touch one part and leave updated_at alone are the part's own (score.processing.mark_queued,
    score.page_thumbnails.request); every other change goes through the methods here."""

    id: UUID
    user_id: UUID
    upload_id: UUID
    details: Details
    original_filename: str
    size_bytes: int
    storage_key: str
    created_at: datetime
    updated_at: datetime
    processing: Processing = field(default_factory=Processing)
    cover: Cover = field(default_factory=Cover)
    page_thumbnails: PageThumbnails = field(default_factory=PageThumbnails)
    checksum_sha256: str | None = None  # hex SHA-256 of the stored PDF, computed by the server
    deleted_at: datetime | None = None  # when it went to the trash; None while it is in the library

    # --- the trash -------------------------------------------------------------------------------

    @property
    def in_trash(self) -> bool:
        return self.deleted_at is not None

    def move_to_trash(self, now: datetime) -> None:
        """Out of the library (and its setlists' reads) until restored or deleted for good; its bytes stay."""
        self.deleted_at = now

    def restore(self) -> None:
        """Back in the library, and in its setlists where it was."""
        self.deleted_at = None

    # --- details ---------------------------------------------------------------------------------

    def update_details(self, changes: DetailChanges, now: datetime) -> None:
        self.details.update(changes)
        self.updated_at = now

    # --- processing ------------------------------------------------------------------------------

    def start_processing(self, now: datetime) -> None:
        self.processing.start(now)
        self.updated_at = now

    def record_info(self, info: PdfInfo, now: datetime, *, finished: bool = True) -> None:
        """Store page count and metadata; the first time, prefill empty details from them (as forScore does on
        import).

        Never overwrites the user's fields, and a field the user emptied after that stays empty when the score
        is read again. A cover page chosen before the page count was known, and beyond it, becomes page 1.
        """
        if self.processing.record(info):
            self.details.prefill(info.metadata)
        self.updated_at = now
        missing = self.cover.fit_within(info.page_count)
        if missing is not None:
            sentence = f"The PDF has no page {missing}, so the cover shows page 1."
            self.note_problem(ProcessingProblem.COVER_PAGE_MISSING, sentence, now)
        if finished:
            self.finish_processing(now)

    def finish_processing(self, now: datetime) -> None:
        """Processing that is still running ends `ready` (a failure recorded meanwhile stands)."""
        if self.processing.finish():
            self.updated_at = now

    def give_up(self, now: datetime) -> None:
        """Background work kept failing (storage or the queue, say, not the document): see Processing.give_up."""
        if self.processing.give_up(now, self.created_at):
            self.updated_at = now

    def stall(self, now: datetime) -> None:
        if self.processing.stall(now, self.created_at):
            self.updated_at = now

    def request_refresh(self, now: datetime) -> bool:
        """A refresh of a failed score starts over: pending, and the old failure no longer stands. True when
        that changed the score (a ready one stays as it is while it is read again)."""
        if not self.processing.request_refresh(now):
            return False
        self.updated_at = now
        return True

    def fail(self, code: str, sentence: str, now: datetime) -> None:
        self.processing.fail(code, sentence)
        self.updated_at = now

    def fail_with(self, error: PdfError, now: datetime, page: int | None = None) -> None:
        """A document error fails the score; a render error of `page` leaves it ready and says which thumbnail is
        missing and why."""
        self.processing.fail_with(error, page)
        self.updated_at = now

    def note_problem(self, code: str, sentence: str, now: datetime) -> None:
        """Something the musician should know: `code` for programs, `sentence` for people."""
        self.processing.note(code, sentence)
        self.updated_at = now

    def forget_problem(self, code: str, now: datetime) -> None:
        """The note of `code`, if that is the current one, no longer holds."""
        if self.processing.forget(code):
            self.updated_at = now

    def record_checksum(self, checksum_sha256: str) -> None:
        """The server's hex SHA-256 of the stored PDF (its bytes never change, so neither does this)."""
        self.checksum_sha256 = checksum_sha256.lower()

    # --- cover -----------------------------------------------------------------------------------

    def choose_cover(self, page: int, now: datetime) -> None:
        """The cover is to be made of `page`; the one stored now stays until that one replaces it."""
        self.processing.ensure_page_exists(page)
        self.cover.choose(page)
        self.forget_problem(ProcessingProblem.COVER_PAGE_MISSING, now)  # it was about the choice this replaces

    def takes_cover(self, page: int) -> bool:
        """A cover rendered of `page` becomes the cover: that page is still the chosen one, and the document was read.
        So a cover never shows without its page count, and `thumbnail_ready` never turns true while `pending`."""
        return page == self.cover.page and self.processing.page_count is not None

    def record_cover_thumbnail(self, cover: StoredCover, now: datetime) -> str | None:
        """`cover` is the cover now (so a note that one could not be rendered no longer holds); returns the key of
        the one it replaces."""
        replaced = self.cover.record(cover)
        self.processing.forget_render_problem()
        self.updated_at = now
        return replaced

    def fail_cover(self, error: PdfError, page: int, now: datetime) -> None:
        """A cover of `page` could not be rendered: noted unless another page has been chosen since."""
        if page == self.cover.page:
            self.fail_with(error, now, page)

    @property
    def cover_wanted(self) -> bool:
        """A ready score whose chosen cover is not stored, though nothing says its rendering failed."""
        ready = self.processing.status is ProcessingStatus.READY
        return ready and not self.cover.is_current and self.processing.error_code is None

    @property
    def cover_failed(self) -> bool:
        """No cover comes without processing again: the score failed, or it is ready and says why there is none."""
        if self.cover.ready:
            return False
        return self.processing.status is ProcessingStatus.FAILED or (
            self.processing.status is ProcessingStatus.READY and self.processing.render_failed
        )

    # --- page thumbnails -------------------------------------------------------------------------

    def record_page_thumbnail(self, page: int, now: datetime) -> None:
        self.page_thumbnails.record(page)
        self.updated_at = now

    def give_up_page_thumbnails(self, now: datetime) -> None:
        """A run of page thumbnails kept failing: a score read before only says so (refreshing its info would not
        make them); one never read is treated as for any task."""
        if self.processing.page_count is None:
            self.give_up(now)
        else:
            self._note_about_pages(ProcessingProblem.PROCESSING_FAILED, PAGE_THUMBNAILS_FAILED, now)

    def note_page_limit(self, cap: int, now: datetime) -> None:
        sentence = f"Only the first {cap} of {self.processing.page_count} pages have thumbnails."
        self._note_about_pages(ProcessingProblem.PAGE_LIMIT, sentence, now)

    def note_time_limit(self, seconds: float, now: datetime) -> None:
        sentence = (
            f"Thumbnails stopped after {self.page_thumbnails.count} of {self.processing.page_count} pages because "
            f"rendering took longer than {seconds:g} seconds; generate them again to continue."
        )
        self._note_about_pages(ProcessingProblem.TIME_LIMIT, sentence, now)

    def _note_about_pages(self, code: ProcessingProblem, sentence: str, now: datetime) -> None:
        """Why page thumbnails are missing, unless the score failed: then that reason is the one to keep."""
        if self.processing.note_unless_failed(code, sentence):
            self.updated_at = now
