"""Rendering one page as a fitted JPEG thumbnail (runs inside a worker process)."""

# PyMuPDF ships py.typed but leaves much of its API unannotated.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import pymupdf
from PIL import Image

from domain.pdf import THUMBNAIL_JPEG_QUALITY, PdfError, PdfErrorKind, fitted_zoom


@dataclass(frozen=True)
class RenderLimits:
    max_output_pixels: int
    max_page_points: float


def render_thumbnail(document: pymupdf.Document, page_number: int, limits: RenderLimits) -> bytes:
    """JPEG of the 1-based page fitted in the thumbnail box; ValueError when the page does not exist."""
    if not 1 <= page_number <= document.page_count:
        raise ValueError(f"Page {page_number} is out of range 1..{document.page_count}.")
    try:
        page = document.load_page(page_number - 1)
        width, height = page.rect.width, page.rect.height
    except Exception as exc:
        raise PdfError(PdfErrorKind.RENDER_LIMIT, f"The page could not be read: {exc}") from exc
    # A render error only costs this thumbnail, so a degenerate page is not reported as a corrupt document.
    if not 0 < width <= limits.max_page_points or not 0 < height <= limits.max_page_points:
        raise PdfError(PdfErrorKind.RENDER_LIMIT)
    zoom = fitted_zoom(width, height)
    if math.ceil(width * zoom) * math.ceil(height * zoom) > limits.max_output_pixels:
        raise PdfError(PdfErrorKind.RENDER_LIMIT)
    try:
        return _fitted_jpeg(page, zoom)
    except Exception as exc:
        raise PdfError(PdfErrorKind.RENDER_LIMIT, f"The page could not be rendered: {exc}") from exc


def _fitted_jpeg(page: pymupdf.Page, zoom: float) -> bytes:
    """Pages without colour (nearly all sheet music) render and encode as grey: one channel, same pixels."""
    display_list = page.get_displaylist()
    mode, colorspace = ("RGB", pymupdf.csRGB) if _has_colour(display_list) else ("L", pymupdf.csGRAY)
    pixmap = display_list.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), colorspace=colorspace, alpha=False)
    image = Image.frombytes(mode, (pixmap.width, pixmap.height), pixmap.samples)
    output = io.BytesIO()
    image.save(output, "JPEG", quality=THUMBNAIL_JPEG_QUALITY)
    return output.getvalue()


def _has_colour(display_list: pymupdf.DisplayList) -> bool:
    """MuPDF's test device: any non-grey colour, or an image in a colour space, counts; it stops at the first."""
    mupdf = pymupdf.mupdf
    outcome = mupdf.ll_fz_new_test_device_outparams()
    device = mupdf.FzDevice(mupdf.ll_fz_new_test_device_outparams_fn(0.0, 0, None, outcome))
    everywhere = mupdf.FzRect(mupdf.FzRect.Fixed_INFINITE)
    mupdf.fz_run_display_list(display_list.this, device, mupdf.FzMatrix(), everywhere, mupdf.FzCookie())
    mupdf.fz_close_device(device)
    return bool(outcome.is_color)
