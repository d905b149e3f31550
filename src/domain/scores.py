"""Scores: a confirmed PDF upload with the musician's details and what processing learned about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from domain.errors import ValidationError
from domain.pdf import PdfError, PdfErrorKind, PdfInfo, PdfMetadata, keywords_to_tags
from domain.text import MAX_DESCRIPTION_LENGTH, UNSET, Unset, clean_optional, clean_required, sort_key

MAX_TITLE_LENGTH = 300
MAX_TEXT_FIELD_LENGTH = 300
MAX_TAGS = 50
MAX_TAG_LENGTH = 64


class ProcessingProblem(StrEnum):
    """Codes of what went wrong besides the document itself (those are domain.pdf.PdfErrorKind)."""

    PROCESSING_FAILED = "processing_failed"
    PROCESSING_STALLED = "processing_stalled"
    PAGE_LIMIT = "page_limit"
    TIME_LIMIT = "time_limit"
    COVER_PAGE_MISSING = "cover_page_missing"


RETRIES_EXHAUSTED = "Processing failed repeatedly; try refreshing the score's info."
STALLED = "Processing did not finish in time; try refreshing the score's info."
RESUMING = "Processing could not finish for a reason outside the PDF; it is tried again shortly."
PAGE_THUMBNAILS_FAILED = "Page thumbnails stopped because a service they need kept failing; generate them again."
# A score whose document was never read is queued again, after storage or the queue stopped it, for this long
# after its creation (once per stuck-processing period); then it fails, so that no score stays pending for ever.
RESUME_WITHIN = timedelta(hours=12)


class ProcessingStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class StoredCover:
    """The cover thumbnail in storage, and the page it shows."""

    key: str
    page: int


@dataclass
class Score:
    id: UUID
    user_id: UUID
    upload_id: UUID
    title: str
    composer: str | None
    genre: str | None
    tags: list[str]
    description: str | None
    original_filename: str
    size_bytes: int
    storage_key: str
    created_at: datetime
    updated_at: datetime
    page_count: int | None = None
    pdf_metadata: PdfMetadata | None = None
    processing_status: ProcessingStatus = ProcessingStatus.PENDING
    processing_error: str | None = None
    processing_error_code: str | None = None
    processing_started_at: datetime | None = None
    cover: StoredCover | None = None
    thumbnail_pages: list[int] = field(default_factory=list)
    cover_page: int = 1  # the page the cover is to show: the musician's last choice
    page_thumbnails_wanted: bool = False  # asked for, and that run has not ended yet

    @property
    def thumbnail_ready(self) -> bool:
        return self.cover is not None

    @property
    def cover_is_current(self) -> bool:
        """A cover is stored, of the chosen page (not one from before a choice whose rendering gave up)."""
        return self.cover is not None and self.cover.page == self.cover_page

    @property
    def page_thumbnails_ready(self) -> int:
        return len(self.thumbnail_pages)

    def start_processing(self, now: datetime) -> None:
        self.processing_status = ProcessingStatus.PROCESSING
        self.processing_started_at = now
        self.updated_at = now

    def record_info(self, info: PdfInfo, now: datetime, *, finished: bool = True) -> None:
        """Store page count and metadata; the first time, prefill empty fields from them (as forScore does on import).

        Never overwrites the user's fields, and a field the user emptied after that stays empty when the score
        is read again.
        """
        first_reading = self.pdf_metadata is None
        self.page_count = info.page_count
        self.pdf_metadata = info.metadata
        if first_reading:
            self._prefill(info.metadata)
        self.processing_error = self.processing_error_code = None
        self.updated_at = now
        if self.cover_page > info.page_count:  # chosen before the page count was known
            sentence = f"The PDF has no page {self.cover_page}, so the cover shows page 1."
            self.cover_page = 1
            self.note_problem(ProcessingProblem.COVER_PAGE_MISSING, sentence, now)
        if self.processing_status is ProcessingStatus.FAILED:
            # The document reads now, so an earlier failure no longer describes it.
            self.processing_status = ProcessingStatus.PROCESSING
        if finished:
            self.finish_processing(now)

    def _prefill(self, metadata: PdfMetadata) -> None:
        if not self.composer and metadata.author:
            self.composer = metadata.author[:MAX_TEXT_FIELD_LENGTH]
        if not self.genre and metadata.subject:
            self.genre = metadata.subject[:MAX_TEXT_FIELD_LENGTH]
        if not self.tags:
            self.tags = distinct_tags(keywords_to_tags(metadata.keywords))[:MAX_TAGS]

    def finish_processing(self, now: datetime) -> None:
        """Processing that is still running ends `ready` (a failure recorded meanwhile stands)."""
        if self.processing_status in (ProcessingStatus.PENDING, ProcessingStatus.PROCESSING):
            self.processing_status = ProcessingStatus.READY
            self.updated_at = now

    def give_up(self, now: datetime) -> None:
        """Background work kept failing (storage or the queue, say, not the document)."""
        self._end_unfinished(ProcessingProblem.PROCESSING_FAILED, RETRIES_EXHAUSTED, now)

    def give_up_page_thumbnails(self, now: datetime) -> None:
        """A run of page thumbnails kept failing: a score read before only says so (refreshing its info would not
        make them); one never read is treated as for any task."""
        if self.page_count is None:
            self.give_up(now)
        else:
            self._note_about_pages(ProcessingProblem.PROCESSING_FAILED, PAGE_THUMBNAILS_FAILED, now)

    def stall(self, now: datetime) -> None:
        self._end_unfinished(ProcessingProblem.PROCESSING_STALLED, STALLED, now)

    def _end_unfinished(self, code: ProcessingProblem, sentence: str, now: datetime) -> None:
        """Nothing here is the document's fault, so a failed score keeps its document's verdict. A score read
        before (a refresh that could not finish) stays or becomes ready again; one never read is pending again,
        for the stuck-score sweep to queue once more after a stuck-processing period, until RESUME_WITHIN after
        its creation: then it fails. Each says why."""
        if self.processing_status is ProcessingStatus.FAILED:
            return
        if self.page_count is not None:
            self.finish_processing(now)
            self.note_problem(code, sentence, now)
        elif now - self.created_at < RESUME_WITHIN:
            self.processing_status = ProcessingStatus.PENDING
            self.mark_queued(now)
            self.note_problem(code, RESUMING, now)
        else:
            self.fail(code, sentence, now)

    def mark_queued(self, now: datetime) -> None:
        """Its processing was queued now: the stuck-score sweep looks at it again a stuck-processing period on."""
        self.processing_started_at = now

    def request_refresh(self, now: datetime) -> bool:
        """A refresh of a failed score starts over: pending, and the old failure no longer stands. True when
        that changed the score (a ready one stays as it is while it is read again)."""
        if self.processing_status is not ProcessingStatus.FAILED:
            return False
        self.processing_status = ProcessingStatus.PENDING
        self.mark_queued(now)
        self.processing_error = self.processing_error_code = None
        self.updated_at = now
        return True

    def fail(self, code: str, sentence: str, now: datetime) -> None:
        self.processing_status = ProcessingStatus.FAILED
        self.note_problem(code, sentence, now)

    def fail_with(self, error: PdfError, now: datetime, page: int | None = None) -> None:
        """A document error fails the score; a render error of `page` leaves it ready and says which thumbnail is
        missing and why."""
        if error.kind.fails_document:
            self.fail(error.kind, error.kind.sentence, now)
        else:
            self.note_problem(error.kind, error.kind.sentence_about(page), now)

    def note_problem(self, code: str, sentence: str, now: datetime) -> None:
        """Something the musician should know: `code` for programs, `sentence` for people."""
        self.processing_error_code = str(code)
        self.processing_error = sentence
        self.updated_at = now

    def note_page_limit(self, cap: int, now: datetime) -> None:
        sentence = f"Only the first {cap} of {self.page_count} pages have thumbnails."
        self._note_about_pages(ProcessingProblem.PAGE_LIMIT, sentence, now)

    def forget_problem(self, code: str, now: datetime) -> None:
        """The note of `code`, if that is the current one, no longer holds."""
        if self.processing_error_code == code:
            self.processing_error = self.processing_error_code = None
            self.updated_at = now

    def note_time_limit(self, seconds: float, now: datetime) -> None:
        sentence = (
            f"Thumbnails stopped after {len(self.thumbnail_pages)} of {self.page_count} pages because rendering "
            f"took longer than {seconds:g} seconds; generate them again to continue."
        )
        self._note_about_pages(ProcessingProblem.TIME_LIMIT, sentence, now)

    def _note_about_pages(self, code: ProcessingProblem, sentence: str, now: datetime) -> None:
        """Why page thumbnails are missing, unless the score failed: then that reason is the one to keep."""
        if self.processing_status is not ProcessingStatus.FAILED:
            self.note_problem(code, sentence, now)

    @property
    def cover_wanted(self) -> bool:
        """A ready score whose chosen cover is not stored, though nothing says its rendering failed."""
        ready = self.processing_status is ProcessingStatus.READY
        return ready and not self.cover_is_current and self.processing_error_code is None

    def request_page_thumbnails(self) -> None:
        self.page_thumbnails_wanted = True

    def end_page_thumbnails_run(self) -> None:
        self.page_thumbnails_wanted = False

    def choose_cover(self, page: int, now: datetime) -> None:
        """The cover is to be made of `page`; the one stored now stays until that one replaces it."""
        self.ensure_page_exists(page)
        self.cover_page = page
        self.forget_problem(ProcessingProblem.COVER_PAGE_MISSING, now)  # it was about the choice this replaces

    def record_cover_thumbnail(self, cover: StoredCover, now: datetime) -> str | None:
        """`cover` is the cover now; returns the key of the one it replaces."""
        replaced = None if self.cover is None else self.cover.key
        self.cover = cover
        if self.processing_error_code in (PdfErrorKind.RENDER_TIMEOUT, PdfErrorKind.RENDER_LIMIT):
            self.processing_error = self.processing_error_code = None
        self.updated_at = now
        return replaced

    def fail_cover(self, error: PdfError, page: int, now: datetime) -> None:
        """A cover of `page` could not be rendered: noted unless another page has been chosen since."""
        if page == self.cover_page:
            self.fail_with(error, now, page)

    @property
    def cover_failed(self) -> bool:
        """No cover comes without processing again: the score failed, or it is ready and says why there is none."""
        if self.thumbnail_ready:
            return False
        render_failed = self.processing_error_code in (PdfErrorKind.RENDER_TIMEOUT, PdfErrorKind.RENDER_LIMIT)
        return self.processing_status is ProcessingStatus.FAILED or (
            self.processing_status is ProcessingStatus.READY and render_failed
        )

    def record_page_thumbnail(self, page: int, now: datetime) -> None:
        if page not in self.thumbnail_pages:
            self.thumbnail_pages = sorted([*self.thumbnail_pages, page])
        self.updated_at = now

    def has_page_thumbnail(self, page: int) -> bool:
        return page in self.thumbnail_pages

    def ensure_page_exists(self, page: int) -> None:
        if page < 1 or (self.page_count is not None and page > self.page_count):
            raise ValidationError(f"Page {page} is out of range for this score.")

    def update_details(self, changes: ScoreDetails, now: datetime) -> None:
        for name in ("title", "composer", "genre", "tags", "description"):
            value = getattr(changes, name)
            if value is not UNSET:
                setattr(self, name, value)
        self.updated_at = now


@dataclass(frozen=True)
class ScoreDetails:
    """The fields a musician edits. UNSET means "leave as it is" in an update."""

    title: str | Unset = UNSET
    composer: str | Unset | None = UNSET
    genre: str | Unset | None = UNSET
    tags: list[str] | Unset = UNSET
    description: str | Unset | None = UNSET

    def cleaned(self) -> ScoreDetails:
        return ScoreDetails(
            title=_clean_title(self.title),
            composer=_clean_text(self.composer, "composer", MAX_TEXT_FIELD_LENGTH),
            genre=_clean_text(self.genre, "genre", MAX_TEXT_FIELD_LENGTH),
            tags=_clean_tags(self.tags),
            description=_clean_text(self.description, "description", MAX_DESCRIPTION_LENGTH),
        )


def _clean_title(title: str | Unset) -> str | Unset:
    return title if isinstance(title, Unset) else clean_required(title, "title", MAX_TITLE_LENGTH)


def _clean_text(value: str | Unset | None, name: str, limit: int) -> str | Unset | None:
    return value if isinstance(value, Unset) else clean_optional(value, name, limit)


def _clean_tags(tags: list[str] | Unset) -> list[str] | Unset:
    if isinstance(tags, Unset):
        return tags
    cleaned = [tag.strip() for tag in tags if tag.strip()]
    if any(len(tag) > MAX_TAG_LENGTH for tag in cleaned):
        raise ValidationError(f"A tag must have at most {MAX_TAG_LENGTH} characters.")
    unique = distinct_tags(cleaned)
    if len(unique) > MAX_TAGS:
        raise ValidationError(f"A score can have at most {MAX_TAGS} tags.")
    return unique


def distinct_tags(tags: list[str]) -> list[str]:
    """One of each tag as the library matches them ("Piano", "piano" and "PIANO" are one), first spelling kept."""
    first_spelling: dict[str, str] = {}
    for tag in tags:
        first_spelling.setdefault(sort_key(tag), tag)
    return list(first_spelling.values())
