"""The musician's library: create, read, list, edit and delete scores, and ask for processing."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from application.aftercare import UploadAftercare
from application.policy import Policy
from application.ports import (
    Clock,
    ObjectStorage,
    Page,
    RateLimiter,
    ScoreListing,
    ScoreQuery,
    TaskQueue,
    UnitOfWork,
)
from application.uploads import UploadVerifier, owned_upload
from domain.errors import NotReady, ScoreNotFound, TooManyRequests, ValidationError
from domain.scores import DetailChanges, Details, ProcessingStatus, Score
from domain.uploads import page_thumbnail_key

logger = logging.getLogger(__name__)

ORDERINGS = ("title", "-title", "created_at", "-created_at", "composer", "-composer")


async def owned_score(
    uow: UnitOfWork, user_id: UUID, score_id: UUID, *, for_update: bool = False, in_trash: bool = False
) -> Score:
    """The user's score in the library (or, with in_trash, in the trash); anything else is not found."""
    score = await uow.scores.get(score_id, for_update=for_update)
    if score is None or score.user_id != user_id or score.in_trash != in_trash:
        raise ScoreNotFound()
    return score


class CreateScore:
    """Make a score of a confirmed upload (confirming a pending one first) and start its processing.

    An upload makes at most one score. Processing runs in the background; if it cannot even be queued,
    the score is still created and the stuck-processing sweep queues it later.
    """

    def __init__(self, uow: UnitOfWork, verifier: UploadVerifier, queue: TaskQueue, clock: Clock) -> None:
        self._uow = uow
        self._verifier = verifier
        self._queue = queue
        self._clock = clock

    async def __call__(self, user_id: UUID, upload_id: UUID, details: DetailChanges) -> Score:
        details = details.cleaned()
        if not isinstance(details.title, str):
            raise ValidationError("A title is required.")
        stored = await self._verifier.look(self._uow, user_id, upload_id)
        async with self._uow as uow:
            upload = await owned_upload(uow, user_id, upload_id)
            upload.ensure_available_for_score(self._clock.now())
            await self._verifier.confirm(uow, upload, stored)
            now = self._clock.now()
            score = Score(
                id=uuid4(),
                user_id=user_id,
                upload_id=upload.id,
                details=Details(details.title),
                original_filename=upload.filename,
                size_bytes=upload.size_bytes,
                storage_key=upload.storage_key,
                created_at=now,
                updated_at=now,
            )
            score.update_details(details, now)
            upload.score_id = score.id
            await uow.scores.add(score)
            await uow.uploads.save(upload)
            await uow.commit()
        try:
            await self._queue.process_score(score.id)
        except Exception:
            logger.exception("could not queue processing of score %s; the sweep will retry", score.id)
        return score


class GetScore:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, user_id: UUID, score_id: UUID) -> Score:
        async with self._uow.autocommit() as uow:
            return await owned_score(uow, user_id, score_id)


class ListScores:
    """Search the library: text on title and composer, filters, one of the orderings, stable pages."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, query: ScoreQuery) -> Page[ScoreListing]:
        if query.ordering not in ORDERINGS:
            raise ValidationError(f"ordering must be one of: {', '.join(ORDERINGS)}.")
        async with self._uow.autocommit() as uow:
            return await uow.scores.search(query)


class UpdateScore:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, user_id: UUID, score_id: UUID, changes: DetailChanges) -> Score:
        changes = changes.cleaned()
        async with self._uow as uow:
            score = await owned_score(uow, user_id, score_id, for_update=True)
            score.update_details(changes, self._clock.now())
            await uow.scores.save(score)
            await uow.commit()
        return score


class PermanentDeletion:
    """Delete a score for good: its quota is freed at once, it leaves every setlist, its files go in the background.

    Each deletion is its own transaction, which locks the score's setlists before the score, as adding to a setlist
    does.
    """

    def __init__(self, uow: UnitOfWork, aftercare: UploadAftercare, clock: Clock) -> None:
        self._uow = uow
        self._aftercare = aftercare
        self._clock = clock

    async def __call__(self, user_id: UUID, score_id: UUID, *, in_trash: bool) -> None:
        async with self._uow as uow:
            await owned_score(uow, user_id, score_id, in_trash=in_trash)
            setlists = await uow.setlists.containing_score(score_id)
            # Locked after its setlists; a concurrent delete or restore may have won meanwhile.
            score = await owned_score(uow, user_id, score_id, for_update=True, in_trash=in_trash)
            for setlist in setlists:
                setlist.remove_score(score.id)
                setlist.updated_at = self._clock.now()
                await uow.setlists.save(setlist)
            upload = await uow.uploads.get(score.upload_id, for_update=True)
            if upload is not None:
                upload.mark_deleted()
                await uow.uploads.save(upload)
            await uow.scores.delete(score)
            await uow.commit()
        await self._aftercare.remove_all_files(user_id, score.upload_id)
        if upload is not None:
            await self._aftercare.release(upload)


class DeleteScore:
    """Move a score to the trash: out of the library and its setlists' reads, its bytes still counted, until it is
    restored or deleted for good. Without a trash (a retention of 0 days) it is deleted for good at once."""

    def __init__(self, uow: UnitOfWork, delete_permanently: PermanentDeletion, clock: Clock, policy: Policy) -> None:
        self._uow = uow
        self._delete_permanently = delete_permanently
        self._clock = clock
        self._keeps_trash = policy.trash_retention_days > 0

    async def __call__(self, user_id: UUID, score_id: UUID) -> None:
        if not self._keeps_trash:
            await self._delete_permanently(user_id, score_id, in_trash=False)
            return
        async with self._uow as uow:
            score = await owned_score(uow, user_id, score_id, for_update=True)
            score.move_to_trash(self._clock.now())
            await uow.scores.save(score)
            await uow.commit()


# Asking for background work on one's own score: each records what it asks for, then queues the task. Each counts
# against the user's score_action_rule first, so one user cannot flood the render processes with them.


async def _count_action(limiter: RateLimiter, policy: Policy, user_id: UUID) -> None:
    retry_after = await limiter.acquire(f"score-action:{user_id}", policy.score_action_rule)
    if retry_after is not None:
        raise TooManyRequests("Too many score actions; try again later.", retry_after=retry_after)


class RequestInfoRefresh:
    """Read page count and metadata again. A failed score is pending from now on, so a client polling it waits for
    this run's outcome; if the task cannot be queued, the stuck-score sweep queues it."""

    def __init__(self, uow: UnitOfWork, queue: TaskQueue, clock: Clock, limiter: RateLimiter, policy: Policy) -> None:
        self._uow = uow
        self._queue = queue
        self._clock = clock
        self._limiter = limiter
        self._policy = policy

    async def __call__(self, user_id: UUID, score_id: UUID) -> str:
        await _count_action(self._limiter, self._policy, user_id)
        async with self._uow as uow:
            score = await owned_score(uow, user_id, score_id, for_update=True)
            if score.request_refresh(self._clock.now()):
                await uow.scores.save(score)
                await uow.commit()
        return await self._queue.process_score(score_id)


class RequestCover:
    """A cover made of `page`. The choice is recorded before queuing: a cover task for another page, still running,
    then leaves it alone."""

    def __init__(self, uow: UnitOfWork, queue: TaskQueue, clock: Clock, limiter: RateLimiter, policy: Policy) -> None:
        self._uow = uow
        self._queue = queue
        self._clock = clock
        self._limiter = limiter
        self._policy = policy

    async def __call__(self, user_id: UUID, score_id: UUID, page: int) -> str:
        await _count_action(self._limiter, self._policy, user_id)
        async with self._uow as uow:
            score = await owned_score(uow, user_id, score_id, for_update=True)
            score.choose_cover(page, self._clock.now())
            await uow.scores.save(score)
            await uow.commit()
        return await self._queue.generate_thumbnail(score_id, page)


class RequestPageThumbnails:
    """Thumbnails of every page. Recorded before queuing, so that an in-process task runner that dies with the task
    asks again."""

    def __init__(self, uow: UnitOfWork, queue: TaskQueue, limiter: RateLimiter, policy: Policy) -> None:
        self._uow = uow
        self._queue = queue
        self._limiter = limiter
        self._policy = policy

    async def __call__(self, user_id: UUID, score_id: UUID) -> str:
        await _count_action(self._limiter, self._policy, user_id)
        async with self._uow as uow:
            score = await owned_score(uow, user_id, score_id, for_update=True)
            score.page_thumbnails.request()
            await uow.scores.save(score)
            await uow.commit()
        return await self._queue.generate_all_thumbnails(score_id)


@dataclass(frozen=True)
class DownloadLink:
    url: str
    expires_in: int
    expires_at: datetime


class GetDownloadUrl:
    """A presigned GET for the original PDF, the cover thumbnail or one page's thumbnail."""

    def __init__(self, uow: UnitOfWork, storage: ObjectStorage, policy: Policy) -> None:
        self._uow = uow
        self._storage = storage
        self._expires_in = policy.presign_expiry_seconds

    async def __call__(self, user_id: UUID, score_id: UUID, file_type: str, page: int | None) -> DownloadLink:
        async with self._uow.autocommit() as uow:
            score = await owned_score(uow, user_id, score_id)
        filename: str | None = None
        if file_type == "original":
            key, filename = score.storage_key, score.original_filename
        elif file_type == "thumbnail":
            if score.cover.stored is None:
                raise _not_ready(score, "The cover thumbnail", score.cover_failed)
            key = score.cover.stored.key
        elif file_type == "page_thumbnail":
            if page is None:
                raise ValidationError("page is required for a page thumbnail.")
            score.processing.ensure_page_exists(page)
            if not score.page_thumbnails.has(page):
                raise _not_ready(
                    score, f"The thumbnail of page {page}", score.processing.status is ProcessingStatus.FAILED
                )
            key = page_thumbnail_key(user_id, score.upload_id, page)
        else:
            raise ValidationError("file_type must be original, thumbnail or page_thumbnail.")
        request = await self._storage.presign_download(key, self._expires_in, filename)
        return DownloadLink(request.url, self._expires_in, request.expires_at)


def _not_ready(score: Score, thumbnail: str, failed: bool) -> NotReady:
    """Says whether waiting helps: a thumbnail that failed does not come until the score is processed again."""
    if failed:
        return NotReady(f"{thumbnail} cannot be made: {score.processing.error}")
    return NotReady(f"{thumbnail} has not been generated yet.")
