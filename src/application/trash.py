"""The trash: deleted scores wait there, restorable, until they are deleted for good by hand or by housekeeping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from application.policy import Policy
from application.ports import Clock, Page, ScoreListing, UnitOfWork
from application.scores import PermanentDeletion, owned_score
from domain.errors import ScoreNotFound
from domain.scores import Score


@dataclass(frozen=True)
class TrashedScore:
    score: ScoreListing
    deleted_at: datetime
    purge_at: datetime  # when housekeeping deletes it for good


class ListTrash:
    """The user's scores in the trash, most recently deleted first, each with when it goes for good."""

    def __init__(self, uow: UnitOfWork, policy: Policy) -> None:
        self._uow = uow
        self._retention = timedelta(days=policy.trash_retention_days)

    async def __call__(self, user_id: UUID, limit: int, offset: int) -> Page[TrashedScore]:
        async with self._uow.autocommit() as uow:
            page = await uow.scores.trash(user_id, limit, offset)
        items = [
            TrashedScore(score, score.deleted_at, score.deleted_at + self._retention)
            for score in page.items
            if score.deleted_at is not None
        ]
        return Page(items, page.total, page.limit, page.offset)


class RestoreScore:
    """Back in the library, and in its setlists where it was (its items were kept, hidden, all along)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, user_id: UUID, score_id: UUID) -> Score:
        async with self._uow as uow:
            score = await owned_score(uow, user_id, score_id, for_update=True, in_trash=True)
            score.restore()
            await uow.scores.save(score)
            await uow.commit()
        return score


class DeleteFromTrash:
    """Delete a score in the trash for good: quota freed at once, files removed in the background."""

    def __init__(self, delete_permanently: PermanentDeletion) -> None:
        self._delete_permanently = delete_permanently

    async def __call__(self, user_id: UUID, score_id: UUID) -> None:
        await self._delete_permanently(user_id, score_id, in_trash=True)


async def _delete_all(delete_permanently: PermanentDeletion, scores: list[Score]) -> int:
    """How many of the scores were deleted; one restored or deleted meanwhile is left alone."""
    deleted = 0
    for score in scores:
        try:
            await delete_permanently(score.user_id, score.id, in_trash=True)
        except ScoreNotFound:
            continue
        deleted += 1
    return deleted


class EmptyTrash:
    """Delete every score in the user's trash for good, a batch at a time."""

    def __init__(self, uow: UnitOfWork, delete_permanently: PermanentDeletion, policy: Policy) -> None:
        self._uow = uow
        self._delete_permanently = delete_permanently
        self._batch = policy.maintenance_batch_size

    async def __call__(self, user_id: UUID) -> int:
        deleted = 0
        while True:
            async with self._uow.autocommit() as uow:
                scores = list(await uow.scores.list_trashed(self._batch, user_id=user_id))
            deleted += await _delete_all(self._delete_permanently, scores)
            if len(scores) < self._batch:
                return deleted


class PurgeTrash:
    """Housekeeping: scores in the trash for longer than the retention are deleted for good, one batch per run
    (with a retention of 0, whatever was left in the trash)."""

    def __init__(self, uow: UnitOfWork, delete_permanently: PermanentDeletion, clock: Clock, policy: Policy) -> None:
        self._uow = uow
        self._delete_permanently = delete_permanently
        self._clock = clock
        self._policy = policy

    async def __call__(self) -> int:
        before = self._clock.now() - timedelta(days=self._policy.trash_retention_days)
        async with self._uow.autocommit() as uow:
            scores = list(await uow.scores.list_trashed(self._policy.maintenance_batch_size, deleted_before=before))
        return await _delete_all(self._delete_permanently, scores)
