"""GetDashboard: quota, counts, pages, processing and the newest scores."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.errors import NotAuthenticated
from domain.pdf import PdfError, PdfErrorKind
from domain.scores import ProcessingStatus
from tests.unit.conftest import World


async def test_the_dashboard_sums_up_ones_own_library(world: World) -> None:
    ann, bob = await world.user(), await world.user()
    await world.processed_score(ann, pages=10, title="Ready 10")
    world.clock.advance(60)
    await world.processed_score(ann, pages=5, title="Ready 5")
    world.clock.advance(60)
    broken = await world.score(ann, title="Broken")
    world.renderer.infos[broken.storage_key] = PdfError(PdfErrorKind.ENCRYPTED)
    await world.process_score(broken.id)
    world.clock.advance(60)
    await world.score(ann, title="Waiting")
    await world.pending_upload(ann, 500)
    await world.setlist(ann, "Gig")
    await world.setlist(ann, "Practice")
    await world.processed_score(bob, pages=99, title="Bob's")
    await world.setlist(bob, "Bob's gig")

    dashboard = await world.get_dashboard(ann.id)
    stats = dashboard.stats
    assert stats.score_count == 4
    assert stats.setlist_count == 2
    assert stats.total_pages == 15
    assert stats.processing_counts[ProcessingStatus.PENDING] == 1
    assert stats.processing_counts[ProcessingStatus.PROCESSING] == 0
    assert stats.processing_counts[ProcessingStatus.FAILED] == 1
    assert stats.processing_counts[ProcessingStatus.READY] == 2
    quota = dashboard.quota
    assert (quota.limit_bytes, quota.used_bytes, quota.reserved_bytes) == (world.policy.default_quota_bytes, 4000, 500)
    assert quota.available_bytes == world.policy.default_quota_bytes - 4500
    assert [s.details.title for s in dashboard.recent_scores] == ["Waiting", "Broken", "Ready 5", "Ready 10"]


async def test_recent_scores_are_the_five_newest(world: World) -> None:
    user = await world.user()
    for index in range(7):
        await world.score(user, title=f"Score {index}")
        world.clock.advance(1)
    dashboard = await world.get_dashboard(user.id)
    assert [s.details.title for s in dashboard.recent_scores] == [f"Score {i}" for i in (6, 5, 4, 3, 2)]


async def test_an_empty_library(world: World) -> None:
    user = await world.user()
    dashboard = await world.get_dashboard(user.id)
    assert (dashboard.stats.score_count, dashboard.stats.setlist_count, dashboard.stats.total_pages) == (0, 0, 0)
    assert dashboard.recent_scores == []
    assert dashboard.quota.available_bytes == world.policy.default_quota_bytes


async def test_the_dashboard_of_a_missing_user_is_not_authenticated(world: World) -> None:
    with pytest.raises(NotAuthenticated) as error:
        await world.get_dashboard(uuid4())
    assert error.value.code == "not_authenticated"
