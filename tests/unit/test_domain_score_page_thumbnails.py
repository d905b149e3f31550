"""domain.scores.page_thumbnails, through Score: the stored page thumbnails and the notes about missing ones."""

from __future__ import annotations

from domain.pdf import PdfInfo, PdfMetadata
from domain.scores import ProcessingStatus
from tests.unit.domain_scores_support import LATER, LONG_AFTER, NOW, make_score


def test_page_thumbnails_are_recorded_once_and_sorted() -> None:
    score = make_score(page_count=10)
    for page in (5, 2, 5, 9, 2):
        score.record_page_thumbnail(page, LATER)
    assert score.page_thumbnails.pages == [2, 5, 9]
    assert score.page_thumbnails.count == 3
    assert score.page_thumbnails.has(5) and not score.page_thumbnails.has(3)


def test_the_page_limit_note_names_the_cap_and_the_page_count() -> None:
    score = make_score()
    score.record_info(PdfInfo(3000, PdfMetadata()), NOW)
    score.note_page_limit(2000, LATER)
    assert score.processing.status is ProcessingStatus.READY
    assert score.processing.error_code == "page_limit"
    assert score.processing.error == "Only the first 2000 of 3000 pages have thumbnails."


def test_notes_about_page_thumbnails_keep_the_reason_a_score_failed() -> None:
    score = make_score()
    score.stall(LONG_AFTER)
    score.note_page_limit(2000, LATER)
    score.note_time_limit(600, LATER)
    assert score.processing.status is ProcessingStatus.FAILED
    assert score.processing.error_code == "processing_stalled"
