"""ProcessScore, GenerateThumbnail, GenerateAllThumbnails, MarkProcessingFailed and DeleteFiles."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from uuid import uuid4

import pytest

from application.ports import RateRule
from application.processing import JPEG, PAGES_PER_BATCH
from domain.pdf import PdfError, PdfErrorKind, PdfInfo, PdfMetadata, RenderPriority
from domain.scores import PAGE_THUMBNAILS_FAILED, RESUME_WITHIN, RESUMING, ProcessingStatus, Score
from domain.uploads import cover_thumbnail_key, page_thumbnail_key, upload_prefix
from tests.unit.conftest import World
from tests.unit.fakes import StorageUnavailable, fake_jpeg

METADATA = PdfMetadata(
    title="Sonate", author="Beethoven", subject="Classical", keywords="piano; sonata", producer="Scanner"
)


def covers(world: World, score: Score) -> list[bytes]:
    """Every cover stored for the score: one at most, once stale ones are cleared."""
    prefix = upload_prefix(score.user_id, score.upload_id)
    return [world.storage.objects[key] for key in world.storage.keys_under(prefix) if "/cover-" in key]


def page_key(score: Score, page: int) -> str:
    return page_thumbnail_key(score.user_id, score.upload_id, page)


def page_keys(world: World, score: Score) -> list[str]:
    return world.storage.keys_under(upload_prefix(score.user_id, score.upload_id) + "pages/")


# --- ProcessScore --------------------------------------------------------------------------------


async def test_processing_makes_the_score_ready_with_info_prefill_and_cover(world: World) -> None:
    user = await world.user()
    score = await world.score(user, title="Pathétique")
    world.renderer.infos[score.storage_key] = PdfInfo(12, METADATA)
    world.clock.advance(5)
    await world.process_score(score.id)
    done = world.stored_score(score.id)
    assert done.processing.status is ProcessingStatus.READY
    assert done.processing.error is None
    assert done.processing.page_count == 12 and done.processing.metadata == METADATA
    assert (done.details.title, done.details.composer, done.details.genre, done.details.tags) == (
        "Pathétique",
        "Beethoven",
        "Classical",
        ["piano", "sonata"],
    )
    assert done.cover.ready
    assert done.cover.stored is not None and done.cover.stored.page == 1
    assert done.cover.stored.key.startswith(f"{upload_prefix(user.id, score.upload_id)}cover-")
    assert covers(world, done) == [fake_jpeg(score.storage_key, 1)]
    assert world.storage.content_types[done.cover.stored.key] == JPEG == "image/jpeg"
    assert done.processing.started_at == world.clock.now() and done.updated_at == world.clock.now()
    assert world.renderer.rendered == [(score.storage_key, 1)]
    assert world.scratch.copies == [score.storage_key] and world.scratch.open_copies == 0
    assert world.storage.downloads == []


async def test_processing_never_overwrites_the_musicians_details(world: World) -> None:
    user = await world.user()
    score = await world.score(user, composer="L. v. B.", genre="Romantic", tags=["mine"])
    world.renderer.infos[score.storage_key] = PdfInfo(2, METADATA)
    await world.process_score(score.id)
    done = world.stored_score(score.id)
    assert (done.details.composer, done.details.genre, done.details.tags) == ("L. v. B.", "Romantic", ["mine"])


async def test_an_encrypted_pdf_fails_with_a_readable_sentence(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    world.renderer.infos[score.storage_key] = PdfError(PdfErrorKind.ENCRYPTED, "needs password (mupdf code 7)")
    await world.process_score(score.id)
    done = world.stored_score(score.id)
    assert done.processing.status is ProcessingStatus.FAILED
    assert done.processing.error == "The PDF is protected by a password."
    assert done.processing.page_count is None and not done.cover.ready
    assert world.renderer.rendered == []
    assert covers(world, done) == []
    assert world.scratch.open_copies == 0


@pytest.mark.parametrize("kind", [PdfErrorKind.CORRUPT, PdfErrorKind.NO_PAGES, PdfErrorKind.EMPTY])
async def test_unreadable_documents_fail(world: World, kind: PdfErrorKind) -> None:
    user = await world.user()
    score = await world.score(user)
    world.renderer.infos[score.storage_key] = PdfError(kind)
    await world.process_score(score.id)
    done = world.stored_score(score.id)
    assert done.processing.status is ProcessingStatus.FAILED
    assert done.processing.error == kind.sentence


@pytest.mark.parametrize("kind", [PdfErrorKind.RENDER_TIMEOUT, PdfErrorKind.RENDER_LIMIT])
async def test_a_cover_that_cannot_be_rendered_leaves_the_score_ready(world: World, kind: PdfErrorKind) -> None:
    user = await world.user()
    score = await world.score(user)
    world.renderer.infos[score.storage_key] = PdfInfo(7, METADATA)
    world.renderer.renders[(score.storage_key, 1)] = PdfError(kind)
    await world.process_score(score.id)
    done = world.stored_score(score.id)
    assert done.processing.status is ProcessingStatus.READY
    assert done.processing.page_count == 7 and done.details.composer == "Beethoven"
    assert not done.cover.ready
    assert done.processing.error == kind.sentence_about(1)
    assert covers(world, done) == []


async def test_a_score_deleted_while_its_cover_renders_leaves_no_thumbnail(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    world.renderer.on_render = lambda key, page: world.db.scores.pop(score.id)
    await world.process_score(score.id)
    assert score.id not in world.db.scores
    assert covers(world, score) == []
    assert world.scratch.open_copies == 0


async def test_a_score_deleted_while_it_is_inspected_is_left_alone(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    world.renderer.on_inspect = lambda key: world.db.scores.pop(score.id)
    await world.process_score(score.id)
    assert score.id not in world.db.scores
    assert world.renderer.rendered == []
    assert covers(world, score) == []


async def test_processing_a_missing_score_does_nothing(world: World) -> None:
    await world.process_score(uuid4())
    assert world.scratch.copies == [] and world.renderer.inspected == []


async def test_processing_twice_gives_the_same_result(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    world.renderer.infos[score.storage_key] = PdfInfo(4, METADATA)
    await world.process_score(score.id)
    first = world.stored_score(score.id)
    await world.process_score(score.id)
    second = world.stored_score(score.id)
    second = replace(second, updated_at=first.updated_at, processing=replace(second.processing, started_at=None))
    assert second == replace(first, processing=replace(first.processing, started_at=None))
    assert second.cover.stored is not None
    assert world.storage.keys_under(upload_prefix(user.id, score.upload_id)) == sorted(
        [score.storage_key, second.cover.stored.key]
    )


async def test_a_successful_refresh_clears_an_earlier_failure(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    world.renderer.infos[score.storage_key] = PdfError(PdfErrorKind.CORRUPT, "took too long")
    await world.process_score(score.id)
    assert world.stored_score(score.id).processing.status is ProcessingStatus.FAILED
    world.renderer.infos[score.storage_key] = PdfInfo(3, PdfMetadata())
    await world.process_score(score.id)
    done = world.stored_score(score.id)
    assert done.processing.status is ProcessingStatus.READY
    assert done.processing.error is None and done.cover.ready


async def test_a_successful_refresh_clears_an_earlier_render_note(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    world.renderer.renders[(score.storage_key, 1)] = PdfError(PdfErrorKind.RENDER_TIMEOUT)
    await world.process_score(score.id)
    assert world.stored_score(score.id).processing.error is not None
    del world.renderer.renders[(score.storage_key, 1)]
    await world.process_score(score.id)
    done = world.stored_score(score.id)
    assert done.processing.error is None and done.cover.ready


async def test_processing_when_the_original_is_gone_raises_for_a_retry(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    del world.storage.objects[score.storage_key]
    with pytest.raises(FileNotFoundError):
        await world.process_score(score.id)
    assert world.stored_score(score.id).processing.status is ProcessingStatus.PROCESSING


# --- GenerateThumbnail ---------------------------------------------------------------------------


async def test_the_cover_can_be_made_from_another_page(world: World) -> None:
    user = await world.user()
    score = await world.processed_score(user, pages=5)
    await world.choose_cover(user, score, 3)
    assert world.renderer.rendered[-1] == (score.storage_key, 3)
    assert covers(world, score) == [fake_jpeg(score.storage_key, 3)]
    done = world.stored_score(score.id)
    assert done.cover.ready and done.processing.status is ProcessingStatus.READY


async def test_a_cover_from_another_page_stays_when_the_info_is_read_again(world: World) -> None:
    user = await world.user()
    score = await world.processed_score(user, pages=5)
    await world.choose_cover(user, score, 3)
    renders = len(world.renderer.rendered)

    await world.process_score(score.id)

    assert len(world.renderer.rendered) == renders
    assert covers(world, score) == [fake_jpeg(score.storage_key, 3)]
    assert world.stored_score(score.id).processing.status is ProcessingStatus.READY


async def test_a_cover_chosen_while_the_first_one_renders_is_the_one_kept(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    world.renderer.infos[score.storage_key] = PdfInfo(5, PdfMetadata())

    async def choose_page_3(_key: str, page: int) -> None:
        if page == 1:
            await world.choose_cover(user, score, 3)

    world.renderer.on_render = choose_page_3
    await world.process_score(score.id)

    assert world.renderer.rendered == [(score.storage_key, 1), (score.storage_key, 3)]
    assert covers(world, score) == [fake_jpeg(score.storage_key, 3)]
    assert world.stored_score(score.id).cover.ready


async def test_of_covers_rendering_at_once_the_last_chosen_wins(world: World) -> None:
    user = await world.user()
    score = await world.processed_score(user, pages=5)
    await world.request_cover(user.id, score.id, 2)

    async def choose_page_4_meanwhile(_key: str, page: int) -> None:
        if page == 2:
            await world.choose_cover(user, score, 4)

    world.renderer.on_render = choose_page_4_meanwhile
    await world.generate_thumbnail(score.id, 2)  # finishes last, with a page no longer wanted

    assert covers(world, score) == [fake_jpeg(score.storage_key, 4)]


async def test_a_cover_stored_after_a_newer_choice_was_made_and_stored_is_not_kept(world: World) -> None:
    user = await world.user()
    score = await world.processed_score(user, pages=5)
    await world.request_cover(user.id, score.id, 2)
    choices = iter([4])

    async def choose_again_while_page_2_is_stored(key: str) -> None:
        if "/cover-" in key and (page := next(choices, None)) is not None:
            await world.choose_cover(user, score, page)

    world.storage.on_put = choose_again_while_page_2_is_stored
    await world.generate_thumbnail(score.id, 2)

    assert covers(world, score) == [fake_jpeg(score.storage_key, 4)]
    assert world.stored_score(score.id).cover.page == 4


@pytest.mark.parametrize(
    ("pages", "chosen", "cover", "note"),
    [
        (5, 4, 4, None),
        # a page beyond the last, chosen before the page count was known: page 1, and the musician is told
        (3, 9, 1, "The PDF has no page 9, so the cover shows page 1."),
    ],
)
async def test_a_cover_chosen_before_processing_is_made_by_processing(
    world: World, pages: int, chosen: int, cover: int, note: str | None
) -> None:
    user = await world.user()
    score = await world.score(user)
    world.renderer.infos[score.storage_key] = PdfInfo(pages, PdfMetadata())
    await world.request_cover(user.id, score.id, chosen)  # its task has not run yet
    await world.process_score(score.id)
    assert covers(world, score) == [fake_jpeg(score.storage_key, cover)]
    done = world.stored_score(score.id)
    assert (done.processing.status, done.processing.error) == (ProcessingStatus.READY, note)
    await world.generate_thumbnail(score.id, chosen)  # the chosen page's own task, late
    assert covers(world, score) == [fake_jpeg(score.storage_key, cover)]
    await world.choose_cover(user, score, 2)
    assert world.stored_score(score.id).processing.error is None


async def test_a_cover_render_error_is_noted_not_raised(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    world.renderer.renders[(score.storage_key, 2)] = PdfError(PdfErrorKind.RENDER_LIMIT)
    await world.choose_cover(user, score, 2)
    done = world.stored_score(score.id)
    assert not done.cover.ready
    assert done.processing.error == "Page 2 is too large, too complex or damaged to render, so it has no thumbnail."


async def test_generate_thumbnail_for_a_missing_or_vanishing_score(world: World) -> None:
    await world.generate_thumbnail(uuid4(), 1)
    assert world.scratch.copies == []
    user = await world.user()
    score = await world.score(user)
    world.renderer.on_render = lambda key, page: world.db.scores.pop(score.id)
    await world.generate_thumbnail(score.id, 1)
    assert covers(world, score) == []


# --- GenerateAllThumbnails -----------------------------------------------------------------------


async def test_all_pages_get_thumbnails_in_batches_with_visible_progress(world: World) -> None:
    user = await world.user()
    score = await world.processed_score(user, pages=40)
    progress: list[int] = []
    world.renderer.on_batch = lambda key, pages: progress.append(world.db.scores[score.id].page_thumbnails.count)
    await world.request_page_thumbnails(user.id, score.id)
    await world.generate_all_thumbnails(score.id)
    done = world.stored_score(score.id)
    assert done.page_thumbnails.pages == list(range(1, 41)) and done.page_thumbnails.count == 40
    assert [len(batch) for batch in world.renderer.batches] == [PAGES_PER_BATCH, PAGES_PER_BATCH, 8]
    assert progress == [0, 16, 32]
    assert page_keys(world, score) == sorted(page_key(score, page) for page in range(1, 41))
    assert world.storage.objects[page_key(score, 7)] == fake_jpeg(score.storage_key, 7)


async def test_pages_already_done_are_skipped(world: World) -> None:
    user = await world.user()
    score = await world.processed_score(user, pages=6)
    stored = world.stored_score(score.id)
    stored.page_thumbnails.pages = [1, 2, 5]
    world.put_score(stored)
    await world.generate_all_thumbnails(score.id)
    assert world.renderer.batches == [[3, 4, 6]]
    assert world.stored_score(score.id).page_thumbnails.pages == [1, 2, 3, 4, 5, 6]
    await world.generate_all_thumbnails(score.id)
    assert world.renderer.batches == [[3, 4, 6]]


async def test_thumbnails_stop_at_the_cap_with_a_note(world: World) -> None:
    world.policy = replace(world.policy, max_page_thumbnails=5)
    user = await world.user()
    score = await world.processed_score(user, pages=8)
    await world.generate_all_thumbnails(score.id)
    done = world.stored_score(score.id)
    assert done.page_thumbnails.pages == [1, 2, 3, 4, 5]
    assert done.processing.error == "Only the first 5 of 8 pages have thumbnails."
    assert done.processing.status is ProcessingStatus.READY


async def test_a_page_failure_does_not_hide_the_cap_note(world: World) -> None:
    world.policy = replace(world.policy, max_page_thumbnails=5)
    user = await world.user()
    score = await world.processed_score(user, pages=8)
    world.renderer.renders[score.storage_key, 3] = PdfError(PdfErrorKind.RENDER_TIMEOUT)
    await world.generate_all_thumbnails(score.id)
    done = world.stored_score(score.id)
    assert done.page_thumbnails.pages == [1, 2, 4, 5]
    assert done.processing.error_code == "page_limit"


async def test_a_run_stops_after_its_time_limit_and_the_next_run_goes_on(world: World) -> None:
    world.policy = replace(world.policy, page_thumbnails_seconds=60)
    user = await world.user()
    score = await world.processed_score(user, pages=40)
    world.renderer.on_batch = lambda key, pages: world.clock.advance(40)  # every batch of 16 takes 40 s

    await world.request_page_thumbnails(user.id, score.id)
    await world.generate_all_thumbnails(score.id)
    stopped = world.stored_score(score.id)
    # The second batch had started before the first was stored and is kept; no third one started.
    assert stopped.page_thumbnails.pages == list(range(1, 33))
    assert stopped.processing.error_code == "time_limit"
    assert stopped.processing.error == (
        "Thumbnails stopped after 32 of 40 pages because rendering took longer than 60 seconds; "
        "generate them again to continue."
    )

    await world.request_page_thumbnails(user.id, score.id)
    await world.generate_all_thumbnails(score.id)
    done = world.stored_score(score.id)
    assert done.page_thumbnails.pages == list(range(1, 41))
    assert world.renderer.batches[-1] == list(range(33, 41))
    assert done.processing.error is None and done.processing.error_code is None
    assert not stopped.page_thumbnails.wanted and not done.page_thumbnails.wanted  # each run ended


async def test_an_unprocessed_score_is_inspected_first(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    world.renderer.infos[score.storage_key] = PdfInfo(3, METADATA)
    await world.generate_all_thumbnails(score.id)
    done = world.stored_score(score.id)
    assert done.processing.page_count == 3 and done.details.composer == "Beethoven"
    assert done.processing.status is ProcessingStatus.READY
    assert done.page_thumbnails.pages == [1, 2, 3]


async def test_an_unreadable_unprocessed_score_fails_without_thumbnails(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    world.renderer.infos[score.storage_key] = PdfError(PdfErrorKind.ENCRYPTED)
    await world.request_page_thumbnails(user.id, score.id)
    assert world.stored_score(score.id).page_thumbnails.wanted
    await world.generate_all_thumbnails(score.id)
    done = world.stored_score(score.id)
    assert done.processing.status is ProcessingStatus.FAILED
    assert done.processing.error == PdfErrorKind.ENCRYPTED.sentence
    assert not done.page_thumbnails.wanted  # the run ended: nothing to ask again after a restart
    assert world.renderer.batches == [] and page_keys(world, score) == []


async def test_a_score_that_failed_before_but_now_reads_is_no_longer_failed(world: World) -> None:
    """`failed` means the document cannot be read; once it is read, the score must not stay failed."""
    user = await world.user()
    score = await world.score(user)
    world.renderer.infos[score.storage_key] = PdfError(PdfErrorKind.CORRUPT, "The PDF took too long to read.")
    await world.process_score(score.id)
    world.renderer.infos[score.storage_key] = PdfInfo(2, PdfMetadata())
    await world.generate_all_thumbnails(score.id)
    done = world.stored_score(score.id)
    assert done.processing.page_count == 2 and done.page_thumbnails.pages == [1, 2]
    assert done.processing.status is not ProcessingStatus.FAILED or done.processing.error is not None
    assert done.processing.status is ProcessingStatus.READY


async def test_a_page_that_cannot_be_rendered_is_noted_and_the_others_kept(world: World) -> None:
    user = await world.user()
    score = await world.processed_score(user, pages=4)
    world.renderer.renders[(score.storage_key, 2)] = PdfError(PdfErrorKind.RENDER_TIMEOUT)
    await world.generate_all_thumbnails(score.id)
    done = world.stored_score(score.id)
    assert done.page_thumbnails.pages == [1, 3, 4]
    assert done.processing.status is ProcessingStatus.READY
    assert done.processing.error == "Page 2 took too long to render, so it has no thumbnail."
    assert page_key(score, 2) not in world.storage.objects


async def test_a_document_that_cannot_be_opened_for_rendering_is_asked_for_once(world: World) -> None:
    user = await world.user()
    score = await world.processed_score(user, pages=4 * PAGES_PER_BATCH)
    world.renderer.unopenable[score.storage_key] = PdfError(PdfErrorKind.RENDER_TIMEOUT, "too long to open")
    await world.generate_all_thumbnails(score.id)
    done = world.stored_score(score.id)
    assert len(world.renderer.batches) == 1
    assert done.processing.status is ProcessingStatus.READY and done.processing.page_count == 4 * PAGES_PER_BATCH
    assert done.processing.error_code == PdfErrorKind.RENDER_TIMEOUT and done.page_thumbnails.pages == []
    assert world.scratch.open_copies == 0


async def test_an_unexpected_page_error_is_raised_for_a_retry(world: World) -> None:
    user = await world.user()
    score = await world.processed_score(user, pages=3)
    world.renderer.renders[(score.storage_key, 2)] = OSError("worker pool broken")
    with pytest.raises(OSError, match="worker pool broken"):
        await world.generate_all_thumbnails(score.id)
    assert world.scratch.open_copies == 0


async def test_a_score_deleted_during_page_thumbnails_keeps_nothing_of_the_batch(world: World) -> None:
    user = await world.user()
    score = await world.processed_score(user, pages=4 * PAGES_PER_BATCH)

    def delete_during_second_batch(key: str, pages: list[int]) -> None:
        if pages[0] == PAGES_PER_BATCH + 1:
            world.db.scores.pop(score.id)

    world.renderer.on_batch = delete_during_second_batch
    await world.generate_all_thumbnails(score.id)
    # The third batch was already rendering when the second found the score gone; no fourth is started.
    assert len(world.renderer.batches) == 3
    assert page_keys(world, score) == sorted(page_key(score, page) for page in range(1, PAGES_PER_BATCH + 1))


async def test_the_next_batch_renders_while_the_current_one_is_stored(world: World) -> None:
    user = await world.user()
    score = await world.processed_score(user, pages=3 * PAGES_PER_BATCH)
    progress: list[int] = []
    world.renderer.on_batch = lambda key, pages: progress.append(world.db.scores[score.id].page_thumbnails.count)
    world.storage.on_put = lambda key: asyncio.sleep(0)  # a real store waits on the network

    await world.generate_all_thumbnails(score.id)

    # Batch 2 started before batch 1 was recorded, batch 3 before batch 2 was.
    assert progress == [0, 0, PAGES_PER_BATCH]
    assert world.stored_score(score.id).page_thumbnails.count == 3 * PAGES_PER_BATCH


async def test_a_storage_failure_stops_page_thumbnails_after_the_batch_in_flight(world: World) -> None:
    user = await world.user()
    score = await world.processed_score(user, pages=4 * PAGES_PER_BATCH)

    def fail_in_second_batch(key: str) -> None:
        if key == page_key(score, PAGES_PER_BATCH + 1):
            raise StorageUnavailable(key)

    world.storage.on_put = fail_in_second_batch

    with pytest.raises(StorageUnavailable):
        await world.generate_all_thumbnails(score.id)

    assert len(world.renderer.batches) == 3
    assert world.stored_score(score.id).page_thumbnails.count == PAGES_PER_BATCH
    assert world.scratch.open_copies == 0


async def test_generate_all_for_a_missing_score_does_nothing(world: World) -> None:
    await world.generate_all_thumbnails(uuid4())
    assert world.scratch.copies == [] and world.renderer.batches == []


# --- MarkProcessingFailed ------------------------------------------------------------------------


async def test_mark_failed_leaves_an_unread_score_pending_for_the_sweep_and_says_why(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    await world.mark_processing_failed(score.id)
    waiting = world.stored_score(score.id)
    assert (waiting.processing.status, waiting.processing.started_at) == (ProcessingStatus.PENDING, world.clock.now())
    assert waiting.processing.error == RESUMING
    world.queue.sent.clear()
    assert await world.sweep_stuck_scores() == 0  # not at once: storage gets a stuck-processing period
    world.clock.advance(world.policy.stuck_processing_seconds + 1)
    assert await world.sweep_stuck_scores() == 1
    assert [(t.name, t.args) for t in world.queue.sent] == [("process_score", (score.id,))]
    await world.process_score(score.id)
    done = world.stored_score(score.id)
    assert (done.processing.status, done.processing.error) == (ProcessingStatus.READY, None)


async def test_mark_failed_fails_an_unread_score_a_day_after_its_creation(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    world.clock.advance(RESUME_WITHIN.total_seconds())
    await world.mark_processing_failed(score.id)
    done = world.stored_score(score.id)
    assert done.processing.status is ProcessingStatus.FAILED
    assert done.processing.error == "Processing failed repeatedly; try refreshing the score's info."


async def test_refresh_info_makes_a_failed_score_pending_before_its_task_runs(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    world.renderer.infos[score.storage_key] = PdfError(PdfErrorKind.CORRUPT)
    await world.process_score(score.id)
    assert world.stored_score(score.id).processing.status is ProcessingStatus.FAILED
    del world.renderer.infos[score.storage_key]
    world.clock.advance(world.policy.stuck_processing_seconds + 1)  # older than a period: the sweep would see it
    world.queue.sent.clear()
    await world.request_info_refresh(user.id, score.id)
    waiting = world.stored_score(score.id)
    assert (waiting.processing.status, waiting.processing.error) == (ProcessingStatus.PENDING, None)
    assert await world.sweep_stuck_scores() == 0  # queued once, not again by the sweep
    assert [(t.name, t.args) for t in world.queue.sent] == [("process_score", (score.id,))]
    await world.process_score(score.id)
    assert world.stored_score(score.id).processing.status is ProcessingStatus.READY


async def test_mark_failed_keeps_a_ready_score_ready(world: World) -> None:
    """A thumbnail task that gave up on a readable document must not turn a ready score `failed`."""
    user = await world.user()
    score = await world.processed_score(user, pages=3)
    await world.mark_processing_failed(score.id)
    done = world.stored_score(score.id)
    assert done.processing.status is ProcessingStatus.READY
    assert done.processing.page_count == 3
    assert done.processing.error == "Processing failed repeatedly; try refreshing the score's info."


async def test_a_refresh_that_gives_up_leaves_a_score_read_before_ready(world: World) -> None:
    """refresh_info fails for a reason outside the document (here the renderer) until its task gives up: the
    document is still the readable one it was."""
    user = await world.user()
    score = await world.processed_score(user, pages=3)
    world.renderer.infos[score.storage_key] = ConnectionError("renderer unreachable")
    with pytest.raises(ConnectionError):
        await world.process_score(score.id)
    assert world.stored_score(score.id).processing.status is ProcessingStatus.PROCESSING
    await world.mark_processing_failed(score.id)
    done = world.stored_score(score.id)
    assert (done.processing.status, done.processing.page_count) == (ProcessingStatus.READY, 3)
    assert done.processing.error_code == "processing_failed"


async def test_a_chosen_cover_whose_rendering_gave_up_is_made_by_the_next_refresh(world: World) -> None:
    user = await world.user()
    score = await world.processed_score(user, pages=3)
    await world.request_cover(user.id, score.id, 2)  # its task then gave up
    await world.mark_processing_failed(score.id)
    assert covers(world, score) == [fake_jpeg(score.storage_key, 1)]
    await world.process_score(score.id)
    assert covers(world, score) == [fake_jpeg(score.storage_key, 2)]
    assert world.stored_score(score.id).processing.error is None


async def test_page_thumbnails_that_gave_up_say_so_and_ask_to_be_generated_again(world: World) -> None:
    user = await world.user()
    read = await world.processed_score(user, pages=3)
    await world.request_page_thumbnails(user.id, read.id)
    await world.mark_page_thumbnails_failed(read.id)
    done = world.stored_score(read.id)
    assert (done.processing.status, done.processing.error_code) == (ProcessingStatus.READY, "processing_failed")
    assert done.processing.error == PAGE_THUMBNAILS_FAILED  # not "try refreshing": that would not make them
    assert done.page_thumbnails.wanted  # an embedded server asks again when it starts

    unread = await world.score(user)
    await world.mark_page_thumbnails_failed(unread.id)
    assert world.stored_score(unread.id).processing.error == RESUMING  # as for any task: read it again later


async def test_mark_failed_on_a_missing_score_does_nothing(world: World) -> None:
    await world.mark_processing_failed(uuid4())
    assert world.db.scores == {}


# --- DeleteFiles ---------------------------------------------------------------------------------


async def test_delete_files_removes_keys_and_everything_under_the_prefix(world: World) -> None:
    user = await world.user()
    score = await world.processed_score(user, pages=2)
    await world.generate_all_thumbnails(score.id)
    other = await world.score(user)
    prefix = upload_prefix(user.id, score.upload_id)
    assert len(world.storage.keys_under(prefix)) == 4
    await world.delete_files([score.storage_key], prefix)
    assert world.storage.keys_under(prefix) == []
    assert other.storage_key in world.storage.objects


async def test_delete_files_twice_or_of_missing_keys_is_fine(world: World) -> None:
    world.storage.objects["u/scores/x/original.pdf"] = b"%PDF-"
    await world.delete_files(["u/scores/x/original.pdf", "never/existed.pdf"], None)
    await world.delete_files(["u/scores/x/original.pdf"], "u/scores/x/")
    assert world.storage.objects == {}
    assert world.storage.deleted_prefixes == ["u/scores/x/"]


async def test_a_cover_from_a_page_the_score_does_not_have_changes_nothing(world: World) -> None:
    user = await world.user()
    score = await world.processed_score(user, pages=3)
    world.renderer.rendered.clear()
    await world.generate_thumbnail(score.id, 5)
    assert world.renderer.rendered == []
    assert world.stored_score(score.id) == score


async def test_a_cover_asked_for_before_the_document_was_read_reads_it_first(world: World) -> None:
    user = await world.user()
    score = await world.score(user)  # still pending: no page count yet
    world.renderer.infos[score.storage_key] = PdfInfo(3, PdfMetadata())
    await world.request_cover(user.id, score.id, 9)
    await world.generate_thumbnail(score.id, 9)  # before process_pdf_info's own task
    stored = world.stored_score(score.id)
    assert (stored.processing.status, stored.processing.page_count) == (ProcessingStatus.READY, 3)
    assert stored.processing.error == "The PDF has no page 9, so the cover shows page 1."
    assert covers(world, stored) == [fake_jpeg(score.storage_key, 1)]
    assert world.renderer.rendered == [(score.storage_key, 1)]  # page 9 never asked of the renderer


# --- who the render work is for ------------------------------------------------------------------


async def test_render_calls_name_the_scores_owner_and_put_covers_before_bulk_pages(world: World) -> None:
    user = await world.user()
    score = await world.processed_score(user, pages=3)
    await world.choose_cover(user, score, 2)
    await world.generate_all_thumbnails(score.id)
    assert {owner for _, owner, _ in world.renderer.jobs} == {user.id}
    covers_and_pages = [(operation, priority) for operation, _, priority in world.renderer.jobs]
    # A new score's first look goes before everything else; the cover of page 2, asked for later, after it.
    assert covers_and_pages[:2] == [
        ("inspect", RenderPriority.FIRST_LOOK),
        ("render_thumbnail", RenderPriority.FIRST_LOOK),
    ]
    assert covers_and_pages.count(("render_thumbnail", RenderPriority.COVER)) == 1
    assert ("render_thumbnails", RenderPriority.PAGES) in covers_and_pages
    assert ("render_thumbnail", RenderPriority.PAGES) in covers_and_pages  # each page of the bulk run


# --- identical requests are merged ---------------------------------------------------------------


async def test_sixty_cover_requests_during_a_render_cost_two_renders_and_the_last_choice_wins(world: World) -> None:
    world.policy = replace(world.policy, score_action_rule=RateRule(limit=1000, window_seconds=60))
    user = await world.user()
    score = await world.processed_score(user, pages=5)
    world.renderer.rendered.clear()
    release = asyncio.Event()

    async def slow(key: str, page: int) -> None:
        await release.wait()

    world.renderer.on_render = slow
    runs = []
    for index in range(60):
        page = 2 if index < 59 else 3
        await world.request_cover(user.id, score.id, page)
        runs.append(asyncio.create_task(world.generate_thumbnail(score.id, page)))
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    assert sum(task.done() for task in runs) == 59  # merged into the run under way
    release.set()
    await asyncio.gather(*runs)
    assert len(world.renderer.rendered) == 2
    done = world.stored_score(score.id)
    assert done.cover.stored is not None and done.cover.stored.page == 3
    assert covers(world, done) == [fake_jpeg(score.storage_key, 3)]


async def test_refreshes_and_page_runs_asked_for_during_a_run_are_merged_into_one_more(world: World) -> None:
    world.policy = replace(world.policy, score_action_rule=RateRule(limit=1000, window_seconds=60))
    user = await world.user()
    score = await world.processed_score(user, pages=3)
    world.renderer.inspected.clear()
    release = asyncio.Event()

    async def slow(key: str) -> None:
        await release.wait()

    world.renderer.on_inspect = slow
    refreshes = []
    for _ in range(20):
        await world.request_info_refresh(user.id, score.id)
        refreshes.append(asyncio.create_task(world.process_score(score.id)))
        await asyncio.sleep(0)
    release.set()
    await asyncio.gather(*refreshes)
    assert len(world.renderer.inspected) == 2
    assert world.stored_score(score.id).processing.status is ProcessingStatus.READY

    world.renderer.batches.clear()
    await world.request_page_thumbnails(user.id, score.id)
    await asyncio.gather(*(world.generate_all_thumbnails(score.id) for _ in range(10)))
    assert world.renderer.batches == [[1, 2, 3]]  # the merged run found every page done
    assert world.stored_score(score.id).page_thumbnails.has(3)


async def test_thumbnail_ready_never_turns_true_while_the_score_is_pending(world: World) -> None:
    """Every state a client can read (each committed one) of a score whose cover is chosen, and its task run,
    before the document was read, then processed, then made of another page: a cover never shows without its
    page count, or while the score is pending."""
    user = await world.user()
    score = await world.score(user)
    world.renderer.infos[score.storage_key] = PdfInfo(5, PdfMetadata())
    seen: list[Score] = []

    async def snapshot() -> None:
        if score.id in world.db.scores:
            seen.append(world.stored_score(score.id))

    world.uow.on_enter = snapshot
    await world.request_cover(user.id, score.id, 2)
    await world.generate_thumbnail(score.id, 2)
    await world.process_score(score.id)
    await world.choose_cover(user, score, 4)
    await snapshot()

    assert seen[-1].cover.stored is not None and seen[-1].cover.stored.page == 4
    for before, after in itertools.pairwise(seen):
        if after.cover.ready and not before.cover.ready:
            assert after.processing.status is not ProcessingStatus.PENDING, after
    assert all(state.processing.page_count is not None for state in seen if state.cover.ready)


async def test_a_cover_stored_by_a_worker_that_died_before_recording_it_is_replaced_not_left_behind(
    world: World,
) -> None:
    user = await world.user()
    score = await world.score(user)
    world.renderer.infos[score.storage_key] = PdfInfo(2, PdfMetadata())
    leftover = cover_thumbnail_key(user.id, score.upload_id, "p1")
    world.storage.objects[leftover] = b"stored, then the worker was killed"
    await world.process_score(score.id)  # the task again, on another worker
    await world.choose_cover(user, score, 1)  # and once more
    done = world.stored_score(score.id)
    assert done.cover.stored is not None and done.cover.stored.key == leftover
    assert covers(world, done) == [fake_jpeg(score.storage_key, 1)]
