"""domain.scores.cover, through Score: the chosen cover page and the stored cover thumbnail."""

from __future__ import annotations

import pytest

from domain.errors import ValidationError
from domain.pdf import PdfError, PdfErrorKind, PdfInfo
from domain.scores import ProcessingStatus, StoredCover
from tests.unit.domain_scores_support import LATER, METADATA, NOW, make_score


def test_cover_thumbnail_is_recorded_and_names_the_cover_it_replaces() -> None:
    score = make_score(page_count=4)
    assert not score.cover.ready and not score.cover.is_current
    assert score.record_cover_thumbnail(StoredCover("u/scores/x/cover-a.jpg", 1), LATER) is None
    assert score.cover.ready and score.cover.is_current and score.updated_at == LATER
    score.choose_cover(3, NOW)
    assert score.cover.ready and not score.cover.is_current  # still the old one until page 3's is stored
    assert score.record_cover_thumbnail(StoredCover("u/scores/x/cover-b.jpg", 3), LATER) == "u/scores/x/cover-a.jpg"
    assert score.cover.stored == StoredCover("u/scores/x/cover-b.jpg", 3) and score.cover.is_current


def test_a_cover_failure_is_noted_only_for_the_chosen_page() -> None:
    score = make_score(page_count=4, status=ProcessingStatus.READY)
    score.choose_cover(2, NOW)
    score.fail_cover(PdfError(PdfErrorKind.RENDER_TIMEOUT), 1, LATER)  # a page no longer wanted
    assert score.processing.error is None
    score.fail_cover(PdfError(PdfErrorKind.RENDER_TIMEOUT), 2, LATER)
    assert score.processing.error_code == PdfErrorKind.RENDER_TIMEOUT


def test_a_cover_page_must_exist_once_the_page_count_is_known() -> None:
    score = make_score(page_count=4)
    score.choose_cover(4, NOW)
    assert score.cover.page == 4
    with pytest.raises(ValidationError):
        score.choose_cover(5, NOW)
    assert score.cover.page == 4


def test_a_cover_page_chosen_beyond_the_page_count_read_later_becomes_page_1() -> None:
    score = make_score()
    score.choose_cover(9, NOW)
    score.record_info(PdfInfo(3, METADATA), LATER)
    assert score.cover.page == 1
    score.choose_cover(3, NOW)
    score.record_info(PdfInfo(3, METADATA), LATER)
    assert score.cover.page == 3
