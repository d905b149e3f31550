"""domain.scores.details: the musician's details, how edits to them are cleaned, and the prefill from metadata."""

from __future__ import annotations

from dataclasses import replace

import pytest

from domain.errors import ValidationError
from domain.pdf import PdfInfo, PdfMetadata
from domain.scores import MAX_TAG_LENGTH, MAX_TAGS, MAX_TEXT_FIELD_LENGTH, MAX_TITLE_LENGTH, DetailChanges
from domain.text import MAX_DESCRIPTION_LENGTH, UNSET
from tests.unit.domain_scores_support import LATER, METADATA, make_score


def test_update_details_changes_only_what_is_set() -> None:
    score = make_score(composer="Bach", genre="Baroque", tags=["organ"], description="Long")
    score.update_details(DetailChanges(title="Toccata", composer=None), LATER)
    assert score.details.title == "Toccata" and score.details.composer is None
    assert score.details.genre == "Baroque" and score.details.tags == ["organ"] and score.details.description == "Long"
    assert score.updated_at == LATER


def test_cleaning_trims_text_and_blanks_become_none() -> None:
    cleaned = DetailChanges(
        title="  Air  ", composer="  Bach ", genre="   ", description="\n", tags=[" a ", "b", "a", "  ", "b "]
    ).cleaned()
    assert cleaned == DetailChanges(title="Air", composer="Bach", genre=None, description=None, tags=["a", "b"])


def test_tags_that_differ_only_by_case_or_accents_are_one_tag() -> None:
    cleaned = DetailChanges(tags=["Piano", "piano", "Étude", "etude", "PIANO ", "Orgel"]).cleaned()
    assert cleaned.tags == ["Piano", "Étude", "Orgel"]


def test_cleaning_keeps_unset_and_none() -> None:
    assert DetailChanges().cleaned() == DetailChanges()
    cleaned = DetailChanges(composer=None, genre=None, description=None).cleaned()
    assert cleaned.composer is None and cleaned.title is UNSET and cleaned.tags is UNSET


@pytest.mark.parametrize("title", ["", "   ", "\t\n"])
def test_an_empty_title_is_refused(title: str) -> None:
    with pytest.raises(ValidationError) as error:
        DetailChanges(title=title).cleaned()
    assert error.value.code == "validation_error"


@pytest.mark.parametrize(
    "details",
    [
        DetailChanges(title="t" * (MAX_TITLE_LENGTH + 1)),
        DetailChanges(composer="c" * (MAX_TEXT_FIELD_LENGTH + 1)),
        DetailChanges(genre="g" * (MAX_TEXT_FIELD_LENGTH + 1)),
        DetailChanges(description="d" * (MAX_DESCRIPTION_LENGTH + 1)),
        DetailChanges(tags=["x" * (MAX_TAG_LENGTH + 1)]),
        DetailChanges(tags=[f"t{i}" for i in range(MAX_TAGS + 1)]),
    ],
)
def test_fields_over_their_limits_are_refused(details: DetailChanges) -> None:
    with pytest.raises(ValidationError):
        details.cleaned()


def test_fields_at_their_limits_are_accepted() -> None:
    cleaned = DetailChanges(
        title="t" * MAX_TITLE_LENGTH,
        composer="c" * MAX_TEXT_FIELD_LENGTH,
        description="d" * MAX_DESCRIPTION_LENGTH,
        tags=[f"t{i}" for i in range(MAX_TAGS)] + ["t0"],
    ).cleaned()
    assert isinstance(cleaned.tags, list) and len(cleaned.tags) == MAX_TAGS


def test_limits_apply_after_trimming() -> None:
    assert DetailChanges(title="  " + "t" * MAX_TITLE_LENGTH + "  ").cleaned().title == "t" * MAX_TITLE_LENGTH


def test_keywords_that_differ_only_by_case_become_one_tag() -> None:
    score = make_score()
    score.record_info(PdfInfo(1, replace(METADATA, keywords="Piano, piano; Sonata, PIANO")), LATER)
    assert score.details.tags == ["Piano", "Sonata"]


def test_fields_the_musician_emptied_stay_empty_when_the_score_is_read_again() -> None:
    score = make_score()
    score.record_info(PdfInfo(12, METADATA), LATER)
    assert (score.details.composer, score.details.genre, score.details.tags) == (
        "Beethoven",
        "Classical",
        ["piano", "sonata"],
    )
    score.update_details(DetailChanges(composer=None, genre=None, tags=[]), LATER)
    score.record_info(PdfInfo(12, METADATA), LATER)
    assert (score.details.composer, score.details.genre, score.details.tags) == (None, None, [])


def test_record_info_never_overwrites_the_musicians_fields() -> None:
    score = make_score(composer="L. van Beethoven", genre="Romantic", tags=["mine"])
    score.record_info(PdfInfo(3, METADATA), LATER)
    assert (score.details.composer, score.details.genre, score.details.tags) == (
        "L. van Beethoven",
        "Romantic",
        ["mine"],
    )


def test_record_info_with_empty_metadata_leaves_fields_empty() -> None:
    score = make_score()
    score.record_info(PdfInfo(1, PdfMetadata()), LATER)
    assert (score.details.composer, score.details.genre, score.details.tags) == (None, None, [])


def test_prefilled_values_respect_the_field_limits() -> None:
    metadata = PdfMetadata(author="a" * 1000, subject="s" * 1000, keywords=",".join(f"t{i}" for i in range(80)))
    score = make_score()
    score.record_info(PdfInfo(1, metadata), LATER)
    assert score.details.composer == "a" * MAX_TEXT_FIELD_LENGTH
    assert score.details.genre == "s" * MAX_TEXT_FIELD_LENGTH
    assert len(score.details.tags) == MAX_TAGS and score.details.tags[0] == "t0"
