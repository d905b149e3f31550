"""domain.scores: processing states, prefill from metadata, failures, page range and details cleaning."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.errors import ValidationError
from domain.pdf import PdfError, PdfErrorKind, PdfInfo, PdfMetadata
from domain.scores import (
    MAX_TAG_LENGTH,
    MAX_TAGS,
    MAX_TEXT_FIELD_LENGTH,
    MAX_TITLE_LENGTH,
    RESUME_WITHIN,
    RESUMING,
    ProcessingStatus,
    Score,
    ScoreDetails,
    StoredCover,
)
from domain.text import MAX_DESCRIPTION_LENGTH, UNSET

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=3)
LONG_AFTER = NOW + RESUME_WITHIN
METADATA = PdfMetadata(title="Sonata No. 8", author="Beethoven", subject="Classical", keywords="piano; sonata, piano")


def make_score(**fields: object) -> Score:
    values: dict[str, object] = {
        "id": uuid4(),
        "user_id": uuid4(),
        "upload_id": uuid4(),
        "title": "Pathétique",
        "composer": None,
        "genre": None,
        "tags": [],
        "description": None,
        "original_filename": "a.pdf",
        "size_bytes": 100,
        "storage_key": "u/scores/x/original.pdf",
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(fields)
    return Score(**values)  # type: ignore[arg-type]


def test_a_new_score_is_pending_without_thumbnails() -> None:
    score = make_score()
    assert score.processing_status is ProcessingStatus.PENDING
    assert score.page_count is None and score.processing_error is None
    assert not score.thumbnail_ready and score.page_thumbnails_ready == 0


def test_start_processing_records_when() -> None:
    score = make_score()
    score.start_processing(LATER)
    assert score.processing_status is ProcessingStatus.PROCESSING
    assert score.processing_started_at == LATER and score.updated_at == LATER


# --- record_info ---------------------------------------------------------------------------------


def test_record_info_stores_facts_and_prefills_empty_fields() -> None:
    score = make_score()
    score.start_processing(NOW)
    score.record_info(PdfInfo(12, METADATA), LATER)
    assert score.processing_status is ProcessingStatus.READY
    assert score.page_count == 12 and score.pdf_metadata == METADATA
    assert score.composer == "Beethoven"
    assert score.genre == "Classical"
    assert score.tags == ["piano", "sonata"]
    assert score.title == "Pathétique"
    assert score.updated_at == LATER


def test_keywords_that_differ_only_by_case_become_one_tag() -> None:
    score = make_score()
    score.record_info(PdfInfo(1, replace(METADATA, keywords="Piano, piano; Sonata, PIANO")), LATER)
    assert score.tags == ["Piano", "Sonata"]


def test_fields_the_musician_emptied_stay_empty_when_the_score_is_read_again() -> None:
    score = make_score()
    score.record_info(PdfInfo(12, METADATA), LATER)
    assert (score.composer, score.genre, score.tags) == ("Beethoven", "Classical", ["piano", "sonata"])
    score.update_details(ScoreDetails(composer=None, genre=None, tags=[]), LATER)
    score.record_info(PdfInfo(12, METADATA), LATER)
    assert (score.composer, score.genre, score.tags) == (None, None, [])


def test_record_info_never_overwrites_the_musicians_fields() -> None:
    score = make_score(composer="L. van Beethoven", genre="Romantic", tags=["mine"])
    score.record_info(PdfInfo(3, METADATA), LATER)
    assert (score.composer, score.genre, score.tags) == ("L. van Beethoven", "Romantic", ["mine"])


def test_record_info_with_empty_metadata_leaves_fields_empty() -> None:
    score = make_score()
    score.record_info(PdfInfo(1, PdfMetadata()), LATER)
    assert (score.composer, score.genre, score.tags) == (None, None, [])


def test_prefilled_values_respect_the_field_limits() -> None:
    metadata = PdfMetadata(author="a" * 1000, subject="s" * 1000, keywords=",".join(f"t{i}" for i in range(80)))
    score = make_score()
    score.record_info(PdfInfo(1, metadata), LATER)
    assert score.composer == "a" * MAX_TEXT_FIELD_LENGTH
    assert score.genre == "s" * MAX_TEXT_FIELD_LENGTH
    assert len(score.tags) == MAX_TAGS and score.tags[0] == "t0"


def test_record_info_on_a_failed_score_never_leaves_a_failure_without_a_reason() -> None:
    """A score that is `failed` must say why; one whose document now reads is no longer failed."""
    score = make_score()
    score.fail("processing_failed", "The PDF took too long to read.", NOW)
    score.record_info(PdfInfo(2, PdfMetadata()), LATER)
    assert score.page_count == 2
    assert score.processing_status is not ProcessingStatus.FAILED or score.processing_error is not None
    assert score.processing_status is ProcessingStatus.READY


def test_record_info_unfinished_keeps_processing_until_finish() -> None:
    score = make_score()
    score.start_processing(NOW)
    score.record_info(PdfInfo(2, PdfMetadata()), LATER, finished=False)
    assert score.processing_status is ProcessingStatus.PROCESSING
    assert score.page_count == 2
    score.finish_processing(LATER)
    assert score.processing_status is ProcessingStatus.READY


def test_finish_processing_lets_a_failure_recorded_meanwhile_stand() -> None:
    score = make_score()
    score.start_processing(NOW)
    score.record_info(PdfInfo(2, PdfMetadata()), NOW, finished=False)
    score.fail_with(PdfError(PdfErrorKind.CORRUPT), LATER)
    score.finish_processing(LATER)
    assert score.processing_status is ProcessingStatus.FAILED
    assert score.processing_error == PdfErrorKind.CORRUPT.sentence


def test_finish_processing_keeps_a_render_note() -> None:
    score = make_score()
    score.start_processing(NOW)
    score.record_info(PdfInfo(2, PdfMetadata()), NOW, finished=False)
    score.fail_with(PdfError(PdfErrorKind.RENDER_TIMEOUT), LATER)
    score.finish_processing(LATER)
    assert score.processing_status is ProcessingStatus.READY
    assert score.processing_error == PdfErrorKind.RENDER_TIMEOUT.sentence


def test_a_successful_reprocessing_clears_the_previous_failure() -> None:
    """The use cases call start_processing before record_info: the old failure must not survive that."""
    score = make_score()
    score.stall(NOW)
    score.start_processing(LATER)
    score.record_info(PdfInfo(2, PdfMetadata()), LATER)
    assert score.processing_status is ProcessingStatus.READY
    assert score.processing_error is None


# --- failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind",
    [PdfErrorKind.NOT_PDF, PdfErrorKind.EMPTY, PdfErrorKind.CORRUPT, PdfErrorKind.ENCRYPTED, PdfErrorKind.NO_PAGES],
)
def test_a_document_error_fails_the_score_with_its_sentence(kind: PdfErrorKind) -> None:
    score = make_score()
    score.start_processing(NOW)
    score.fail_with(PdfError(kind, "internal detail"), LATER)
    assert score.processing_status is ProcessingStatus.FAILED
    assert score.processing_error == kind.sentence
    assert score.updated_at == LATER


@pytest.mark.parametrize("kind", [PdfErrorKind.RENDER_TIMEOUT, PdfErrorKind.RENDER_LIMIT])
def test_a_render_error_keeps_a_ready_score_ready_and_explains(kind: PdfErrorKind) -> None:
    score = make_score()
    score.record_info(PdfInfo(4, PdfMetadata()), NOW)
    score.fail_with(PdfError(kind), LATER)
    assert score.processing_status is ProcessingStatus.READY
    assert score.processing_error == kind.sentence
    assert score.page_count == 4 and not score.thumbnail_ready


def test_encrypted_says_password() -> None:
    score = make_score()
    score.fail_with(PdfError(PdfErrorKind.ENCRYPTED), NOW)
    assert score.processing_error == "The PDF is protected by a password."


def test_note_problem_does_not_change_the_status() -> None:
    score = make_score()
    score.record_info(PdfInfo(1, PdfMetadata()), NOW)
    score.note_problem("page_limit", "Only the first 2000 of 3000 pages have thumbnails.", LATER)
    assert score.processing_status is ProcessingStatus.READY
    assert score.processing_error == "Only the first 2000 of 3000 pages have thumbnails."


# --- thumbnails and pages ------------------------------------------------------------------------


def test_cover_thumbnail_is_recorded_and_names_the_cover_it_replaces() -> None:
    score = make_score(page_count=4)
    assert not score.thumbnail_ready and not score.cover_is_current
    assert score.record_cover_thumbnail(StoredCover("u/scores/x/cover-a.jpg", 1), LATER) is None
    assert score.thumbnail_ready and score.cover_is_current and score.updated_at == LATER
    score.choose_cover(3, NOW)
    assert score.thumbnail_ready and not score.cover_is_current  # still the old one until page 3's is stored
    assert score.record_cover_thumbnail(StoredCover("u/scores/x/cover-b.jpg", 3), LATER) == "u/scores/x/cover-a.jpg"
    assert score.cover == StoredCover("u/scores/x/cover-b.jpg", 3) and score.cover_is_current


def test_a_cover_failure_is_noted_only_for_the_chosen_page() -> None:
    score = make_score(page_count=4, processing_status=ProcessingStatus.READY)
    score.choose_cover(2, NOW)
    score.fail_cover(PdfError(PdfErrorKind.RENDER_TIMEOUT), 1, LATER)  # a page no longer wanted
    assert score.processing_error is None
    score.fail_cover(PdfError(PdfErrorKind.RENDER_TIMEOUT), 2, LATER)
    assert score.processing_error_code == PdfErrorKind.RENDER_TIMEOUT


def test_page_thumbnails_are_recorded_once_and_sorted() -> None:
    score = make_score(page_count=10)
    for page in (5, 2, 5, 9, 2):
        score.record_page_thumbnail(page, LATER)
    assert score.thumbnail_pages == [2, 5, 9]
    assert score.page_thumbnails_ready == 3
    assert score.has_page_thumbnail(5) and not score.has_page_thumbnail(3)


def test_pages_are_in_range_from_one_to_the_page_count() -> None:
    score = make_score(page_count=3)
    score.ensure_page_exists(1)
    score.ensure_page_exists(3)
    for page in (0, -1, 4):
        with pytest.raises(ValidationError) as error:
            score.ensure_page_exists(page)
        assert error.value.code == "validation_error"


def test_before_processing_only_the_lower_bound_is_known() -> None:
    score = make_score()
    score.ensure_page_exists(500)
    with pytest.raises(ValidationError):
        score.ensure_page_exists(0)


# --- details -------------------------------------------------------------------------------------


def test_update_details_changes_only_what_is_set() -> None:
    score = make_score(composer="Bach", genre="Baroque", tags=["organ"], description="Long")
    score.update_details(ScoreDetails(title="Toccata", composer=None), LATER)
    assert score.title == "Toccata" and score.composer is None
    assert score.genre == "Baroque" and score.tags == ["organ"] and score.description == "Long"
    assert score.updated_at == LATER


def test_cleaning_trims_text_and_blanks_become_none() -> None:
    cleaned = ScoreDetails(
        title="  Air  ", composer="  Bach ", genre="   ", description="\n", tags=[" a ", "b", "a", "  ", "b "]
    ).cleaned()
    assert cleaned == ScoreDetails(title="Air", composer="Bach", genre=None, description=None, tags=["a", "b"])


def test_tags_that_differ_only_by_case_or_accents_are_one_tag() -> None:
    cleaned = ScoreDetails(tags=["Piano", "piano", "Étude", "etude", "PIANO ", "Orgel"]).cleaned()
    assert cleaned.tags == ["Piano", "Étude", "Orgel"]


def test_cleaning_keeps_unset_and_none() -> None:
    assert ScoreDetails().cleaned() == ScoreDetails()
    cleaned = ScoreDetails(composer=None, genre=None, description=None).cleaned()
    assert cleaned.composer is None and cleaned.title is UNSET and cleaned.tags is UNSET


@pytest.mark.parametrize("title", ["", "   ", "\t\n"])
def test_an_empty_title_is_refused(title: str) -> None:
    with pytest.raises(ValidationError) as error:
        ScoreDetails(title=title).cleaned()
    assert error.value.code == "validation_error"


@pytest.mark.parametrize(
    "details",
    [
        ScoreDetails(title="t" * (MAX_TITLE_LENGTH + 1)),
        ScoreDetails(composer="c" * (MAX_TEXT_FIELD_LENGTH + 1)),
        ScoreDetails(genre="g" * (MAX_TEXT_FIELD_LENGTH + 1)),
        ScoreDetails(description="d" * (MAX_DESCRIPTION_LENGTH + 1)),
        ScoreDetails(tags=["x" * (MAX_TAG_LENGTH + 1)]),
        ScoreDetails(tags=[f"t{i}" for i in range(MAX_TAGS + 1)]),
    ],
)
def test_fields_over_their_limits_are_refused(details: ScoreDetails) -> None:
    with pytest.raises(ValidationError):
        details.cleaned()


def test_fields_at_their_limits_are_accepted() -> None:
    cleaned = ScoreDetails(
        title="t" * MAX_TITLE_LENGTH,
        composer="c" * MAX_TEXT_FIELD_LENGTH,
        description="d" * MAX_DESCRIPTION_LENGTH,
        tags=[f"t{i}" for i in range(MAX_TAGS)] + ["t0"],
    ).cleaned()
    assert isinstance(cleaned.tags, list) and len(cleaned.tags) == MAX_TAGS


def test_limits_apply_after_trimming() -> None:
    assert ScoreDetails(title="  " + "t" * MAX_TITLE_LENGTH + "  ").cleaned().title == "t" * MAX_TITLE_LENGTH


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
    assert (score.processing_status, score.processing_error_code) == (status, code)
    assert score.processing_error
    assert score.processing_error[0].isupper()
    score.record_info(PdfInfo(3, PdfMetadata()), LATER)
    assert (score.processing_error, score.processing_error_code) == (None, None)


def test_the_page_limit_note_names_the_cap_and_the_page_count() -> None:
    score = make_score()
    score.record_info(PdfInfo(3000, PdfMetadata()), NOW)
    score.note_page_limit(2000, LATER)
    assert score.processing_status is ProcessingStatus.READY
    assert score.processing_error_code == "page_limit"
    assert score.processing_error == "Only the first 2000 of 3000 pages have thumbnails."


def test_notes_about_page_thumbnails_keep_the_reason_a_score_failed() -> None:
    score = make_score()
    score.stall(LONG_AFTER)
    score.note_page_limit(2000, LATER)
    score.note_time_limit(600, LATER)
    assert score.processing_status is ProcessingStatus.FAILED
    assert score.processing_error_code == "processing_stalled"


@pytest.mark.parametrize(("end", "code"), [(Score.give_up, "processing_failed"), (Score.stall, "processing_stalled")])
def test_a_refresh_that_cannot_finish_leaves_a_score_read_before_ready(end: object, code: str) -> None:
    """The document was read; a later run failing for storage or the queue says nothing against it."""
    score = make_score()
    score.record_info(PdfInfo(4, PdfMetadata()), NOW)
    score.start_processing(LATER)
    end(score, LATER)  # type: ignore[operator]
    assert (score.processing_status, score.processing_error_code) == (ProcessingStatus.READY, code)
    assert score.page_count == 4


@pytest.mark.parametrize(("end", "code"), [(Score.give_up, "processing_failed"), (Score.stall, "processing_stalled")])
def test_an_unread_score_that_cannot_finish_is_pending_again_until_it_is_too_old(end: object, code: str) -> None:
    """Storage or the queue, not the document, stopped it: `failed` would blame the PDF."""
    score = make_score()
    score.start_processing(LATER)
    end(score, LATER)  # type: ignore[operator]
    assert (score.processing_status, score.processing_started_at) == (ProcessingStatus.PENDING, LATER)
    assert (score.processing_error, score.processing_error_code) == (RESUMING, code)
    score.start_processing(LONG_AFTER - timedelta(seconds=1))
    end(score, LONG_AFTER)  # type: ignore[operator]
    assert (score.processing_status, score.processing_error_code) == (ProcessingStatus.FAILED, code)
    assert score.processing_error and score.processing_error.endswith("try refreshing the score's info.")


@pytest.mark.parametrize("end", [Score.give_up, Score.stall])
def test_a_score_failed_by_its_document_keeps_that_verdict_when_other_work_cannot_finish(end: object) -> None:
    score = make_score()
    score.fail_with(PdfError(PdfErrorKind.ENCRYPTED), NOW)
    end(score, LATER)  # type: ignore[operator]
    assert (score.processing_status, score.processing_error_code) == (ProcessingStatus.FAILED, "encrypted")


def test_a_refresh_of_a_failed_score_starts_over_and_of_any_other_changes_nothing() -> None:
    score = make_score()
    score.fail_with(PdfError(PdfErrorKind.CORRUPT), NOW)
    assert score.request_refresh(LATER)
    assert (score.processing_status, score.processing_error, score.processing_error_code) == ("pending", None, None)
    assert (score.processing_started_at, score.updated_at) == (LATER, LATER)  # queued: the sweep leaves it be
    score.record_info(PdfInfo(2, PdfMetadata()), LATER)
    score.finish_processing(LATER)
    assert not score.request_refresh(LATER)
    assert score.processing_status is ProcessingStatus.READY


# --- cover page ----------------------------------------------------------------------------------


def test_a_cover_page_must_exist_once_the_page_count_is_known() -> None:
    score = make_score(page_count=4)
    score.choose_cover(4, NOW)
    assert score.cover_page == 4
    with pytest.raises(ValidationError):
        score.choose_cover(5, NOW)
    assert score.cover_page == 4


def test_a_cover_page_chosen_beyond_the_page_count_read_later_becomes_page_1() -> None:
    score = make_score()
    score.choose_cover(9, NOW)
    score.record_info(PdfInfo(3, METADATA), LATER)
    assert score.cover_page == 1
    score.choose_cover(3, NOW)
    score.record_info(PdfInfo(3, METADATA), LATER)
    assert score.cover_page == 3
