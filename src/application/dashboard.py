"""The musician's overview: quota, counts, pages, processing and the newest scores."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from application.accounts import existing_user
from application.ports import LibraryStats, QuotaLedger, UnitOfWork, quota_of
from domain.quota import QuotaUsage
from domain.scores import Score

RECENT_SCORES = 5


@dataclass(frozen=True)
class Dashboard:
    quota: QuotaUsage
    stats: LibraryStats
    recent_scores: Sequence[Score]


class GetDashboard:
    def __init__(self, uow: UnitOfWork, ledger: QuotaLedger) -> None:
        self._uow = uow
        self._ledger = ledger

    async def __call__(self, user_id: UUID) -> Dashboard:
        async with self._uow as uow:
            user = await existing_user(uow, user_id)
            stats = await uow.stats.library_stats(user_id)
            recent = await uow.scores.recent(user_id, RECENT_SCORES)
        return Dashboard(quota_of(user, await self._ledger.usage(user_id)), stats, recent)
