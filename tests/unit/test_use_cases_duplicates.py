"""Checksums of stored PDFs, the duplicate_score refusal of RequestUploadUrl, ListDuplicates and BackfillChecksums."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from application.duplicates import BackfillChecksums, ListDuplicates
from application.ports import RateRule
from domain.errors import DuplicateScore, TooManyRequests, ValidationError
from domain.pdf import PdfError, PdfErrorKind
from domain.scores import DetailChanges, ProcessingStatus, Score
from domain.users import User
from tests.unit.conftest import World, pdf_bytes


def content(number: int, size: int = 1000) -> bytes:
    """A valid PDF of `size` bytes, different for each number."""
    return pdf_bytes(size)[:-8] + f"{number:08d}".encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def score_of(world: World, user: User, data: bytes, title: str = "Sonata", *, processed: bool = True) -> Score:
    upload = await world.pending_upload(user, len(data), content=data)
    score = await world.create_score(user.id, upload.id, DetailChanges(title=title))
    if processed:
        await world.process_score(score.id)
    return world.stored_score(score.id)


def trash(world: World, score: Score) -> None:
    """As the trash does (built elsewhere): only deleted_at is set."""
    world.put_score(replace(world.stored_score(score.id), deleted_at=world.clock.now()))


async def request_url(world: World, user: User, data: bytes, sha: str | None, *, allow: bool = False) -> object:
    return await world.request_upload_url(user.id, "copy.pdf", "application/pdf", len(data), sha, allow_duplicate=allow)


# --- the server's checksum -----------------------------------------------------------------------


async def test_processing_records_the_sha256_of_the_stored_bytes(world: World) -> None:
    user = await world.user()
    data = content(1)
    score = await score_of(world, user, data, processed=False)
    assert score.checksum_sha256 is None
    await world.process_score(score.id)
    done = world.stored_score(score.id)
    assert done.processing.status is ProcessingStatus.READY
    assert done.checksum_sha256 == sha256(data)
    assert world.scratch.copies == [score.storage_key]  # hashed from the one copy the renderer read


async def test_a_document_that_fails_still_gets_its_checksum(world: World) -> None:
    user = await world.user()
    data = content(2)
    score = await score_of(world, user, data, processed=False)
    world.renderer.infos[score.storage_key] = PdfError(PdfErrorKind.CORRUPT, "broken xref")
    await world.process_score(score.id)
    done = world.stored_score(score.id)
    assert done.processing.status is ProcessingStatus.FAILED
    assert done.checksum_sha256 == sha256(data)


# --- the early refusal on upload-url -------------------------------------------------------------


async def test_a_file_the_user_has_is_refused_and_nothing_is_reserved(world: World) -> None:
    user = await world.user()
    data = content(3)
    score = await score_of(world, user, data)
    usage, uploads = await world.usage(user.id), dict(world.db.uploads)
    with pytest.raises(DuplicateScore) as refused:
        await request_url(world, user, data, sha256(data).upper())
    assert refused.value.code == "duplicate_score"
    assert refused.value.extra == {"score_id": str(score.id), "in_trash": False}
    assert await world.usage(user.id) == usage
    assert world.db.uploads == uploads


async def test_refused_duplicates_count_against_the_upload_rate(world: World) -> None:
    """Each refusal costs a read, so a script sending hashes is throttled like any other upload-url caller."""
    world.policy = replace(world.policy, upload_rate_rule=RateRule(limit=3, window_seconds=60))
    user = await world.user()
    data = content(3)
    await score_of(world, user, data)
    for _ in range(2):
        with pytest.raises(DuplicateScore):
            await request_url(world, user, data, sha256(data))
    with pytest.raises(TooManyRequests):
        await request_url(world, user, data, sha256(data))


async def test_a_duplicate_in_the_trash_says_so(world: World) -> None:
    user = await world.user()
    data = content(5)
    score = await score_of(world, user, data)
    trash(world, score)
    with pytest.raises(DuplicateScore) as refused:
        await request_url(world, user, data, sha256(data))
    assert (refused.value.score_id, refused.value.in_trash) == (score.id, True)


async def test_a_copy_in_the_library_is_named_before_one_in_the_trash(world: World) -> None:
    user = await world.user()
    data = content(6)
    trashed = await score_of(world, user, data, "First")
    trash(world, trashed)
    kept = await score_of(world, user, data, "Second")
    with pytest.raises(DuplicateScore) as refused:
        await request_url(world, user, data, sha256(data))
    assert (refused.value.score_id, refused.value.in_trash) == (kept.id, False)


async def test_allow_duplicate_reserves_as_usual(world: World) -> None:
    user = await world.user()
    data = content(7)
    await score_of(world, user, data)
    used, reserved = await world.usage(user.id)
    await request_url(world, user, data, sha256(data), allow=True)
    assert await world.usage(user.id) == (used, reserved + len(data))


async def test_another_users_score_is_no_duplicate(world: World) -> None:
    ann, bob = await world.user(), await world.user()
    data = content(8)
    await score_of(world, ann, data)
    await request_url(world, bob, data, sha256(data))
    assert await world.usage(bob.id) == (0, len(data))


async def test_a_wrong_sha256_only_skips_the_check_and_the_server_computes_its_own(world: World) -> None:
    user = await world.user()
    data = content(9)
    wrong = "0" * 64
    ticket = await world.request_upload_url(user.id, "a.pdf", "application/pdf", len(data), wrong)
    world.storage.objects[ticket.upload.storage_key] = data
    score = await world.create_score(user.id, ticket.upload.id, DetailChanges(title="A"))
    await world.process_score(score.id)
    assert world.stored_score(score.id).checksum_sha256 == sha256(data)


@pytest.mark.parametrize("bad", ["", "abc", "g" * 64, "a" * 63, "a" * 65, "a" * 63 + "\n", "é" * 64])
async def test_a_sha256_that_is_not_64_hex_digits_is_invalid(world: World, bad: str) -> None:
    user = await world.user()
    with pytest.raises(ValidationError):
        await world.request_upload_url(user.id, "a.pdf", "application/pdf", 10, bad)
    assert await world.usage(user.id) == (0, 0)


# --- ListDuplicates ------------------------------------------------------------------------------


async def test_duplicates_are_groups_of_two_or_more_scores_outside_the_trash(world: World) -> None:
    ann, bob = await world.user(), await world.user()
    twice, thrice, once, trashed_pair = content(10), content(11), content(12), content(13)
    a1 = await score_of(world, ann, thrice, "A1")
    world.clock.advance(1)
    b1 = await score_of(world, ann, twice, "B1")
    world.clock.advance(1)
    a2 = await score_of(world, ann, thrice, "A2")
    world.clock.advance(1)
    b2 = await score_of(world, ann, twice, "B2")
    world.clock.advance(1)
    a3 = await score_of(world, ann, thrice, "A3")
    await score_of(world, ann, once, "Alone")
    t1 = await score_of(world, ann, trashed_pair, "T1")
    await score_of(world, ann, trashed_pair, "T2")
    trash(world, t1)  # one left outside the trash: no longer a group
    await score_of(world, bob, once, "Bob's copy")  # other users' scores never count

    page = await world.get(ListDuplicates)(ann.id, 20, 0)
    assert page.total == 2
    assert [group.checksum_sha256 for group in page.items] == [sha256(thrice), sha256(twice)]
    assert [[s.id for s in group.scores] for group in page.items] == [[a1.id, a2.id, a3.id], [b1.id, b2.id]]
    assert [group.size_bytes for group in page.items] == [len(thrice), len(twice)]
    assert page.items[0].scores[0].checksum_sha256 == sha256(thrice)

    second = await world.get(ListDuplicates)(ann.id, 1, 1)
    assert (second.total, [g.checksum_sha256 for g in second.items]) == (2, [sha256(twice)])
    assert (await world.get(ListDuplicates)(bob.id, 20, 0)).total == 0


# --- BackfillChecksums ---------------------------------------------------------------------------


async def test_the_backfill_hashes_processed_scores_without_a_checksum(world: World) -> None:
    user = await world.user()
    ready, failed, pending, gone = content(20), content(21), content(22), content(23)
    scores = {}
    for data in (ready, failed, gone):
        score = await score_of(world, user, data)
        world.put_score(replace(score, checksum_sha256=None))  # stored before checksums were kept
        scores[data] = score
    failed_score = world.stored_score(scores[failed].id)
    failed_score.processing.status = ProcessingStatus.FAILED
    world.put_score(failed_score)
    waiting = await score_of(world, user, pending, processed=False)  # processing will hash it
    trash(world, scores[ready])  # a trashed score still counts for upload-url's check
    del world.storage.objects[scores[gone].storage_key]

    assert await world.get(BackfillChecksums)() == 2
    assert world.stored_score(scores[ready].id).checksum_sha256 == sha256(ready)
    assert world.stored_score(scores[failed].id).checksum_sha256 == sha256(failed)
    assert world.stored_score(scores[gone].id).checksum_sha256 is None
    assert world.stored_score(waiting.id).checksum_sha256 is None
    assert await world.get(BackfillChecksums)() == 0


async def test_the_backfill_does_a_batch_per_run_and_goes_past_unreadable_files(world: World) -> None:
    world.policy = replace(world.policy, maintenance_batch_size=2)
    user = await world.user()
    scores = []
    for number in range(5):
        score = await score_of(world, user, content(30 + number))
        world.put_score(replace(score, checksum_sha256=None))
        scores.append(score)
    unreadable = sorted(scores, key=lambda s: s.id)[:2]  # the first batch in id order
    for score in unreadable:
        del world.storage.objects[score.storage_key]
    assert await world.get(BackfillChecksums)() == 2
    assert await world.get(BackfillChecksums)() == 1
    missing = {s.id for s in scores if world.stored_score(s.id).checksum_sha256 is None}
    assert missing == {s.id for s in unreadable}
