"""What the domain knows about PDF documents: facts read from them, thumbnail geometry, failure kinds."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

THUMBNAIL_MAX_WIDTH = 300
THUMBNAIL_MAX_HEIGHT = 400
THUMBNAIL_JPEG_QUALITY = 85


class RenderPriority(IntEnum):
    """Which render work goes first when the render processes are busy: lower values first."""

    FIRST_LOOK = 0  # a new score's page count and first cover: what a musician who just uploaded waits for
    COVER = 1  # a cover or the info asked for again
    PAGES = 2  # thumbnails of every page, in bulk


class PdfErrorKind(StrEnum):
    NOT_PDF = "not_pdf"
    EMPTY = "empty"
    CORRUPT = "corrupt"
    ENCRYPTED = "encrypted"
    NO_PAGES = "no_pages"
    RENDER_TIMEOUT = "render_timeout"
    RENDER_LIMIT = "render_limit"

    @property
    def sentence(self) -> str:
        return _SENTENCES[self]

    def sentence_about(self, page: int | None) -> str:
        """The sentence, naming the page when a render error is about a known one."""
        template = _PAGE_SENTENCES.get(self)
        return template.format(page=page) if template and page is not None else self.sentence

    @property
    def fails_document(self) -> bool:
        """Document failures make the score `failed`; render failures only cost a thumbnail."""
        return self not in {PdfErrorKind.RENDER_TIMEOUT, PdfErrorKind.RENDER_LIMIT}


_SENTENCES = {
    PdfErrorKind.NOT_PDF: "The file is not a PDF document.",
    PdfErrorKind.EMPTY: "The file is empty.",
    PdfErrorKind.CORRUPT: "The PDF is damaged or incomplete and could not be read.",
    PdfErrorKind.ENCRYPTED: "The PDF is protected by a password.",
    PdfErrorKind.NO_PAGES: "The PDF has no pages.",
    PdfErrorKind.RENDER_TIMEOUT: "The page took too long to render, so no thumbnail was made.",
    PdfErrorKind.RENDER_LIMIT: "The page is too large, too complex or damaged to render, so no thumbnail was made.",
}

_PAGE_SENTENCES = {
    PdfErrorKind.RENDER_TIMEOUT: "Page {page} took too long to render, so it has no thumbnail.",
    PdfErrorKind.RENDER_LIMIT: "Page {page} is too large, too complex or damaged to render, so it has no thumbnail.",
}


class PdfError(Exception):
    """A document that cannot be read, or a page that cannot be rendered within the limits."""

    def __init__(self, kind: PdfErrorKind, detail: str | None = None) -> None:
        self.kind = kind
        self.detail = detail
        super().__init__(detail or kind.sentence)


@dataclass(frozen=True)
class PdfMetadata:
    title: str | None = None
    author: str | None = None
    subject: str | None = None
    keywords: str | None = None
    creator: str | None = None
    producer: str | None = None
    creation_date: str | None = None
    modification_date: str | None = None


@dataclass(frozen=True)
class PdfInfo:
    page_count: int
    metadata: PdfMetadata


@dataclass(frozen=True)
class ThumbnailSize:
    width: int
    height: int


def fitted_zoom(
    page_width: float,
    page_height: float,
    max_width: int = THUMBNAIL_MAX_WIDTH,
    max_height: int = THUMBNAIL_MAX_HEIGHT,
) -> float:
    """The scale that fits a page (in points, as displayed) inside the thumbnail box, keeping its aspect ratio."""
    if page_width <= 0 or page_height <= 0:
        raise PdfError(PdfErrorKind.CORRUPT, "The page has no area.")
    return min(max_width / page_width, max_height / page_height)


def keywords_to_tags(keywords: str | None) -> list[str]:
    if not keywords:
        return []
    seen: dict[str, None] = {}
    for part in keywords.replace(";", ",").split(","):
        tag = part.strip()
        if tag:
            seen.setdefault(tag[:64], None)
    return list(seen)
