"""A worker process: serves one inspect or render job at a time over its stdin and stdout.

Started by the renderer as ``python -m adapters.pdf.worker [--memory-limit BYTES]``; exits when stdin closes.
"""

# PyMuPDF ships py.typed but leaves much of its API unannotated.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import resource
import select
import signal
from collections.abc import Iterator

import pymupdf

from domain.pdf import PdfError

from .document import open_pdf, read_info
from .messages import error_to_header, info_to_header
from .protocol import Frame, FrameBuffer, Header, read_frame, write_frame
from .thumbnail import RenderLimits, render_thumbnail

_IDLE_SECONDS = 2.0
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class DocumentCache:
    """Keeps the last document open: a file's thumbnails come in a row, and reopening costs a third per page."""

    def __init__(self) -> None:
        self._key: tuple[object, ...] | None = None
        self._document: pymupdf.Document | None = None

    def open(self, path: str) -> pymupdf.Document:
        stat = os.stat(path)
        key = (path, stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if self._document is None or key != self._key:
            self.close()
            self._document = open_pdf(path)
            self._key = key
        return self._document

    def close(self) -> None:
        if self._document is not None:
            self._document.close()
            self._document = None
            self._key = None
            pymupdf.TOOLS.store_shrink(100)


def handle(request: Header, documents: DocumentCache) -> Frame:
    try:
        document = documents.open(request["path"])
        if request["op"] == "open":
            return {"opened": True}, b""
        if request["op"] == "inspect":
            return info_to_header(read_info(document)), b""
        limits = RenderLimits(request["max_output_pixels"], request["max_page_points"])
        return {}, render_thumbnail(document, request["page"], limits)
    except (PdfError, ValueError) as exc:
        # Says what is wrong with the file or one page of it: an open document stays good for its other pages.
        return error_to_header(exc), b""
    except Exception as exc:
        documents.close()
        return error_to_header(exc), b""
    finally:
        pymupdf.TOOLS.reset_mupdf_warnings()


def serve(requests: int, replies: int) -> None:
    documents = DocumentCache()
    frames = FrameBuffer()
    write_frame(replies, {"ready": True})
    while True:
        if not select.select([requests], [], [], _IDLE_SECONDS)[0]:
            documents.close()  # also lets go of files the caller deletes after the job
            continue
        frame = read_frame(requests, frames)
        if frame is None:
            return
        for reply in replies_to(frame[0], documents):
            write_frame(replies, *reply)


def replies_to(request: Header, documents: DocumentCache) -> Iterator[Frame]:
    """One reply to an inspect; to a render, one once the document is open, then one per page, back to back."""
    if request["op"] != "render":
        yield handle(request, documents)
        return
    # Opening a large or damaged file can take long: it is done once, before the pages' time limits start.
    opened = handle({**request, "op": "open"}, documents)
    yield opened
    for page in request["pages"]:
        yield opened if "error" in opened[0] else handle({**request, "page": page}, documents)


def die_with(parent: int) -> None:
    """Be killed when the renderer's process ends: a killed worker leaves nobody to enforce a page's time limit,
    and without this the render would run to its end however long that takes."""
    with contextlib.suppress(OSError, AttributeError):  # Linux only; elsewhere the next reply finds the pipe gone
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it ended before the signal was asked for
        os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory-limit", type=int, default=None)
    parser.add_argument("--parent", type=int, default=None)
    arguments = parser.parse_args()
    if arguments.parent is not None:
        die_with(arguments.parent)
    memory_limit = arguments.memory_limit
    if memory_limit is not None:
        # An allocation past the limit fails inside MuPDF (a render error) instead of inviting the OOM killer.
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    # Ctrl-C in a terminal, and SIGTERM from a service manager, reach the whole process group; the renderer
    # decides when workers stop (it closes their stdin, or kills them), so a page being rendered is not lost.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.mupdf_display_warnings(False)
    # PyMuPDF prints its messages to stdout, so replies get a private copy and fd 1 goes to stderr.
    replies = os.dup(1)
    os.dup2(2, 1)
    with contextlib.suppress(BrokenPipeError):  # the renderer is gone (killed with its server): none to answer
        serve(requests=0, replies=replies)


if __name__ == "__main__":
    main()
