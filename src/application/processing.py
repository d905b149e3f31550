"""Background processing of score PDFs: page count and metadata, cover and page thumbnails, file removal.

Every use case here may run twice for one request (the broker delivers at least once) and must leave the
same result. A score deleted while it is processed is left alone, and anything stored for it is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

from application.coalescing import Coalescer
from application.policy import Policy
from application.ports import Clock, ObjectStorage, PdfRenderer, ScratchSpace, UnitOfWork
from domain.pdf import PdfError, RenderPriority
from domain.scores import ProcessingProblem, Score, StoredCover
from domain.uploads import cover_thumbnail_key, page_thumbnail_key

logger = logging.getLogger(__name__)

JPEG = "image/jpeg"
PAGES_PER_BATCH = 16


class ScoreUpdater:
    """Applies one change to the current state of a score in its own short transaction."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def get(self, score_id: UUID) -> Score | None:
        async with self._uow as uow:
            return await uow.scores.get(score_id)

    async def apply(self, score_id: UUID, change: Callable[[Score, datetime], None]) -> Score | None:
        """Run `change(score, now)` on the freshly read score and save it; None when the score is gone."""
        async with self._uow as uow:
            score = await uow.scores.get(score_id, for_update=True)
            if score is None:
                return None
            change(score, self._clock.now())
            await uow.scores.save(score)
            await uow.commit()
            return score

    async def record_cover(self, score_id: UUID, page: int, key: str) -> str | None:
        """Make the stored `key`, rendered from `page`, the cover, unless the score is gone or does not take it
        (Score.takes_cover: another page was chosen since, whose own task makes the cover, or its document was never
        read). Returns the key now of no use: the cover replaced, or `key` itself when it was not recorded (never
        the cover stored now)."""
        async with self._uow as uow:
            score = await uow.scores.get(score_id, for_update=True)
            if score is None:
                return key
            if not score.takes_cover(page):
                return None if score.cover.stored is not None and score.cover.stored.key == key else key
            replaced = score.record_cover_thumbnail(StoredCover(key, page), self._clock.now())
            await uow.scores.save(score)
            await uow.commit()
            return replaced


class ThumbnailWriter:
    """Renders a page, stores the JPEG and records it; a render failure is recorded, not raised."""

    def __init__(self, renderer: PdfRenderer, storage: ObjectStorage, updater: ScoreUpdater, clock: Clock) -> None:
        self._renderer = renderer
        self._storage = storage
        self._updater = updater
        self._clock = clock

    async def cover(self, score: Score, path: Path, page: int, priority: RenderPriority = RenderPriority.COVER) -> None:
        try:
            jpeg = await self._renderer.render_thumbnail(path, page, owner=score.user_id, priority=priority)
        except PdfError as error:
            await self._updater.apply(score.id, _cover_failed(error, page))
            return
        except ValueError:
            # The page was asked for before the page count was known and does not exist: nothing to render,
            # and nothing a retry could change.
            logger.warning("score %s has no page %d; no cover rendered", score.id, page)
            return
        # The page's own key: a cover made again (a task run twice, or taken over from a worker that died after
        # storing it) replaces the object instead of leaving one behind.
        key = cover_thumbnail_key(score.user_id, score.upload_id, f"p{page}")
        await self._storage.put(key, jpeg, JPEG)
        unused = await self._updater.record_cover(score.id, page, key)
        if unused is not None:
            await self._storage.delete(unused)

    async def pages(self, score: Score, path: Path, pages: Sequence[int], time_limit_seconds: float) -> bool:
        """Renders batch after batch, the next while the current one is stored, so storing never idles the renderer.

        Starts no batch after `time_limit_seconds`; False when pages were left for that reason.
        """
        deadline = self._clock.now() + timedelta(seconds=time_limit_seconds)
        batches = [pages[start : start + PAGES_PER_BATCH] for start in range(0, len(pages), PAGES_PER_BATCH)]
        upcoming: asyncio.Task[dict[int, bytes | Exception]] | None = None
        try:
            for index, batch in enumerate(batches):
                results = await (upcoming or self._render_pages(score, path, batch))
                upcoming = None
                more = index + 1 < len(batches)
                out_of_time = self._clock.now() >= deadline
                if more and not out_of_time:
                    upcoming = asyncio.create_task(self._render_pages(score, path, batches[index + 1]))
                if not await self._store(score, results):
                    return True
                if more and out_of_time:
                    return False
        except PdfError as error:  # the document cannot be rendered at all: later batches would meet it too
            await self._updater.apply(score.id, _fail_with(error))
        except asyncio.CancelledError:
            if upcoming is not None:
                upcoming.cancel()  # shutting down: no one will store that batch
            raise
        finally:
            if upcoming is not None:
                # Stopping early (score deleted, storage failing) lets a started batch finish rather than
                # killing render processes mid-page; its pages are dropped.
                with contextlib.suppress(Exception):
                    await upcoming
        return True

    async def _render_pages(self, score: Score, path: Path, pages: Sequence[int]) -> dict[int, bytes | Exception]:
        return await self._renderer.render_thumbnails(path, pages, owner=score.user_id, priority=RenderPriority.PAGES)

    async def _store(self, score: Score, results: dict[int, bytes | Exception]) -> bool:
        """Store and record one batch; False when the score is gone (and nothing of the batch is kept)."""
        stored: list[int] = []
        for page, result in sorted(results.items()):
            if isinstance(result, PdfError):
                await self._updater.apply(score.id, _fail_with(result, page))
            elif isinstance(result, Exception):
                raise result
            else:
                await self._storage.put(page_thumbnail_key(score.user_id, score.upload_id, page), result, JPEG)
                stored.append(page)
        if await self._updater.apply(score.id, _record_pages(stored)) is None:
            for page in stored:
                await self._storage.delete(page_thumbnail_key(score.user_id, score.upload_id, page))
            return False
        return True


def _record_pages(pages: list[int]) -> Callable[[Score, datetime], None]:
    def change(score: Score, now: datetime) -> None:
        for page in pages:
            score.record_page_thumbnail(page, now)

    return change


def _fail_with(error: PdfError, page: int | None = None) -> Callable[[Score, datetime], None]:
    return lambda score, now: score.fail_with(error, now, page)


def _end_run_failed(error: PdfError) -> Callable[[Score, datetime], None]:
    def change(score: Score, now: datetime) -> None:
        score.page_thumbnails.end_run()
        score.fail_with(error, now)

    return change


def _with_checksum(checksum: str, change: Callable[[Score, datetime], None]) -> Callable[[Score, datetime], None]:
    def both(score: Score, now: datetime) -> None:
        score.record_checksum(checksum)
        change(score, now)

    return both


def _cover_failed(error: PdfError, page: int) -> Callable[[Score, datetime], None]:
    return lambda score, now: score.fail_cover(error, page, now)


class ProcessScore:
    """Read the PDF's page count and metadata (prefilling empty details), then render the cover (page 1 unless
    the musician chose another) if the score has none of that page.

    A document that cannot be read makes the score `failed` with a sentence saying why; a cover that
    cannot be rendered leaves it `ready` with the reason in `processing_error`.
    """

    def __init__(
        self,
        updater: ScoreUpdater,
        scratch: ScratchSpace,
        renderer: PdfRenderer,
        thumbnails: ThumbnailWriter,
        runs: Coalescer,
    ) -> None:
        self._updater = updater
        self._scratch = scratch
        self._renderer = renderer
        self._thumbnails = thumbnails
        self._runs = runs

    async def __call__(self, score_id: UUID) -> None:
        # Refreshes asked for while one runs are merged into one more run after it.
        await self._runs.run(("process", score_id), lambda: self._process(score_id))

    async def _process(self, score_id: UUID) -> None:
        score = await self._updater.apply(score_id, Score.start_processing)
        if score is None:
            return
        async with self._scratch.local_copy(score.storage_key) as path:
            # Hashed from the copy the renderer reads anyway: the stored bytes are downloaded once.
            checksum = await self._scratch.sha256(path)
            # A score never read goes before covers asked for again: one user's flood of those cannot keep another's
            # new score waiting for more than the render already under way.
            first_look = score.processing.page_count is None
            priority = RenderPriority.FIRST_LOOK if first_look else RenderPriority.COVER
            try:
                info = await self._renderer.inspect(path, owner=score.user_id, priority=priority)
            except PdfError as error:
                await self._updater.apply(score_id, _with_checksum(checksum, _fail_with(error)))
                return
            read = _with_checksum(checksum, lambda s, now: s.record_info(info, now, finished=False))
            score = await self._updater.apply(score_id, read)
            if score is not None:
                # A cover of the chosen page stays; none yet, or one left from before a choice whose own rendering
                # gave up, is made now.
                if not score.cover.is_current:
                    await self._thumbnails.cover(score, path, score.cover.page, priority)
                await self._updater.apply(score_id, Score.finish_processing)


class GenerateThumbnail:
    """Render the cover thumbnail from the page chosen last (the task's `page`, unless another was chosen since).

    Requests for a score's cover that arrive while one renders are merged into one more run after it, which
    renders the choice of the last of them. A score whose document was never read is processed instead
    (ProcessScore: page count and metadata, then the chosen cover), so that no cover shows before its page count:
    `thumbnail_ready` never turns true while a score is `pending`.
    """

    def __init__(
        self,
        updater: ScoreUpdater,
        scratch: ScratchSpace,
        thumbnails: ThumbnailWriter,
        process: ProcessScore,
        runs: Coalescer,
    ) -> None:
        self._updater = updater
        self._scratch = scratch
        self._thumbnails = thumbnails
        self._process = process
        self._runs = runs

    async def __call__(self, score_id: UUID, page: int) -> None:
        score = await self._updater.get(score_id)
        if score is None or score.cover.page != page:
            return  # gone, or another page was chosen since, whose own task renders it
        if score.processing.page_count is None:
            await self._process(score_id)
            return
        await self._runs.run(("cover", score_id), lambda: self._render(score_id))

    async def _render(self, score_id: UUID) -> None:
        score = await self._updater.get(score_id)
        if score is None:
            return
        page = score.cover.page
        if score.processing.page_count is None or page > score.processing.page_count:
            return
        async with self._scratch.local_copy(score.storage_key) as path:
            await self._thumbnails.cover(score, path, page)


class GenerateAllThumbnails:
    """Thumbnails of every page up to the policy's cap, skipping pages already done; progress is visible.

    A run stops after the policy's time limit, so that one document cannot keep a worker for hours; the next run
    goes on from there.
    """

    def __init__(
        self,
        updater: ScoreUpdater,
        scratch: ScratchSpace,
        renderer: PdfRenderer,
        thumbnails: ThumbnailWriter,
        policy: Policy,
        runs: Coalescer,
    ) -> None:
        self._updater = updater
        self._scratch = scratch
        self._renderer = renderer
        self._thumbnails = thumbnails
        self._cap = policy.max_page_thumbnails
        self._seconds = policy.page_thumbnails_seconds
        self._runs = runs

    async def __call__(self, score_id: UUID) -> None:
        # Requests that arrive while a run goes are merged into one more run after it (which skips pages done).
        await self._runs.run(("pages", score_id), lambda: self._run(score_id))

    async def _run(self, score_id: UUID) -> None:
        score = await self._updater.get(score_id)
        if score is None:
            return
        async with self._scratch.local_copy(score.storage_key) as path:
            if score.processing.page_count is None:
                try:
                    info = await self._renderer.inspect(path, owner=score.user_id, priority=RenderPriority.PAGES)
                except PdfError as error:
                    await self._updater.apply(score_id, _end_run_failed(error))
                    return
                score = await self._updater.apply(score_id, lambda s, now: s.record_info(info, now))
                if score is None:
                    return
            page_count = score.processing.page_count or 0
            todo = [page for page in range(1, min(page_count, self._cap) + 1) if not score.page_thumbnails.has(page)]
            finished = await self._thumbnails.pages(score, path, todo, self._seconds)

        def end_run(score: Score, now: datetime) -> None:
            score.page_thumbnails.end_run()
            # Last, so that a page's render error does not hide why pages are missing.
            if not finished:
                score.note_time_limit(self._seconds, now)
            elif page_count > self._cap:
                score.note_page_limit(self._cap, now)
            else:
                score.forget_problem(ProcessingProblem.TIME_LIMIT, now)

        await self._updater.apply(score_id, end_run)


class MarkProcessingFailed:
    """The last retry of a task failed for a reason other than the document: say so on the score (Score.give_up:
    a ready score stays ready, one never read is pending again for the sweep, a failed one keeps its verdict)."""

    def __init__(self, updater: ScoreUpdater) -> None:
        self._updater = updater

    async def __call__(self, score_id: UUID) -> None:
        await self._updater.apply(score_id, Score.give_up)


class MarkPageThumbnailsFailed:
    """The last retry of a page-thumbnails run failed (Score.give_up_page_thumbnails: a score read before only says
    so; one never read is treated as by MarkProcessingFailed)."""

    def __init__(self, updater: ScoreUpdater) -> None:
        self._updater = updater

    async def __call__(self, score_id: UUID) -> None:
        await self._updater.apply(score_id, Score.give_up_page_thumbnails)


class DeleteFiles:
    """Remove stored objects of a deleted score; removing what is already gone is fine."""

    def __init__(self, storage: ObjectStorage) -> None:
        self._storage = storage

    async def __call__(self, keys: Sequence[str], prefix: str | None) -> None:
        for key in keys:
            await self._storage.delete(key)
        if prefix:
            await self._storage.delete_prefix(prefix)
