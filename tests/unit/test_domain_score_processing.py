"""domain.scores.processing, through Score: processing states, reading the document, failures, notes and refreshes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import ValidationError
from domain.pdf import PdfError, PdfErrorKind, PdfInfo, PdfMetadata
from domain.scores import RESUMING, ProcessingStatus, Score
from tests.unit.domain_scores_support import LATER, LONG_AFTER, METADATA, NOW, make_score


def test_a_new_score_is_pending_without_thumbnails() -> None:
    score = make_score()
    assert score.processing.status is ProcessingStatus.PENDING
    assert score.processing.page_count is None and score.processing.error is None
    assert not score.cover.ready and score.page_thumbnails.count == 0


def test_start_processing_records_when() -> None:
    score = make_score()
    score.start_processing(LATER)
    assert score.processing.status is ProcessingStatus.PROCESSING
    assert score.processing.started_at == LATER and score.updated_at == LATER


def test_record_info_stores_facts_and_prefills_empty_fields() -> None:
    score = make_score()
    score.start_processing(NOW)
    score.record_info(PdfInfo(12, METADATA), LATER)
    assert score.processing.status is ProcessingStatus.READY
    assert score.processing.page_count == 12 and score.processing.metadata == METADATA
    assert score.details.composer == "Beethoven"
    assert score.details.genre == "Classical"
    assert score.details.tags == ["piano", "sonata"]
    assert score.details.title == "Pathétique"
    assert score.updated_at == LATER


def test_record_info_on_a_failed_score_never_leaves_a_failure_without_a_reason() -> None:
    """A score that is `failed` must say why; one whose document now reads is no longer failed."""
    score = make_score()
    score.fail("processing_failed", "The PDF took too long to read.", NOW)
    score.record_info(PdfInfo(2, PdfMetadata()), LATER)
    assert score.processing.page_count == 2
    assert score.processing.status is not ProcessingStatus.FAILED or score.processing.error is not None
    assert score.processing.status is ProcessingStatus.READY


def test_record_info_unfinished_keeps_processing_until_finish() -> None:
    score = make_score()
    score.start_processing(NOW)
    score.record_info(PdfInfo(2, PdfMetadata()), LATER, finished=False)
    assert score.processing.status is ProcessingStatus.PROCESSING
    assert score.processing.page_count == 2
    score.finish_processing(LATER)
    assert score.processing.status is ProcessingStatus.READY


def test_finish_processing_lets_a_failure_recorded_meanwhile_stand() -> None:
    score = make_score()
    score.start_processing(NOW)
    score.record_info(PdfInfo(2, PdfMetadata()), NOW, finished=False)
    score.fail_with(PdfError(PdfErrorKind.CORRUPT), LATER)
    score.finish_processing(LATER)
    assert score.processing.status is ProcessingStatus.FAILED
    assert score.processing.error == PdfErrorKind.CORRUPT.sentence


def test_finish_processing_keeps_a_render_note() -> None:
    score = make_score()
    score.start_processing(NOW)
    score.record_info(PdfInfo(2, PdfMetadata()), NOW, finished=False)
    score.fail_with(PdfError(PdfErrorKind.RENDER_TIMEOUT), LATER)
    score.finish_processing(LATER)
    assert score.processing.status is ProcessingStatus.READY
    assert score.processing.error == PdfErrorKind.RENDER_TIMEOUT.sentence


def test_a_successful_reprocessing_clears_the_previous_failure() -> None:
    """The use cases call start_processing before record_info: the old failure must not survive that."""
    score = make_score()
    score.stall(NOW)
    score.start_processing(LATER)
    score.record_info(PdfInfo(2, PdfMetadata()), LATER)
    assert score.processing.status is ProcessingStatus.READY
    assert score.processing.error is None


@pytest.mark.parametrize(
    "kind",
    [PdfErrorKind.NOT_PDF, PdfErrorKind.EMPTY, PdfErrorKind.CORRUPT, PdfErrorKind.ENCRYPTED, PdfErrorKind.NO_PAGES],
)
def test_a_document_error_fails_the_score_with_its_sentence(kind: PdfErrorKind) -> None:
    score = make_score()
    score.start_processing(NOW)
    score.fail_with(PdfError(kind, "internal detail"), LATER)
    assert score.processing.status is ProcessingStatus.FAILED
    assert score.processing.error == kind.sentence
    assert score.updated_at == LATER


@pytest.mark.parametrize("kind", [PdfErrorKind.RENDER_TIMEOUT, PdfErrorKind.RENDER_LIMIT])
def test_a_render_error_keeps_a_ready_score_ready_and_explains(kind: PdfErrorKind) -> None:
    score = make_score()
    score.record_info(PdfInfo(4, PdfMetadata()), NOW)
    score.fail_with(PdfError(kind), LATER)
    assert score.processing.status is ProcessingStatus.READY
    assert score.processing.error == kind.sentence
    assert score.processing.page_count == 4 and not score.cover.ready


def test_encrypted_says_password() -> None:
    score = make_score()
    score.fail_with(PdfError(PdfErrorKind.ENCRYPTED), NOW)
    assert score.processing.error == "The PDF is protected by a password."


def test_note_problem_does_not_change_the_status() -> None:
    score = make_score()
    score.record_info(PdfInfo(1, PdfMetadata()), NOW)
    score.note_problem("page_limit", "Only the first 2000 of 3000 pages have thumbnails.", LATER)
    assert score.processing.status is ProcessingStatus.READY
    assert score.processing.error == "Only the first 2000 of 3000 pages have thumbnails."


def test_pages_are_in_range_from_one_to_the_page_count() -> None:
    score = make_score(page_count=3)
    score.processing.ensure_page_exists(1)
    score.processing.ensure_page_exists(3)
    for page in (0, -1, 4):
        with pytest.raises(ValidationError) as error:
            score.processing.ensure_page_exists(page)
        assert error.value.code == "validation_error"


def test_before_processing_only_the_lower_bound_is_known() -> None:
    score = make_score()
    score.processing.ensure_page_exists(500)
    with pytest.raises(ValidationError):
        score.processing.ensure_page_exists(0)


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        (lambda s: s.fail_with(PdfError(PdfErrorKind.ENCRYPTED), LATER), "failed", "encrypted"),
        (lambda s: s.fail_with(PdfError(PdfErrorKind.NO_PAGES), LATER), "failed", "no_pages"),
        (lambda s: s.fail_with(PdfError(PdfErrorKind.RENDER_TIMEOUT), LATER), "processing", "render_timeout"),
        (lambda s: s.stall(LATER), "pending", "processing_stalled"),
        (lambda s: s.give_up(LATER), "pending", "processing_failed"),
        (lambda s: s.stall(LONG_AFTER), "failed", "processing_stalled"),
        (lambda s: s.give_up(LONG_AFTER), "failed", "processing_failed"),
    ],
)
def test_every_problem_has_a_code_for_programs_and_a_sentence_for_people(
    change: object, status: str, code: str
) -> None:
    score = make_score()
    score.start_processing(NOW)
    change(score)  # type: ignore[operator]
    assert (score.processing.status, score.processing.error_code) == (status, code)
    assert score.processing.error
    assert score.processing.error[0].isupper()
    score.record_info(PdfInfo(3, PdfMetadata()), LATER)
    assert (score.processing.error, score.processing.error_code) == (None, None)


@pytest.mark.parametrize(("end", "code"), [(Score.give_up, "processing_failed"), (Score.stall, "processing_stalled")])
def test_a_refresh_that_cannot_finish_leaves_a_score_read_before_ready(end: object, code: str) -> None:
    """The document was read; a later run failing for storage or the queue says nothing against it."""
    score = make_score()
    score.record_info(PdfInfo(4, PdfMetadata()), NOW)
    score.start_processing(LATER)
    end(score, LATER)  # type: ignore[operator]
    assert (score.processing.status, score.processing.error_code) == (ProcessingStatus.READY, code)
    assert score.processing.page_count == 4


@pytest.mark.parametrize(("end", "code"), [(Score.give_up, "processing_failed"), (Score.stall, "processing_stalled")])
def test_an_unread_score_that_cannot_finish_is_pending_again_until_it_is_too_old(end: object, code: str) -> None:
    """Storage or the queue, not the document, stopped it: `failed` would blame the PDF."""
    score = make_score()
    score.start_processing(LATER)
    end(score, LATER)  # type: ignore[operator]
    assert (score.processing.status, score.processing.started_at) == (ProcessingStatus.PENDING, LATER)
    assert (score.processing.error, score.processing.error_code) == (RESUMING, code)
    score.start_processing(LONG_AFTER - timedelta(seconds=1))
    end(score, LONG_AFTER)  # type: ignore[operator]
    assert (score.processing.status, score.processing.error_code) == (ProcessingStatus.FAILED, code)
    assert score.processing.error and score.processing.error.endswith("try refreshing the score's info.")


@pytest.mark.parametrize("end", [Score.give_up, Score.stall])
def test_a_score_failed_by_its_document_keeps_that_verdict_when_other_work_cannot_finish(end: object) -> None:
    score = make_score()
    score.fail_with(PdfError(PdfErrorKind.ENCRYPTED), NOW)
    end(score, LATER)  # type: ignore[operator]
    assert (score.processing.status, score.processing.error_code) == (ProcessingStatus.FAILED, "encrypted")


def test_a_refresh_of_a_failed_score_starts_over_and_of_any_other_changes_nothing() -> None:
    score = make_score()
    score.fail_with(PdfError(PdfErrorKind.CORRUPT), NOW)
    assert score.request_refresh(LATER)
    assert (score.processing.status, score.processing.error, score.processing.error_code) == ("pending", None, None)
    assert (score.processing.started_at, score.updated_at) == (LATER, LATER)  # queued: the sweep leaves it be
    score.record_info(PdfInfo(2, PdfMetadata()), LATER)
    score.finish_processing(LATER)
    assert not score.request_refresh(LATER)
    assert score.processing.status is ProcessingStatus.READY
