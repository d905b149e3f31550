"""Opening untrusted files as PDFs and reading their facts (runs inside a worker process)."""

# PyMuPDF ships py.typed but leaves much of its API unannotated.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import os
import re

import pymupdf

from domain.pdf import PdfError, PdfErrorKind, PdfInfo, PdfMetadata

from .dates import pdf_date_to_iso

_MAGIC = b"%PDF-"
_MAGIC_WINDOW = 1024
_END = b"%%EOF"
_END_WINDOW = 1024  # where readers look for the end marker
_METADATA_MAX_CHARS = 1000
_REFERENCE = re.compile(r"(\d+)\s+\d+\s+R")
# Files that carry "%PDF-" in their first kilobyte yet begin as something else: PNG, JPEG, GIF, ZIP (EPUB,
# comic archives, Office files), TIFF, RIFF, OLE (old Office files), and markup (HTML, XML, SVG).
_OTHER_FORMATS = (
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"PK\x03\x04",
    b"II*\x00",
    b"MM\x00*",
    b"RIFF",
    b"\xd0\xcf\x11\xe0",
    b"<",
)


def open_pdf(path: str) -> pymupdf.Document:
    """Open `path` only if it is a readable PDF with pages; OSError when the file itself can't be read."""
    with open(path, "rb") as file:
        head = file.read(_MAGIC_WINDOW)
        file.seek(max(0, file.seek(0, os.SEEK_END) - _END_WINDOW))
        ends_whole = _END in file.read()
    if not head:
        raise PdfError(PdfErrorKind.EMPTY)
    # MuPDF sniffs content and happily opens images or HTML named .pdf, even with filetype="pdf".
    if _MAGIC not in head:
        raise PdfError(PdfErrorKind.NOT_PDF)
    try:
        document = pymupdf.open(path, filetype="pdf")
    except pymupdf.EmptyFileError as exc:
        raise PdfError(PdfErrorKind.EMPTY) from exc
    except Exception as exc:
        # Encryption MuPDF cannot even try to open (certificates: Adobe.PubSec) only shows in its message.
        if "encryption" in f"{exc} {exc.__cause__}":
            raise PdfError(PdfErrorKind.ENCRYPTED) from exc
        raise PdfError(_not_pdf_or(PdfErrorKind.CORRUPT, head)) from exc
    try:
        _check(document, ends_whole)
    except PdfError as exc:
        document.close()
        if exc.kind in (PdfErrorKind.CORRUPT, PdfErrorKind.NO_PAGES):
            kind = _not_pdf_or(exc.kind, head)
            raise PdfError(kind, exc.detail if kind is exc.kind else None) from exc
        raise
    except BaseException:
        document.close()
        raise
    return document


def _not_pdf_or(kind: PdfErrorKind, head: bytes) -> PdfErrorKind:
    """No PDF could be read from the file: it is not one if it begins as another format does."""
    return PdfErrorKind.NOT_PDF if head.lstrip().startswith(_OTHER_FORMATS) else kind


def _check(document: pymupdf.Document, ends_whole: bool) -> None:
    if not document.is_pdf:
        raise PdfError(PdfErrorKind.NOT_PDF)
    if document.needs_pass:
        raise PdfError(PdfErrorKind.ENCRYPTED)
    try:
        page_count = document.page_count
    except Exception as exc:
        raise PdfError(PdfErrorKind.CORRUPT) from exc
    if page_count < 1:
        # A file MuPDF had to repair to find no pages in has lost its page tree: damaged, not a file without pages.
        raise PdfError(PdfErrorKind.CORRUPT if document.is_repaired else PdfErrorKind.NO_PAGES)
    # MuPDF repairs a file cut short and shows the pages whose content was cut off blank.
    if document.is_repaired and not ends_whole and _lacks_page_content(document):
        raise PdfError(PdfErrorKind.CORRUPT, "Pages refer to content the file does not hold: it was cut short.")


def _lacks_page_content(document: pymupdf.Document) -> bool:
    """A page, or a page's content stream, is missing or unreadable."""
    objects = document.xref_length()
    try:
        for number in range(document.page_count):
            kind, value = document.xref_get_key(document.page_xref(number), "Contents")
            if kind not in ("xref", "array"):
                continue  # no content: a blank page
            for xref in map(int, _REFERENCE.findall(value)):
                if not 0 < xref < objects or document.xref_object(xref) == "null":
                    return True
    except Exception:
        return True
    return False


def read_info(document: pymupdf.Document) -> PdfInfo:
    try:
        raw = document.metadata or {}
    except Exception as exc:
        raise PdfError(PdfErrorKind.CORRUPT) from exc
    metadata = PdfMetadata(
        title=_text(raw.get("title")),
        author=_text(raw.get("author")),
        subject=_text(raw.get("subject")),
        keywords=_text(raw.get("keywords")),
        creator=_text(raw.get("creator")),
        producer=_text(raw.get("producer")),
        creation_date=pdf_date_to_iso(_text(raw.get("creationDate"))),
        modification_date=pdf_date_to_iso(_text(raw.get("modDate"))),
    )
    return PdfInfo(page_count=document.page_count, metadata=metadata)


def _text(value: object) -> str | None:
    """A metadata string fit for storage: no NULs or lone surrogates, trimmed, bounded; None when blank."""
    if not isinstance(value, str):
        return None
    # Pairs up surrogate halves and replaces lone ones, which UTF-8 encoders (and Postgres) reject.
    text = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    text = text.replace("\x00", "").strip()
    return text[:_METADATA_MAX_CHARS] or None
