"""CreateScore, GetScore, ListScores, UpdateScore, DeleteScore, RequestInfoRefresh, RequestCover,
RequestPageThumbnails and GetDownloadUrl."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from application.ports import ScoreQuery
from application.scores import ORDERINGS
from domain.errors import (
    ErrorKind,
    NotAPdf,
    NotReady,
    ScoreNotFound,
    UploadAlreadyUsed,
    UploadIncomplete,
    UploadNotFound,
    ValidationError,
)
from domain.pdf import PdfError, PdfErrorKind
from domain.scores import DetailChanges, ProcessingStatus, Score
from domain.setlists import Setlist
from domain.text import UNSET
from domain.uploads import UploadStatus, cover_thumbnail_key, page_thumbnail_key, upload_prefix
from tests.unit.conftest import World
from tests.unit.fakes import QueueUnavailable


async def expect_score_not_found(world: World, coroutine: object) -> None:
    with pytest.raises(ScoreNotFound) as error:
        await coroutine  # type: ignore[misc]
    assert error.value.code == "score_not_found"
    assert error.value.kind is ErrorKind.NOT_FOUND


# --- CreateScore ---------------------------------------------------------------------------------


async def test_create_confirms_a_pending_upload_and_queues_processing(world: World) -> None:
    user = await world.user()
    upload = await world.pending_upload(user, 1500)
    score = await world.create_score(
        user.id,
        upload.id,
        DetailChanges(
            title="  Moonlight ",
            composer="Beethoven",
            genre="Classical",
            tags=["piano", " piano"],
            description="Op. 27",
        ),
    )
    assert (
        score.details.title,
        score.details.composer,
        score.details.genre,
        score.details.tags,
        score.details.description,
    ) == (
        "Moonlight",
        "Beethoven",
        "Classical",
        ["piano"],
        "Op. 27",
    )
    assert score.user_id == user.id and score.upload_id == upload.id
    assert score.size_bytes == 1500 and score.storage_key == upload.storage_key
    assert score.original_filename == upload.filename
    assert score.processing.status is ProcessingStatus.PENDING and score.processing.page_count is None
    assert score.created_at == score.updated_at == world.clock.now()
    assert world.stored_score(score.id) == score
    stored_upload = world.stored_upload(upload.id)
    assert stored_upload.status is UploadStatus.CONFIRMED and stored_upload.score_id == score.id
    assert await world.usage(user.id) == (1500, 0)
    assert [(t.name, t.args) for t in world.queue.sent] == [("process_score", (score.id,))]


async def test_create_from_a_confirmed_upload(world: World) -> None:
    user = await world.user()
    upload = await world.confirmed_upload(user, 800)
    score = await world.create_score(user.id, upload.id, DetailChanges(title="Étude"))
    assert score.details.composer is None and score.details.tags == []
    assert world.stored_upload(upload.id).score_id == score.id
    assert await world.usage(user.id) == (800, 0)


async def test_an_upload_makes_only_one_score(world: World) -> None:
    user = await world.user()
    upload = await world.confirmed_upload(user)
    first = await world.create_score(user.id, upload.id, DetailChanges(title="One"))
    with pytest.raises(UploadAlreadyUsed) as error:
        await world.create_score(user.id, upload.id, DetailChanges(title="Two"))
    assert error.value.code == "upload_already_used"
    assert error.value.kind is ErrorKind.CONFLICT
    assert list(world.db.scores) == [first.id]


async def test_the_upload_of_a_deleted_score_is_not_found_like_on_confirm(world: World) -> None:
    user = await world.user()
    upload = await world.confirmed_upload(user)
    score = await world.create_score(user.id, upload.id, DetailChanges(title="One"))
    await world.delete_score(user.id, score.id)
    with pytest.raises(UploadNotFound) as error:
        await world.create_score(user.id, upload.id, DetailChanges(title="Again"))
    assert error.value.code == "upload_not_found"
    assert list(world.db.scores) == []


async def test_the_score_is_created_even_when_processing_cannot_be_queued(world: World) -> None:
    user = await world.user()
    upload = await world.pending_upload(user)
    world.queue.error = QueueUnavailable("broker down")
    score = await world.create_score(user.id, upload.id, DetailChanges(title="Prelude"))
    assert world.queue.attempts == 1
    assert world.stored_score(score.id).processing.status is ProcessingStatus.PENDING
    assert world.stored_upload(upload.id).score_id == score.id


@pytest.mark.parametrize("details", [DetailChanges(), DetailChanges(title="   "), DetailChanges(title="x" * 301)])
async def test_a_title_is_required(world: World, details: DetailChanges) -> None:
    user = await world.user()
    upload = await world.pending_upload(user)
    with pytest.raises(ValidationError) as error:
        await world.create_score(user.id, upload.id, details)
    assert error.value.code == "validation_error"
    assert world.db.scores == {}
    assert world.stored_upload(upload.id).status is UploadStatus.PENDING


async def test_create_with_another_users_upload_is_upload_not_found(world: World) -> None:
    ann, bob = await world.user(), await world.user()
    upload = await world.confirmed_upload(ann)
    with pytest.raises(UploadNotFound) as error:
        await world.create_score(bob.id, upload.id, DetailChanges(title="Mine?"))
    assert error.value.code == "upload_not_found"
    assert world.db.scores == {}


async def test_create_passes_on_confirms_errors(world: World) -> None:
    user = await world.user()
    ticket = await world.request_upload_url(user.id, "a.pdf", "application/pdf", 400)
    with pytest.raises(UploadIncomplete):
        await world.create_score(user.id, ticket.upload.id, DetailChanges(title="Nothing yet"))
    bad = await world.pending_upload(user, 400, content=b"GIF89a" + b"x" * 394)
    with pytest.raises(NotAPdf):
        await world.create_score(user.id, bad.id, DetailChanges(title="Not a PDF"))
    assert world.db.scores == {}
    assert bad.storage_key not in world.storage.objects
    assert await world.usage(user.id) == (0, 400)  # only the incomplete upload is still reserved
    assert world.queue.sent == []  # no processing
    assert world.stored_upload(bad.id).storage_to_clear


async def test_create_with_a_cancelled_or_expired_upload_is_not_found(world: World) -> None:
    user = await world.user()
    cancelled = await world.pending_upload(user)
    await world.cancel_upload(user.id, cancelled.id)
    with pytest.raises(UploadNotFound):
        await world.create_score(user.id, cancelled.id, DetailChanges(title="x"))
    expiring = await world.pending_upload(user)
    world.clock.advance(world.policy.reservation_ttl_seconds)
    with pytest.raises(UploadNotFound):
        await world.create_score(user.id, expiring.id, DetailChanges(title="x"))
    assert world.db.scores == {}


# --- GetScore and ListScores ---------------------------------------------------------------------


async def test_get_score_returns_ones_own_score(world: World) -> None:
    user = await world.user()
    score = await world.score(user, title="Nocturne")
    assert await world.get_score(user.id, score.id) == score


async def test_another_users_score_is_not_found(world: World) -> None:
    ann, bob = await world.user(), await world.user()
    score = await world.score(ann)
    await expect_score_not_found(world, world.get_score(bob.id, score.id))
    await expect_score_not_found(world, world.get_score(ann.id, uuid4()))


async def make_library(world: World) -> tuple[World, list[Score]]:
    user = await world.user()
    specs = [
        ("Moonlight Sonata", "Beethoven", "Classical", ["piano"]),
        ("Air on the G String", "Bach", "Baroque", ["strings", "orchestra"]),
        ("Clair de Lune", "Debussy", "Impressionist", ["piano"]),
        ("anonymous folk tune", None, None, []),
        ("Toccata and Fugue", "bach", "baroque", ["organ"]),
    ]
    scores = []
    for title, composer, genre, tags in specs:
        scores.append(await world.score(user, title=title, composer=composer, genre=genre, tags=tags))
        world.clock.advance(60)
    return world, scores


async def query(world: World, scores: list[Score], **filters: object) -> list[str]:
    page = await world.list_scores(ScoreQuery(user_id=scores[0].user_id, **filters))  # type: ignore[arg-type]
    return [s.details.title for s in page.items]


async def test_list_scores_is_newest_first_by_default(world: World) -> None:
    world, scores = await make_library(world)
    assert await query(world, scores) == [s.details.title for s in reversed(scores)]


async def test_list_scores_filters(world: World) -> None:
    world, scores = await make_library(world)
    assert await query(world, scores, text="BACH", ordering="title") == ["Air on the G String", "Toccata and Fugue"]
    assert await query(world, scores, text="lune") == ["Clair de Lune"]
    assert await query(world, scores, composer="Bach", ordering="title") == ["Air on the G String", "Toccata and Fugue"]
    assert await query(world, scores, genre="BAROQUE", ordering="title") == ["Air on the G String", "Toccata and Fugue"]
    assert await query(world, scores, tag="piano", ordering="title") == ["Clair de Lune", "Moonlight Sonata"]
    assert await query(world, scores, status=ProcessingStatus.READY) == []
    assert len(await query(world, scores, status=ProcessingStatus.PENDING)) == 5


async def test_list_scores_orders_composers_with_blanks_last(world: World) -> None:
    world, scores = await make_library(world)
    ascending = await query(world, scores, ordering="composer")
    descending = await query(world, scores, ordering="-composer")
    assert ascending[-1] == descending[-1] == "anonymous folk tune"
    assert ascending[:2] == ["Air on the G String", "Moonlight Sonata"]


async def test_list_scores_pages_are_stable_and_report_the_total(world: World) -> None:
    world, scores = await make_library(world)
    user_id = scores[0].user_id
    seen = []
    for offset in range(0, 5, 2):
        page = await world.list_scores(ScoreQuery(user_id=user_id, ordering="title", limit=2, offset=offset))
        assert page.total == 5 and page.limit == 2 and page.offset == offset
        seen += [s.id for s in page.items]
    assert len(seen) == len(set(seen)) == 5


async def test_every_documented_ordering_is_accepted(world: World) -> None:
    world, scores = await make_library(world)
    assert set(ORDERINGS) == {"title", "-title", "created_at", "-created_at", "composer", "-composer"}
    for ordering in ORDERINGS:
        assert len(await query(world, scores, ordering=ordering)) == 5


@pytest.mark.parametrize("ordering", ["size", "", "--title", "title ", "id", "-id"])
async def test_an_unknown_ordering_is_a_validation_error(world: World, ordering: str) -> None:
    user = await world.user()
    with pytest.raises(ValidationError) as error:
        await world.list_scores(ScoreQuery(user_id=user.id, ordering=ordering))
    assert error.value.code == "validation_error"


async def test_lists_show_only_ones_own_scores(world: World) -> None:
    ann, bob = await world.user(), await world.user()
    await world.score(ann, title="Ann's")
    await world.score(bob, title="Bob's")
    page = await world.list_scores(ScoreQuery(user_id=bob.id, text="s"))
    assert [s.details.title for s in page.items] == ["Bob's"] and page.total == 1


# --- UpdateScore ---------------------------------------------------------------------------------


async def test_update_changes_only_the_given_fields(world: World) -> None:
    user = await world.user()
    score = await world.score(user, title="Old", composer="Bach", tags=["a"])
    world.clock.advance(30)
    updated = await world.update_score(
        user.id, score.id, DetailChanges(title=" New ", composer=None, tags=["b", "b", " c "])
    )
    assert (updated.details.title, updated.details.composer, updated.details.tags) == ("New", None, ["b", "c"])
    assert updated.updated_at == world.clock.now() and updated.created_at == score.created_at
    assert world.stored_score(score.id) == updated


async def test_an_empty_update_changes_nothing_but_the_time(world: World) -> None:
    user = await world.user()
    score = await world.score(user, title="Same", genre="Jazz")
    updated = await world.update_score(user.id, score.id, DetailChanges(title=UNSET))
    assert (updated.details.title, updated.details.genre) == ("Same", "Jazz")


async def test_an_invalid_update_is_refused_and_changes_nothing(world: World) -> None:
    user = await world.user()
    score = await world.score(user, title="Keep")
    with pytest.raises(ValidationError) as error:
        await world.update_score(user.id, score.id, DetailChanges(title=""))
    assert error.value.code == "validation_error"
    assert world.stored_score(score.id).details.title == "Keep"


async def test_update_locks_the_score_so_a_concurrent_delete_cannot_slip_between(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    world.uow.scores.locked.clear()
    await world.update_score(user.id, score.id, DetailChanges(title="Renamed"))
    assert world.uow.scores.locked == [score.id]


async def test_update_of_another_users_score_is_not_found(world: World) -> None:
    ann, bob = await world.user(), await world.user()
    score = await world.score(ann, title="Ann's")
    await expect_score_not_found(world, world.update_score(bob.id, score.id, DetailChanges(title="Bob's")))
    assert world.stored_score(score.id).details.title == "Ann's"


# --- DeleteScore ---------------------------------------------------------------------------------


async def test_delete_frees_quota_and_queues_the_files_for_removal(world: World) -> None:
    user = await world.user()
    score = await world.score(user, size=2500)
    kept = await world.score(user, size=1000)
    assert await world.usage(user.id) == (3500, 0)
    world.queue.sent.clear()
    await world.delete_score(user.id, score.id)
    assert score.id not in world.db.scores and kept.id in world.db.scores
    assert world.stored_upload(score.upload_id).status is UploadStatus.DELETED
    assert await world.usage(user.id) == (1000, 0)
    prefix = upload_prefix(user.id, score.upload_id)
    assert [(t.name, t.args) for t in world.queue.sent] == [("delete_files", ([], prefix))]
    assert world.stored_upload(score.upload_id).storage_to_clear
    await expect_score_not_found(world, world.get_score(user.id, score.id))


async def test_delete_removes_the_score_from_every_setlist_closing_the_gaps(world: World) -> None:
    user = await world.user()
    gone, kept = await world.score(user, title="Gone"), await world.score(user, title="Kept")
    first, second = await world.setlist(user, "First"), await world.setlist(user, "Second")
    for score_id in (gone.id, kept.id, gone.id, kept.id):
        await world.add_setlist_item(user.id, first.id, score_id, None, None)
    await world.add_setlist_item(user.id, second.id, gone.id, None, None)
    world.clock.advance(60)
    await world.delete_score(user.id, gone.id)
    after = world.stored_setlist(first.id)
    assert [(i.score_id, i.position) for i in after.items] == [(kept.id, 0), (kept.id, 1)]
    assert world.stored_setlist(second.id).items == []
    assert after.updated_at == world.stored_setlist(second.id).updated_at == world.clock.now()


async def test_delete_falls_back_to_removing_the_files_at_once(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    prefix = upload_prefix(user.id, score.upload_id)
    world.storage.objects[cover_thumbnail_key(user.id, score.upload_id, "1")] = b"jpeg"
    world.storage.objects[page_thumbnail_key(user.id, score.upload_id, 2)] = b"jpeg"
    neighbour = await world.score(user)
    world.queue.error = QueueUnavailable("broker down")
    await world.delete_score(user.id, score.id)
    assert world.storage.keys_under(prefix) == []
    assert world.storage.keys_under(upload_prefix(user.id, neighbour.upload_id)) == [neighbour.storage_key]
    assert score.id not in world.db.scores
    assert await world.usage(user.id) == (neighbour.size_bytes, 0)


async def test_a_delete_that_loses_the_race_to_another_is_not_found(world: World) -> None:
    user = await world.user()
    score = await world.score(user, size=900)
    world.queue.sent.clear()
    find_setlists = world.uow.setlists.containing_score

    async def deleted_meanwhile(score_id: UUID) -> Sequence[Setlist]:
        found = await find_setlists(score_id)
        world.db.scores.pop(score_id)  # the other request committed while this one waited for the locks
        return found

    world.uow.setlists.containing_score = deleted_meanwhile  # type: ignore[method-assign]
    await expect_score_not_found(world, world.delete_score(user.id, score.id))
    assert world.uow.scores.locked[-1] == score.id
    assert world.stored_upload(score.upload_id).status is not UploadStatus.DELETED
    assert world.queue.sent == []


async def test_delete_of_another_users_score_is_not_found_and_changes_nothing(world: World) -> None:
    ann, bob = await world.user(), await world.user()
    score = await world.score(ann, size=900)
    world.queue.sent.clear()
    await expect_score_not_found(world, world.delete_score(bob.id, score.id))
    assert score.id in world.db.scores
    assert await world.usage(ann.id) == (900, 0)
    assert world.queue.sent == []
    assert score.storage_key in world.storage.objects


async def test_reconciling_after_a_delete_keeps_its_bytes_free(world: World) -> None:
    user = await world.user()
    score = await world.score(user, size=900)
    await world.delete_score(user.id, score.id)
    await world.reconcile_quota(user.id)
    assert await world.usage(user.id) == (0, 0)


# --- RequestInfoRefresh, RequestCover, RequestPageThumbnails --------------------------------------


async def test_request_processing_queues_tasks_and_returns_their_ids(world: World) -> None:
    user = await world.user()
    score = await world.processed_score(user, pages=4)
    world.queue.sent.clear()
    refresh = await world.request_info_refresh(user.id, score.id)
    cover = await world.request_cover(user.id, score.id, 4)
    every = await world.request_page_thumbnails(user.id, score.id)
    assert [(t.task_id, t.name, t.args) for t in world.queue.sent] == [
        (refresh, "process_score", (score.id,)),
        (cover, "generate_thumbnail", (score.id, 4)),
        (every, "generate_all_thumbnails", (score.id,)),
    ]
    assert len({refresh, cover, every}) == 3


@pytest.mark.parametrize("page", [0, -1, 5])
async def test_a_cover_from_a_page_out_of_range_is_a_validation_error(world: World, page: int) -> None:
    user = await world.user()
    score = await world.processed_score(user, pages=4)
    world.queue.sent.clear()
    with pytest.raises(ValidationError) as error:
        await world.request_cover(user.id, score.id, page)
    assert error.value.code == "validation_error"
    assert world.queue.sent == []


async def test_request_processing_on_another_users_score_is_not_found(world: World) -> None:
    ann, bob = await world.user(), await world.user()
    score = await world.score(ann)
    world.queue.sent.clear()
    await expect_score_not_found(world, world.request_info_refresh(bob.id, score.id))
    await expect_score_not_found(world, world.request_cover(bob.id, score.id, 1))
    await expect_score_not_found(world, world.request_page_thumbnails(bob.id, score.id))
    assert world.queue.sent == []


# --- GetDownloadUrl ------------------------------------------------------------------------------


async def test_the_original_can_always_be_downloaded(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    link = await world.get_download_url(user.id, score.id, "original", None)
    assert score.storage_key in link.url and "filename=score.pdf" in link.url
    assert link.expires_in == world.policy.presign_expiry_seconds
    assert link.expires_at == world.clock.now() + timedelta(seconds=world.policy.presign_expiry_seconds)


async def test_the_cover_is_not_ready_before_it_is_rendered(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    with pytest.raises(NotReady) as error:
        await world.get_download_url(user.id, score.id, "thumbnail", None)
    assert error.value.code == "not_ready"
    assert error.value.kind is ErrorKind.CONFLICT
    await world.process_score(score.id)
    link = await world.get_download_url(user.id, score.id, "thumbnail", None)
    cover = world.stored_score(score.id).cover.stored
    assert cover is not None and cover.key.startswith(upload_prefix(user.id, score.upload_id))
    assert cover.key in link.url


async def test_a_failed_score_says_its_cover_will_not_come_by_waiting(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    world.renderer.infos[score.storage_key] = PdfError(PdfErrorKind.ENCRYPTED)
    await world.process_score(score.id)
    with pytest.raises(NotReady) as error:
        await world.get_download_url(user.id, score.id, "thumbnail", None)
    assert str(error.value) == f"The cover thumbnail cannot be made: {PdfErrorKind.ENCRYPTED.sentence}"


@pytest.mark.parametrize("kind", [PdfErrorKind.RENDER_TIMEOUT, PdfErrorKind.RENDER_LIMIT])
async def test_a_ready_score_whose_cover_failed_says_it_will_not_come_by_waiting(
    world: World, kind: PdfErrorKind
) -> None:
    user = await world.user()
    score = await world.score(user)
    world.renderer.renders[score.storage_key, 1] = PdfError(kind)
    await world.process_score(score.id)
    assert world.stored_score(score.id).processing.status is ProcessingStatus.READY
    with pytest.raises(NotReady) as error:
        await world.get_download_url(user.id, score.id, "thumbnail", None)
    assert str(error.value) == f"The cover thumbnail cannot be made: {kind.sentence_about(1)}"


async def test_page_thumbnails_need_a_page_in_range_that_was_rendered(world: World) -> None:
    user = await world.user()
    score = await world.processed_score(user, pages=3)
    with pytest.raises(ValidationError) as missing:
        await world.get_download_url(user.id, score.id, "page_thumbnail", None)
    assert missing.value.code == "validation_error"
    for page in (0, 4):
        with pytest.raises(ValidationError):
            await world.get_download_url(user.id, score.id, "page_thumbnail", page)
    with pytest.raises(NotReady):
        await world.get_download_url(user.id, score.id, "page_thumbnail", 2)
    await world.generate_all_thumbnails(score.id)
    link = await world.get_download_url(user.id, score.id, "page_thumbnail", 2)
    assert page_thumbnail_key(user.id, score.upload_id, 2) in link.url


async def test_an_unknown_file_type_is_a_validation_error(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    with pytest.raises(ValidationError):
        await world.get_download_url(user.id, score.id, "everything", None)


async def test_download_of_another_users_score_is_not_found(world: World) -> None:
    ann, bob = await world.user(), await world.user()
    score = await world.processed_score(ann)
    for file_type, page in (("original", None), ("thumbnail", None), ("page_thumbnail", 1)):
        await expect_score_not_found(world, world.get_download_url(bob.id, score.id, file_type, page))
