"""domain.pdf: thumbnail geometry, error kinds and their sentences, keywords as tags."""

from __future__ import annotations

import pytest

from domain.pdf import (
    THUMBNAIL_JPEG_QUALITY,
    THUMBNAIL_MAX_HEIGHT,
    THUMBNAIL_MAX_WIDTH,
    PdfError,
    PdfErrorKind,
    fitted_zoom,
    keywords_to_tags,
)

A4 = (595.28, 841.89)


def fitted(width: float, height: float) -> tuple[float, float]:
    zoom = fitted_zoom(width, height)
    return width * zoom, height * zoom


def test_the_thumbnail_box_is_300_by_400_at_quality_85() -> None:
    assert (THUMBNAIL_MAX_WIDTH, THUMBNAIL_MAX_HEIGHT, THUMBNAIL_JPEG_QUALITY) == (300, 400, 85)


def test_a4_portrait_fills_the_height() -> None:
    width, height = fitted(*A4)
    assert abs(width - 283) <= 1
    assert height == pytest.approx(400)


def test_a4_landscape_fills_the_width() -> None:
    width, height = fitted(A4[1], A4[0])
    assert width == pytest.approx(300)
    assert abs(height - 213) <= 1


def test_a_small_square_page_is_scaled_up_to_the_width() -> None:
    assert fitted_zoom(36, 36) == pytest.approx(300 / 36)
    assert fitted(36, 36) == pytest.approx((300, 300))


@pytest.mark.parametrize(("width", "height"), [(100, 1000), (1000, 100), (612, 792), (14400, 14400), (1, 1)])
def test_the_fitted_page_keeps_its_aspect_and_stays_inside_the_box(width: float, height: float) -> None:
    fitted_width, fitted_height = fitted(width, height)
    assert fitted_width <= 300 + 1e-9 and fitted_height <= 400 + 1e-9
    assert fitted_width == pytest.approx(300) or fitted_height == pytest.approx(400)
    assert fitted_width / fitted_height == pytest.approx(width / height)


def test_a_custom_box_is_honoured() -> None:
    assert fitted_zoom(100, 100, max_width=50, max_height=80) == pytest.approx(0.5)


@pytest.mark.parametrize(("width", "height"), [(0, 100), (100, 0), (0, 0), (-10, 100), (100, -1)])
def test_a_page_without_area_is_a_pdf_error(width: float, height: float) -> None:
    with pytest.raises(PdfError) as error:
        fitted_zoom(width, height)
    assert error.value.kind is PdfErrorKind.CORRUPT


def test_document_errors_fail_the_document_and_render_errors_do_not() -> None:
    document = {
        PdfErrorKind.NOT_PDF,
        PdfErrorKind.EMPTY,
        PdfErrorKind.CORRUPT,
        PdfErrorKind.ENCRYPTED,
        PdfErrorKind.NO_PAGES,
    }
    assert {kind for kind in PdfErrorKind if kind.fails_document} == document
    assert not PdfErrorKind.RENDER_TIMEOUT.fails_document
    assert not PdfErrorKind.RENDER_LIMIT.fails_document


def test_every_kind_has_a_readable_sentence() -> None:
    for kind in PdfErrorKind:
        assert kind.sentence[0].isupper() and kind.sentence.endswith(".")
    assert "password" in PdfErrorKind.ENCRYPTED.sentence


def test_a_render_error_names_its_page_when_it_is_known() -> None:
    assert PdfErrorKind.RENDER_TIMEOUT.sentence_about(12) == "Page 12 took too long to render, so it has no thumbnail."
    assert (
        PdfErrorKind.RENDER_LIMIT.sentence_about(3)
        == "Page 3 is too large, too complex or damaged to render, so it has no thumbnail."
    )
    assert PdfErrorKind.RENDER_LIMIT.sentence_about(None) == PdfErrorKind.RENDER_LIMIT.sentence
    assert PdfErrorKind.ENCRYPTED.sentence_about(3) == PdfErrorKind.ENCRYPTED.sentence


def test_a_pdf_error_message_is_its_detail_or_its_sentence() -> None:
    assert str(PdfError(PdfErrorKind.EMPTY)) == PdfErrorKind.EMPTY.sentence
    error = PdfError(PdfErrorKind.CORRUPT, "xref broken")
    assert str(error) == "xref broken"
    assert error.kind is PdfErrorKind.CORRUPT and error.detail == "xref broken"


@pytest.mark.parametrize(
    ("keywords", "tags"),
    [
        (None, []),
        ("", []),
        ("piano", ["piano"]),
        ("piano, sonata", ["piano", "sonata"]),
        ("piano;sonata; baroque", ["piano", "sonata", "baroque"]),
        (" piano ,, ; sonata ,piano", ["piano", "sonata"]),
        (",;, ;", []),
    ],
)
def test_keywords_become_unique_tags_in_order(keywords: str | None, tags: list[str]) -> None:
    assert keywords_to_tags(keywords) == tags


def test_keyword_tags_are_cut_to_64_characters_and_deduplicated_after_cutting() -> None:
    long = "x" * 70
    assert keywords_to_tags(f"{long}, {long[:64]}, {long}y") == ["x" * 64]
