"""The musician's overview: quota, counts, pages, processing and the newest scores."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from application.accounts import current_quota, existing_user
from application.ports import Clock, LibraryStats, QuotaLedger, ScoreListing, UnitOfWork
from domain.quota import QuotaUsage

RECENT_SCORES = 5


@dataclass(frozen=True)
class Dashboard:
    quota: QuotaUsage
    stats: LibraryStats
    recent_scores: Sequence[ScoreListing]


class GetDashboard:
    def __init__(self, uow: UnitOfWork, ledger: QuotaLedger, clock: Clock) -> None:
        self._uow = uow
        self._ledger = ledger
        self._clock = clock

    async def __call__(self, user_id: UUID) -> Dashboard:
        async with self._uow.autocommit() as uow:
            user = await existing_user(uow, user_id)
            stats = await uow.stats.library_stats(user_id)
            recent = await uow.scores.recent(user_id, RECENT_SCORES)
        return Dashboard(await current_quota(self._uow, self._ledger, user, self._clock.now()), stats, recent)
