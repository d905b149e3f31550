"""The trash (DeleteScore with a retention, ListTrash, RestoreScore, DeleteFromTrash, EmptyTrash, PurgeTrash): out of
the library but still counted, restorable in place, deleted for good by hand or after the retention."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from application.ports import ScoreQuery
from domain.errors import ScoreNotFound, SetlistItemNotFound
from domain.scores import DetailChanges, Score
from domain.uploads import UploadStatus, upload_prefix
from domain.users import User
from tests.unit.conftest import TRASH_POLICY, World


@pytest.fixture
def world() -> World:
    return World(policy=TRASH_POLICY)


async def expect_score_not_found(call: object) -> None:
    with pytest.raises(ScoreNotFound):
        await call  # type: ignore[misc]


async def trashed(world: World, user: User, title: str = "Gone", size: int = 1000) -> Score:
    score = await world.score(user, title=title, size=size)
    await world.delete_score(user.id, score.id)
    return score


# --- moving to the trash -------------------------------------------------------------------------


async def test_delete_moves_the_score_to_the_trash_keeping_its_upload_files_and_quota(world: World) -> None:
    user = await world.user()
    score = await world.score(user, size=2500)
    world.queue.sent.clear()
    world.clock.advance(60)
    await world.delete_score(user.id, score.id)

    assert world.stored_score(score.id).deleted_at == world.clock.now()
    assert world.stored_upload(score.upload_id).status is UploadStatus.CONFIRMED
    assert await world.usage(user.id) == (2500, 0)
    assert world.queue.sent == []  # no file removed
    await expect_score_not_found(world.get_score(user.id, score.id))
    await expect_score_not_found(world.delete_score(user.id, score.id))
    await expect_score_not_found(world.update_score(user.id, score.id, DetailChanges(title="x")))
    await expect_score_not_found(world.request_info_refresh(user.id, score.id))
    await expect_score_not_found(world.request_cover(user.id, score.id, 1))
    await expect_score_not_found(world.request_page_thumbnails(user.id, score.id))
    await expect_score_not_found(world.get_download_url(user.id, score.id, "original", None))


async def test_a_trashed_score_is_out_of_lists_and_counts_but_in_the_dashboards_trash(world: World) -> None:
    user = await world.user()
    kept = await world.score(user, title="Kept", size=1000)
    gone = await trashed(world, user, size=3000)
    assert [s.id for s in (await world.list_scores(ScoreQuery(user.id))).items] == [kept.id]
    assert (await world.list_scores(ScoreQuery(user.id, text="Gone"))).total == 0
    dashboard = await world.get_dashboard(user.id)
    assert dashboard.stats.score_count == 1
    assert (dashboard.stats.trash_score_count, dashboard.stats.trash_bytes) == (1, 3000)
    assert [s.id for s in dashboard.recent_scores] == [kept.id]
    assert dashboard.quota.used_bytes == 4000
    assert gone.id in world.db.scores


async def test_the_trash_lists_most_recently_deleted_first_with_purge_dates(world: World) -> None:
    user, other = await world.user(), await world.user()
    first = await trashed(world, user, "First")
    world.clock.advance(3600)
    second = await trashed(world, user, "Second")
    await trashed(world, other, "Other's")
    page = await world.list_trash(user.id, 20, 0)
    assert [t.score.id for t in page.items] == [second.id, first.id]
    assert page.total == 2
    newest = page.items[0]
    assert newest.deleted_at == world.clock.now()
    assert newest.purge_at == newest.deleted_at + timedelta(days=30)
    assert [t.score.id for t in (await world.list_trash(user.id, 1, 1)).items] == [first.id]


# --- setlists ------------------------------------------------------------------------------------


async def test_setlists_hide_a_trashed_scores_items_and_show_them_again_in_place(world: World) -> None:
    user = await world.user()
    a, gone, b, new = [await world.score(user, title=title) for title in "AGBN"]
    setlist = await world.setlist(user)
    for score in (a, gone, b, gone):
        await world.add_setlist_item(user.id, setlist.id, score.id, None, None)
    hidden = [i.id for i in world.stored_setlist(setlist.id).items if i.score_id == gone.id]
    await world.delete_score(user.id, gone.id)

    view = await world.get_setlist(user.id, setlist.id)
    assert [(i.score_id, i.position) for i in view.setlist.visible_items] == [(a.id, 0), (b.id, 1)]
    await expect_score_not_found(world.add_setlist_item(user.id, setlist.id, gone.id, None, None))
    with pytest.raises(SetlistItemNotFound):
        await world.remove_setlist_item(user.id, setlist.id, hidden[0])

    await world.add_setlist_item(user.id, setlist.id, new.id, 1, None)  # between A and B
    visible = [i.id for i in (await world.get_setlist(user.id, setlist.id)).setlist.visible_items]
    await world.reorder_setlist_items(user.id, setlist.id, list(reversed(visible)))  # B N A
    restored = await world.restore_score(user.id, gone.id)

    assert restored.deleted_at is None
    items = (await world.get_setlist(user.id, setlist.id)).setlist.visible_items
    assert [i.score_id for i in items] == [b.id, gone.id, new.id, a.id, gone.id]
    assert [i.id for i in items if i.score_id == gone.id] == [hidden[1], hidden[0]]
    assert [i.position for i in items] == [0, 1, 2, 3, 4]


# --- restore -------------------------------------------------------------------------------------


async def test_restore_brings_it_back_and_only_from_ones_own_trash(world: World) -> None:
    user, other = await world.user(), await world.user()
    score = await trashed(world, user)
    await expect_score_not_found(world.restore_score(other.id, score.id))
    restored = await world.restore_score(user.id, score.id)
    assert restored.id == score.id
    assert (await world.get_score(user.id, score.id)).deleted_at is None
    assert (await world.list_trash(user.id, 20, 0)).total == 0
    await expect_score_not_found(world.restore_score(user.id, score.id))  # not in the trash now


# --- deleting for good ---------------------------------------------------------------------------


async def test_delete_from_trash_frees_quota_removes_files_and_setlist_items(world: World) -> None:
    user = await world.user()
    kept = await world.score(user, size=1000)
    score = await world.score(user, size=2500)
    setlist = await world.setlist(user)
    for each in (score, kept):
        await world.add_setlist_item(user.id, setlist.id, each.id, None, None)
    await world.delete_score(user.id, score.id)
    await expect_score_not_found(world.delete_from_trash(user.id, kept.id))  # not in the trash
    world.queue.sent.clear()

    await world.delete_from_trash(user.id, score.id)

    assert score.id not in world.db.scores
    assert world.stored_upload(score.upload_id).status is UploadStatus.DELETED
    assert await world.usage(user.id) == (1000, 2500)  # held while its URL lives, as any deleted upload
    assert [(t.name, t.args) for t in world.queue.sent] == [
        ("delete_files", ([], upload_prefix(user.id, score.upload_id)))
    ]
    assert [i.score_id for i in world.stored_setlist(setlist.id).items] == [kept.id]
    await expect_score_not_found(world.delete_from_trash(user.id, score.id))


async def test_empty_trash_deletes_all_of_ones_own_in_batches(world: World) -> None:
    world.policy = replace(TRASH_POLICY, maintenance_batch_size=2)
    user, other = await world.user(), await world.user()
    kept = await world.score(user, size=1000)
    for _ in range(5):
        await trashed(world, user, size=100)
    others = await trashed(world, other)
    assert await world.empty_trash(user.id) == 5
    assert (await world.list_trash(user.id, 20, 0)).total == 0
    assert set(world.db.scores) == {kept.id, others.id}
    assert await world.empty_trash(user.id) == 0


async def test_housekeeping_purges_what_stayed_past_the_retention_one_batch_per_run(world: World) -> None:
    world.policy = replace(TRASH_POLICY, maintenance_batch_size=2)
    user = await world.user()
    old = []
    for n in range(3):
        old.append(await trashed(world, user, f"Old {n}"))
        world.clock.advance(1)
    world.clock.advance(days=29)
    recent = await trashed(world, user, "Recent")
    assert await world.purge_trash() == 0
    world.clock.advance(days=1, seconds=1)

    assert await world.purge_trash() == 2  # the oldest first
    assert old[0].id not in world.db.scores and old[1].id not in world.db.scores
    assert await world.purge_trash() == 1
    assert await world.purge_trash() == 0
    assert [t.score.id for t in (await world.list_trash(user.id, 20, 0)).items] == [recent.id]
    assert await world.usage(user.id) == (1000, 0)  # their URLs lapsed long ago: freed at once


async def test_without_a_trash_delete_is_permanent_and_housekeeping_empties_what_was_left() -> None:
    world = World(policy=TRASH_POLICY)
    user = await world.user()
    left = await trashed(world, user)
    world.policy = replace(TRASH_POLICY, trash_retention_days=0)
    score = await world.score(user)
    await world.delete_score(user.id, score.id)
    assert score.id not in world.db.scores
    assert world.stored_upload(score.upload_id).status is UploadStatus.DELETED
    world.clock.advance(1)
    assert await world.purge_trash() == 1
    assert left.id not in world.db.scores
