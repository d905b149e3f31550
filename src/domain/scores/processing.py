"""Processing of a score's document: its status, what reading the PDF learned (page count, metadata), and the one
problem the musician is told of (a code for programs, a sentence for people), whichever part of the work met it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from domain.errors import ValidationError
from domain.pdf import PdfError, PdfErrorKind, PdfInfo, PdfMetadata


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
# A score whose document was never read is queued again, after storage or the queue stopped it, for this long
# after its creation (once per stuck-processing period); then it fails, so that no score stays pending for ever.
RESUME_WITHIN = timedelta(hours=12)

_RENDER_PROBLEMS = (PdfErrorKind.RENDER_TIMEOUT, PdfErrorKind.RENDER_LIMIT)


class ProcessingStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


@dataclass
class Processing:
    """Changes as the work on the document goes on. The methods return whether they changed anything where the
    score's updated_at depends on it."""

    status: ProcessingStatus = ProcessingStatus.PENDING
    page_count: int | None = None
    metadata: PdfMetadata | None = None
    error: str | None = None  # the problem, for people
    error_code: str | None = None  # the same problem, for programs
    started_at: datetime | None = None  # when it was last started or queued

    def start(self, now: datetime) -> None:
        self.status = ProcessingStatus.PROCESSING
        self.started_at = now

    def record(self, info: PdfInfo) -> bool:
        """Store page count and metadata: the document reads, so no earlier problem or failure describes it any
        more. True when it was never read before."""
        first_reading = self.metadata is None
        self.page_count = info.page_count
        self.metadata = info.metadata
        self.error = self.error_code = None
        if self.status is ProcessingStatus.FAILED:
            self.status = ProcessingStatus.PROCESSING
        return first_reading

    def finish(self) -> bool:
        """Processing that is still running ends `ready` (a failure recorded meanwhile stands)."""
        if self.status in (ProcessingStatus.PENDING, ProcessingStatus.PROCESSING):
            self.status = ProcessingStatus.READY
            return True
        return False

    def mark_queued(self, now: datetime) -> None:
        """Its processing was queued now: the stuck-score sweep looks at it again a stuck-processing period on."""
        self.started_at = now

    def request_refresh(self, now: datetime) -> bool:
        """A refresh of a failed score starts over: pending, and the old failure no longer stands. True when
        that changed it (a ready one stays as it is while it is read again)."""
        if self.status is not ProcessingStatus.FAILED:
            return False
        self.status = ProcessingStatus.PENDING
        self.mark_queued(now)
        self.error = self.error_code = None
        return True

    def give_up(self, now: datetime, created_at: datetime) -> bool:
        """Background work kept failing (storage or the queue, say, not the document)."""
        return self._end_unfinished(ProcessingProblem.PROCESSING_FAILED, RETRIES_EXHAUSTED, now, created_at)

    def stall(self, now: datetime, created_at: datetime) -> bool:
        return self._end_unfinished(ProcessingProblem.PROCESSING_STALLED, STALLED, now, created_at)

    def _end_unfinished(self, code: ProcessingProblem, sentence: str, now: datetime, created_at: datetime) -> bool:
        """Nothing here is the document's fault, so a failed score keeps its document's verdict (and this returns
        False). A score read before (a refresh that could not finish) stays or becomes ready again; one never read
        is pending again, for the stuck-score sweep to queue once more after a stuck-processing period, until
        RESUME_WITHIN after its creation: then it fails. Each says why."""
        if self.status is ProcessingStatus.FAILED:
            return False
        if self.page_count is not None:
            self.finish()
            self.note(code, sentence)
        elif now - created_at < RESUME_WITHIN:
            self.status = ProcessingStatus.PENDING
            self.mark_queued(now)
            self.note(code, RESUMING)
        else:
            self.fail(code, sentence)
        return True

    def fail(self, code: str, sentence: str) -> None:
        self.status = ProcessingStatus.FAILED
        self.note(code, sentence)

    def fail_with(self, error: PdfError, page: int | None = None) -> None:
        """A document error fails the score; a render error of `page` leaves it as it is and says which thumbnail
        is missing and why."""
        if error.kind.fails_document:
            self.fail(error.kind, error.kind.sentence)
        else:
            self.note(error.kind, error.kind.sentence_about(page))

    def note(self, code: str, sentence: str) -> None:
        """Something the musician should know: `code` for programs, `sentence` for people."""
        self.error_code = str(code)
        self.error = sentence

    def note_unless_failed(self, code: str, sentence: str) -> bool:
        """A note that must not hide why the score failed: made only if it did not."""
        if self.status is ProcessingStatus.FAILED:
            return False
        self.note(code, sentence)
        return True

    def forget(self, code: str) -> bool:
        """The note of `code`, if that is the current one, no longer holds."""
        if self.error_code != code:
            return False
        self.error = self.error_code = None
        return True

    @property
    def render_failed(self) -> bool:
        """The note says a thumbnail could not be rendered."""
        return self.error_code in _RENDER_PROBLEMS

    def forget_render_problem(self) -> None:
        if self.render_failed:
            self.error = self.error_code = None

    def ensure_page_exists(self, page: int) -> None:
        """Pages count from 1; the upper bound is known once the document was read."""
        if page < 1 or (self.page_count is not None and page > self.page_count):
            raise ValidationError(f"Page {page} is out of range for this score.")
