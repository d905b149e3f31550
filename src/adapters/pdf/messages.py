"""What travels in frame headers: job requests, results and errors, on both sides of the pipe."""

from __future__ import annotations

import dataclasses

from domain.pdf import PdfError, PdfErrorKind, PdfInfo, PdfMetadata

from .protocol import Header


class WorkerBug(RuntimeError):
    """The worker failed in a way that says nothing about the document."""


def info_to_header(info: PdfInfo) -> Header:
    return {"page_count": info.page_count, "metadata": dataclasses.asdict(info.metadata)}


def info_from_header(header: Header) -> PdfInfo:
    fields = {field.name for field in dataclasses.fields(PdfMetadata)}
    metadata = {name: value for name, value in header["metadata"].items() if name in fields}
    return PdfInfo(page_count=int(header["page_count"]), metadata=PdfMetadata(**metadata))


def error_to_header(exc: Exception) -> Header:
    if isinstance(exc, PdfError):
        return {"error": "pdf", "kind": exc.kind.value, "detail": exc.detail}
    if isinstance(exc, ValueError):
        return {"error": "value", "message": str(exc)}
    if isinstance(exc, OSError):
        return {"error": "os", "errno": exc.errno, "strerror": exc.strerror, "filename": exc.filename}
    return {"error": "bug", "message": f"{type(exc).__name__}: {exc}"}


def raise_for_error(header: Header) -> None:
    """Re-raise, in the renderer, the error a worker reported; do nothing for a result."""
    match header.get("error"):
        case None:
            return
        case "pdf":
            raise PdfError(PdfErrorKind(header["kind"]), header.get("detail"))
        case "value":
            raise ValueError(header["message"])
        case "os":
            # OSError(errno, ...) builds the matching subclass, e.g. FileNotFoundError.
            raise OSError(header["errno"], header["strerror"], header["filename"])
        case _:
            raise WorkerBug(header.get("message", "The PDF worker failed."))
