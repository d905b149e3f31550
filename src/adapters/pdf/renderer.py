"""PdfRenderer on PyMuPDF; every MuPDF call runs in a long-lived, killable worker process."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self
from uuid import UUID

from domain.pdf import THUMBNAIL_MAX_HEIGHT, THUMBNAIL_MAX_WIDTH, PdfError, PdfErrorKind, PdfInfo, RenderPriority

from .messages import info_from_header, raise_for_error
from .pool import WorkerPool
from .process import WorkerDied, WorkerTimeout
from .protocol import Frame, Header

# A worker renders a job's pages back to back instead of waiting for a round trip after each one;
# jobs stay small enough that every worker gets several, and all stay busy to the end of a document.
_MAX_PAGES_PER_JOB = 4
_MIN_JOBS_PER_WORKER = 2


class PymupdfRenderer:
    """Inspects PDFs and renders fitted JPEG thumbnails in `processes` worker processes, started by `start()`
    or on first use.

    PyMuPDF is not thread-safe and hostile files can hang or crash it, so every inspect and every page runs
    in a worker process with a timeout; a worker that times out or dies is killed and replaced, and that
    inspect or page fails: inspect with CORRUPT, a page with RENDER_TIMEOUT (timeout) or RENDER_LIMIT
    (crash, memory, MuPDF error).
    A page number outside 1..page_count raises ValueError: asking for it is the caller's mistake.
    A file that cannot be opened at all raises OSError (e.g. FileNotFoundError).
    Workers are limited to `memory_limit_bytes` of address space (None: no limit).
    Safe for concurrent callers on one event loop. Call `close()` (or use `async with`) to stop the workers.
    """

    def __init__(
        self,
        *,
        processes: int = 2,
        render_timeout_seconds: float = 10.0,
        max_output_pixels: int = THUMBNAIL_MAX_WIDTH * THUMBNAIL_MAX_HEIGHT * 4,
        max_page_points: float = 14400 * 100,
        inspect_timeout_seconds: float = 30.0,
        memory_limit_bytes: int | None = 320 << 20,
    ) -> None:
        self._pool = WorkerPool(processes, memory_limit_bytes)
        self._render_timeout = render_timeout_seconds
        self._inspect_timeout = inspect_timeout_seconds
        self._max_output_pixels = max_output_pixels
        self._max_page_points = max_page_points

    @property
    def worker_pids(self) -> list[int]:
        return self._pool.pids

    def start(self) -> None:
        """Start the worker processes now, so the first document does not wait for them."""
        self._pool.start()

    async def inspect(
        self, path: Path, *, owner: UUID | None = None, priority: RenderPriority = RenderPriority.COVER
    ) -> PdfInfo:
        request: Header = {"op": "inspect", "path": _absolute(path)}
        replies: list[Frame] = []
        try:
            await self._pool.call(request, [self._inspect_timeout], replies.append, owner=owner, priority=priority)
        except WorkerTimeout:
            raise PdfError(PdfErrorKind.CORRUPT, "The PDF took too long to read.") from None
        except WorkerDied:
            raise PdfError(PdfErrorKind.CORRUPT, "The PDF could not be read: it crashed the reader.") from None
        header, _ = replies[0]
        raise_for_error(header)
        return info_from_header(header)

    async def render_thumbnail(
        self, path: Path, page: int, *, owner: UUID | None = None, priority: RenderPriority = RenderPriority.COVER
    ) -> bytes:
        if page < 1:
            raise ValueError(f"Page numbers start at 1, not {page}.")
        result = (await self.render_thumbnails(path, [page], owner=owner, priority=priority))[page]
        if isinstance(result, Exception):
            raise result
        return result

    async def render_thumbnails(
        self,
        path: Path,
        pages: Sequence[int],
        *,
        owner: UUID | None = None,
        priority: RenderPriority = RenderPriority.PAGES,
    ) -> dict[int, bytes | Exception]:
        """Each page's JPEG or the exception that page raised, spread over all workers; every job waits for a free
        worker in its turn among owners and priorities (see WorkerPool).

        Raises PdfError when the document cannot be opened in time (or crashes the worker opening it):
        no page would get further, so the caller should not ask again.
        """
        wanted = list(dict.fromkeys(pages))
        per_job = max(1, min(_MAX_PAGES_PER_JOB, len(wanted) // (_MIN_JOBS_PER_WORKER * self._pool.size)))
        jobs = deque(wanted[start : start + per_job] for start in range(0, len(wanted), per_job))
        results: dict[int, bytes | Exception] = {}
        unopenable: list[PdfError] = []

        async def take_jobs() -> None:
            while jobs and not unopenable:
                error = await self._render_job(path, jobs.popleft(), results, owner, priority)
                if error is not None:
                    unopenable.append(error)

        await asyncio.gather(*(take_jobs() for _ in range(min(self._pool.size, len(jobs)))))
        if unopenable:
            raise unopenable[0]
        return {page: results[page] for page in wanted}

    async def _render_job(
        self,
        path: Path,
        pages: list[int],
        results: dict[int, bytes | Exception],
        owner: UUID | None,
        priority: RenderPriority,
    ) -> PdfError | None:
        """Render `pages` in one worker; a page that times out or crashes it fails alone, the rest go on.

        The worker opens the document first, within the inspect timeout; each page then has the render timeout.
        Returns the error when the document could not be opened in time (or crashed the worker opening it).
        """
        remaining = deque(pages)
        opened = False

        def on_reply(reply: Frame) -> None:
            nonlocal opened
            if not opened:
                opened = True
                return
            header, jpeg = reply
            page = remaining.popleft()
            try:
                raise_for_error(header)
            except Exception as exc:
                results[page] = exc
            else:
                results[page] = jpeg

        while remaining:
            opened = False
            request: Header = {
                "op": "render",
                "path": _absolute(path),
                "pages": list(remaining),
                "max_output_pixels": self._max_output_pixels,
                "max_page_points": self._max_page_points,
            }
            time_limits = [self._inspect_timeout] + [self._render_timeout] * len(remaining)
            try:
                await self._pool.call(request, time_limits, on_reply, owner=owner, priority=priority)
            except (WorkerTimeout, WorkerDied) as exc:
                if not opened:  # the document itself is the problem: every page would meet it
                    return _opening_error(exc)
                results[remaining.popleft()] = _rendering_error(exc)
            except Exception as exc:  # closed, a worker that cannot start or never got the job: no page is rendered
                results.update(dict.fromkeys(remaining, exc))
                return None
        return None

    async def close(self) -> None:
        self._pool.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


def _absolute(path: Path) -> str:
    """Workers resolve paths on their own, so relative ones are anchored here."""
    return str(Path(path).absolute())


def _opening_error(exc: WorkerTimeout | WorkerDied) -> PdfError:
    if isinstance(exc, WorkerTimeout):
        return PdfError(PdfErrorKind.RENDER_TIMEOUT, "The PDF took too long to open.")
    return PdfError(PdfErrorKind.RENDER_LIMIT, "The PDF crashed the renderer while opening.")


def _rendering_error(exc: WorkerTimeout | WorkerDied) -> PdfError:
    if isinstance(exc, WorkerTimeout):
        return PdfError(PdfErrorKind.RENDER_TIMEOUT)
    return PdfError(PdfErrorKind.RENDER_LIMIT, "The page crashed the renderer.")
