"""Duplicates: the user's scores of the same bytes, told by the server's SHA-256 of each stored PDF."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from application.policy import Policy
from application.ports import DuplicateGroup, Page, ScratchSpace, UnitOfWork
from application.processing import ScoreUpdater
from domain.errors import DuplicateScore
from domain.scores import Score

logger = logging.getLogger(__name__)


async def refuse_duplicate(uow: UnitOfWork, user_id: UUID, checksum_sha256: str) -> None:
    """DuplicateScore when one of the user's scores (in the trash or not) has this checksum; other users' never
    count."""
    async with uow.autocommit():
        match = await uow.scores.checksum_match(user_id, checksum_sha256)
    if match is not None:
        raise DuplicateScore(match.score_id, in_trash=match.in_trash)


class ListDuplicates:
    """The user's sets of two or more scores outside the trash with the same checksum, a page of sets at a time,
    oldest set first (by its oldest score); within a set, oldest score first."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def __call__(self, user_id: UUID, limit: int, offset: int) -> Page[DuplicateGroup]:
        async with self._uow.autocommit() as uow:
            return await uow.scores.duplicate_groups(user_id, limit, offset)


class BackfillChecksums:
    """Housekeeping: processed scores without a checksum (stored before checksums were kept, or failed ones) get the
    SHA-256 of their stored PDF, a batch per run. A score whose file cannot be read is skipped (tried again next
    run); one that went away meanwhile is left alone. Returns how many got their checksum."""

    def __init__(self, uow: UnitOfWork, scratch: ScratchSpace, updater: ScoreUpdater, policy: Policy) -> None:
        self._uow = uow
        self._scratch = scratch
        self._updater = updater
        self._batch = policy.maintenance_batch_size

    async def __call__(self) -> int:
        recorded, after = 0, None
        while recorded < self._batch:
            async with self._uow as uow:
                scores = await uow.scores.list_without_checksum(after, self._batch)
            for score in scores:
                if recorded == self._batch:
                    break
                recorded += await self._record(score)
            if len(scores) < self._batch:
                break
            after = scores[-1].id
        return recorded

    async def _record(self, score: Score) -> int:
        try:
            async with self._scratch.local_copy(score.storage_key) as path:
                checksum = await self._scratch.sha256(path)
        except FileNotFoundError:
            logger.warning("score %s has no stored file to hash; the next run tries again", score.id)
            return 0
        return int(await self._updater.apply(score.id, _record(checksum)) is not None)


def _record(checksum: str) -> Callable[[Score, datetime], None]:
    def change(score: Score, _: datetime) -> None:
        score.record_checksum(checksum)

    return change
