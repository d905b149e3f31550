"""RequestUploadUrl, ConfirmUpload and CancelUpload: quota reservations and the stored-object checks."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest

from adapters.memory.quota_ledger import InMemoryQuotaLedger
from application.ports import RateRule, StoredObject
from domain.errors import (
    AlreadyConfirmed,
    ErrorKind,
    FileTooLarge,
    InvalidMimeType,
    NotAPdf,
    NotAuthenticated,
    QuotaExceeded,
    SizeMismatch,
    TooManyRequests,
    UploadIncomplete,
    UploadNotFound,
    ValidationError,
)
from domain.scores import DetailChanges
from domain.uploads import MAGIC_SEARCH_BYTES, UploadStatus, storage_key_for
from tests.unit.conftest import World, pdf_bytes
from tests.unit.fakes import STORAGE_URL

# --- RequestUploadUrl ----------------------------------------------------------------------------


async def test_an_upload_url_reserves_quota_and_signs_a_put(world: World) -> None:
    user = await world.user()
    now = world.clock.now()
    ticket = await world.request_upload_url(user.id, "Sonata.pdf", "application/pdf", 1234)
    upload = ticket.upload
    assert upload.user_id == user.id
    assert upload.status is UploadStatus.PENDING
    assert upload.filename == "Sonata.pdf" and upload.size_bytes == 1234
    assert upload.content_type == "application/pdf"
    assert upload.storage_key == storage_key_for(user.id, upload.id) == f"{user.id}/scores/{upload.id}/original.pdf"
    assert upload.expires_at == now + timedelta(seconds=world.policy.reservation_ttl_seconds)
    assert ticket.expires_in == world.policy.presign_expiry_seconds
    assert ticket.request.method == "PUT"
    assert ticket.request.headers["Content-Type"] == "application/pdf"
    assert ticket.request.url.startswith(f"{STORAGE_URL}/{upload.storage_key}")
    assert ticket.request.expires_at == now + timedelta(seconds=world.policy.presign_expiry_seconds)
    assert world.stored_upload(upload.id) == upload
    assert await world.usage(user.id) == (0, 1234)


async def test_the_filename_is_kept_as_a_label_without_its_path(world: World) -> None:
    user = await world.user()
    ticket = await world.request_upload_url(user.id, "../../etc/passwd.pdf", "application/pdf", 10)
    assert ticket.upload.filename == "passwd.pdf"
    assert ticket.upload.storage_key.endswith("/original.pdf")
    assert ".." not in ticket.upload.storage_key


async def test_reservations_add_up_to_the_limit_exactly(world: World) -> None:
    user = await world.user()
    limit = world.policy.default_quota_bytes
    half = world.policy.max_upload_bytes
    await world.request_upload_url(user.id, "a.pdf", "application/pdf", half)
    await world.request_upload_url(user.id, "b.pdf", "application/pdf", limit - half)
    assert await world.usage(user.id) == (0, limit)


async def test_quota_exceeded_reserves_nothing_and_stores_nothing(world: World) -> None:
    user = await world.user()
    limit, size = world.policy.default_quota_bytes, world.policy.max_upload_bytes
    await world.request_upload_url(user.id, "a.pdf", "application/pdf", size)
    await world.request_upload_url(user.id, "b.pdf", "application/pdf", limit - size - 10)
    uploads_before = dict(world.db.uploads)
    with pytest.raises(QuotaExceeded) as error:
        await world.request_upload_url(user.id, "c.pdf", "application/pdf", 11)
    assert error.value.code == "quota_exceeded"
    assert error.value.kind is ErrorKind.CONFLICT
    assert "10 bytes" in error.value.detail
    assert await world.usage(user.id) == (0, limit - 10)
    assert world.db.uploads.keys() == uploads_before.keys()
    # what still fits is granted
    await world.request_upload_url(user.id, "d.pdf", "application/pdf", 10)
    assert await world.usage(user.id) == (0, limit)


async def test_used_bytes_count_against_the_quota(world: World) -> None:
    user = await world.user()
    limit = world.policy.default_quota_bytes
    await world.confirmed_upload(user, world.policy.max_upload_bytes)
    await world.confirmed_upload(user, limit - world.policy.max_upload_bytes - 1000)
    with pytest.raises(QuotaExceeded):
        await world.request_upload_url(user.id, "b.pdf", "application/pdf", 1001)
    assert await world.usage(user.id) == (limit - 1000, 0)


async def test_quota_is_per_user(world: World) -> None:
    ann, bob = await world.user(), await world.user()
    size = world.policy.max_upload_bytes
    for _ in range(world.policy.default_quota_bytes // size):
        await world.request_upload_url(ann.id, "a.pdf", "application/pdf", size)
    with pytest.raises(QuotaExceeded):
        await world.request_upload_url(ann.id, "a.pdf", "application/pdf", 1)
    await world.request_upload_url(bob.id, "b.pdf", "application/pdf", size)
    assert await world.usage(bob.id) == (0, size)


async def test_lapsed_reservations_free_their_bytes(world: World) -> None:
    user = await world.user()
    limit = world.policy.default_quota_bytes
    size = world.policy.max_upload_bytes
    for _ in range(limit // size):
        await world.request_upload_url(user.id, "a.pdf", "application/pdf", size)
    world.clock.advance(world.policy.reservation_ttl_seconds)
    await world.request_upload_url(user.id, "b.pdf", "application/pdf", size)
    assert await world.usage(user.id) == (0, size)


@pytest.mark.parametrize(("filename", "content_type"), [("a.pdf", "image/png"), ("a.docx", "application/pdf")])
async def test_non_pdf_requests_are_invalid_mime_types(world: World, filename: str, content_type: str) -> None:
    user = await world.user()
    with pytest.raises(InvalidMimeType) as error:
        await world.request_upload_url(user.id, filename, content_type, 100)
    assert error.value.code == "invalid_mime_type"
    assert await world.usage(user.id) == (0, 0)
    assert world.db.uploads == {}


async def test_files_above_the_upload_limit_are_too_large(world: World) -> None:
    user = await world.user()
    limit = world.policy.max_upload_bytes
    with pytest.raises(FileTooLarge) as error:
        await world.request_upload_url(user.id, "a.pdf", "application/pdf", limit + 1)
    assert error.value.code == "file_too_large"
    assert error.value.kind is ErrorKind.TOO_LARGE
    assert await world.usage(user.id) == (0, 0)
    ticket = await world.request_upload_url(user.id, "a.pdf", "application/pdf", limit)
    assert ticket.upload.size_bytes == limit


async def test_a_size_below_one_is_a_validation_error(world: World) -> None:
    user = await world.user()
    with pytest.raises(ValidationError) as error:
        await world.request_upload_url(user.id, "a.pdf", "application/pdf", 0)
    assert error.value.code == "validation_error"


async def test_upload_urls_are_rate_limited_per_user(world: World) -> None:
    ann, bob = await world.user(), await world.user()
    rule = world.policy.upload_rate_rule
    for _ in range(rule.limit):
        await world.request_upload_url(ann.id, "a.pdf", "application/pdf", 1)
    reserved = await world.usage(ann.id)
    with pytest.raises(TooManyRequests) as error:
        await world.request_upload_url(ann.id, "a.pdf", "application/pdf", 1)
    assert error.value.code == "too_many_requests"
    assert error.value.retry_after == rule.window_seconds
    assert await world.usage(ann.id) == reserved
    assert len([u for u in world.db.uploads.values() if u.user_id == ann.id]) == rule.limit
    # others are not affected, and the window passes
    await world.request_upload_url(bob.id, "b.pdf", "application/pdf", 1)
    world.clock.advance(rule.window_seconds)
    await world.request_upload_url(ann.id, "a.pdf", "application/pdf", 1)


async def test_an_unknown_user_cannot_request_an_upload(world: World) -> None:
    with pytest.raises(NotAuthenticated):
        await world.request_upload_url(uuid4(), "a.pdf", "application/pdf", 1)


# --- ConfirmUpload -------------------------------------------------------------------------------


async def test_confirm_turns_the_reservation_into_used_bytes(world: World) -> None:
    user = await world.user()
    upload = await world.pending_upload(user, 2000)
    world.clock.advance(60)
    confirmed = await world.confirm_upload(user.id, upload.id)
    assert confirmed.status is UploadStatus.CONFIRMED
    assert confirmed.confirmed_at == world.clock.now()
    assert world.stored_upload(upload.id).status is UploadStatus.CONFIRMED
    assert await world.usage(user.id) == (2000, 0)


async def test_confirm_reads_only_the_head_of_the_object(world: World) -> None:
    user = await world.user()
    upload = await world.pending_upload(user, 5000)
    await world.confirm_upload(user.id, upload.id)
    assert world.storage.head_reads == [(upload.storage_key, MAGIC_SEARCH_BYTES)]
    assert world.storage.downloads == []


async def test_storage_is_read_with_no_transaction_open(world: World) -> None:
    """A slow storage must not hold a row lock or a database connection: confirm and score creation read first."""
    user = await world.user()
    read, stat = world.storage.read_head, world.storage.stat
    during_reads: list[bool] = []

    async def stat_watched(key: str) -> StoredObject | None:
        during_reads.append(world.uow.active)
        return await stat(key)

    async def read_watched(key: str, length: int) -> bytes:
        during_reads.append(world.uow.active)
        return await read(key, length)

    world.storage.stat, world.storage.read_head = stat_watched, read_watched  # type: ignore[method-assign]
    await world.confirmed_upload(user, 2000)
    await world.score(user)
    assert during_reads == [False] * 4


async def test_confirm_twice_counts_the_quota_once(world: World) -> None:
    user = await world.user()
    upload = await world.pending_upload(user, 2000)
    first = await world.confirm_upload(user.id, upload.id)
    world.clock.advance(120)
    second = await world.confirm_upload(user.id, upload.id)
    assert second.status is UploadStatus.CONFIRMED
    assert second.confirmed_at == first.confirmed_at
    assert await world.usage(user.id) == (2000, 0)
    assert len(world.storage.head_reads) == 1  # the stored bytes were checked once


async def test_confirm_before_the_bytes_arrive_is_upload_incomplete(world: World) -> None:
    user = await world.user()
    ticket = await world.request_upload_url(user.id, "a.pdf", "application/pdf", 500)
    with pytest.raises(UploadIncomplete) as error:
        await world.confirm_upload(user.id, ticket.upload.id)
    assert error.value.code == "upload_incomplete"
    assert error.value.kind is ErrorKind.CONFLICT
    assert world.stored_upload(ticket.upload.id).status is UploadStatus.PENDING
    assert await world.usage(user.id) == (0, 500)
    # once the bytes are there, confirming works
    world.storage.objects[ticket.upload.storage_key] = pdf_bytes(500)
    assert (await world.confirm_upload(user.id, ticket.upload.id)).status is UploadStatus.CONFIRMED


@pytest.mark.parametrize(
    ("content", "error_type", "code"),
    [
        (pdf_bytes(499), SizeMismatch, "size_mismatch"),
        (pdf_bytes(501), SizeMismatch, "size_mismatch"),
        (b"PK\x03\x04" + b"z" * 496, NotAPdf, "not_a_pdf"),
        (b"x" * 500, NotAPdf, "not_a_pdf"),
    ],
)
async def test_bad_bytes_are_deleted_and_the_reservation_released(
    world: World, content: bytes, error_type: type[Exception], code: str
) -> None:
    user = await world.user()
    upload = await world.pending_upload(user, 500, content=content)
    with pytest.raises(error_type) as error:
        await world.confirm_upload(user.id, upload.id)
    assert getattr(error.value, "code", None) == code
    assert upload.storage_key not in world.storage.objects
    assert await world.usage(user.id) == (0, 0)
    assert world.stored_upload(upload.id).status is UploadStatus.REJECTED
    with pytest.raises(error_type) as again:  # confirming again answers the same
        await world.confirm_upload(user.id, upload.id)
    assert getattr(again.value, "code", None) == code
    assert str(again.value) == str(error.value)
    assert await world.usage(user.id) == (0, 0)
    assert world.stored_upload(upload.id).storage_to_clear  # the URL may still store bytes: cleared later


async def test_a_signature_after_1024_bytes_is_not_a_pdf(world: World) -> None:
    user = await world.user()
    content = pdf_bytes(3000, magic_offset=MAGIC_SEARCH_BYTES)
    upload = await world.pending_upload(user, 3000, content=content)
    with pytest.raises(NotAPdf):
        await world.confirm_upload(user.id, upload.id)
    assert await world.usage(user.id) == (0, 0)


async def test_a_signature_after_some_junk_within_1024_bytes_is_accepted(world: World) -> None:
    user = await world.user()
    content = pdf_bytes(3000, magic_offset=MAGIC_SEARCH_BYTES - 9)
    upload = await world.pending_upload(user, 3000, content=content)
    assert (await world.confirm_upload(user.id, upload.id)).status is UploadStatus.CONFIRMED
    assert await world.usage(user.id) == (3000, 0)


async def test_another_users_upload_is_not_found(world: World) -> None:
    ann, bob = await world.user(), await world.user()
    upload = await world.pending_upload(ann, 500)
    with pytest.raises(UploadNotFound) as error:
        await world.confirm_upload(bob.id, upload.id)
    assert error.value.code == "upload_not_found"
    assert error.value.kind is ErrorKind.NOT_FOUND
    assert world.stored_upload(upload.id).status is UploadStatus.PENDING
    assert await world.usage(ann.id) == (0, 500)
    assert await world.usage(bob.id) == (0, 0)


async def test_an_unknown_upload_is_not_found(world: World) -> None:
    user = await world.user()
    with pytest.raises(UploadNotFound):
        await world.confirm_upload(user.id, uuid4())


async def test_an_expired_upload_is_not_found_and_its_quota_released(world: World) -> None:
    user = await world.user()
    upload = await world.pending_upload(user, 700)
    # the database says the reservation ended before the ledger entry lapses, so the release is observable
    stored = world.stored_upload(upload.id)
    stored.expires_at = world.clock.now() + timedelta(seconds=10)
    world.db.uploads[upload.id] = stored
    world.clock.advance(10)
    assert await world.usage(user.id) == (0, 700)
    with pytest.raises(UploadNotFound) as error:
        await world.confirm_upload(user.id, upload.id)
    assert error.value.code == "upload_not_found"
    assert world.stored_upload(upload.id).status is UploadStatus.EXPIRED
    assert upload.storage_key not in world.storage.objects
    assert await world.usage(user.id) == (0, 0)


async def test_a_cancelled_upload_cannot_be_confirmed(world: World) -> None:
    user = await world.user()
    upload = await world.pending_upload(user, 700)
    await world.cancel_upload(user.id, upload.id)
    with pytest.raises(UploadNotFound):
        await world.confirm_upload(user.id, upload.id)
    assert await world.usage(user.id) == (0, 0)


async def test_confirm_after_the_ledger_lost_the_reservation_still_counts_the_bytes(world: World) -> None:
    user = await world.user()
    upload = await world.pending_upload(user, 700)
    world.wipe_ledger()
    await world.confirm_upload(user.id, upload.id)
    assert await world.usage(user.id) == (700, 0)


async def test_a_reservation_lapsing_during_confirm_cannot_take_room_given_away(world: World) -> None:
    """The database still said pending when confirm began; the ledger had let the reservation lapse and granted
    its room to another upload meanwhile. Confirming both would pass the limit."""
    user = await world.user()
    late = await world.pending_upload(user, 40_000)
    world.clock.advance(world.policy.reservation_ttl_seconds)
    taking_its_room = [await world.pending_upload(user, 40_000) for _ in range(2)]
    stored = world.stored_upload(late.id)
    stored.expires_at = world.clock.now() + timedelta(seconds=1)  # as if the confirm had started a moment ago
    world.db.uploads[late.id] = stored

    with pytest.raises(UploadNotFound):
        await world.confirm_upload(user.id, late.id)

    assert world.stored_upload(late.id).status is UploadStatus.EXPIRED
    assert late.storage_key not in world.storage.objects
    for upload in taking_its_room:
        await world.confirm_upload(user.id, upload.id)
    assert await world.usage(user.id) == (80_000, 0)


async def test_a_confirm_the_ledger_cannot_count_confirms_nothing(world: World) -> None:
    user = await world.user()
    upload = await world.pending_upload(user, 700)
    world.ledger = UnreachableLedger(clock=world.clock.timestamp)
    with pytest.raises(ConnectionError):
        await world.confirm_upload(user.id, upload.id)
    with pytest.raises(ConnectionError):
        await world.create_score(user.id, upload.id, DetailChanges(title="Etude"))
    assert world.stored_upload(upload.id).status is UploadStatus.PENDING
    assert world.db.scores == {}


# --- CancelUpload --------------------------------------------------------------------------------


async def test_cancel_releases_the_reservation_and_deletes_the_bytes(world: World) -> None:
    user = await world.user()
    upload = await world.pending_upload(user, 900)
    cancelled = await world.cancel_upload(user.id, upload.id)
    assert cancelled.status is UploadStatus.CANCELLED
    assert world.stored_upload(upload.id).status is UploadStatus.CANCELLED
    assert await world.usage(user.id) == (0, 0)
    assert upload.storage_key not in world.storage.objects


async def test_cancel_before_any_bytes_arrived_is_fine(world: World) -> None:
    user = await world.user()
    ticket = await world.request_upload_url(user.id, "a.pdf", "application/pdf", 900)
    cancelled = await world.cancel_upload(user.id, ticket.upload.id)
    assert cancelled.status is UploadStatus.CANCELLED
    assert await world.usage(user.id) == (0, 0)


async def test_cancel_is_idempotent(world: World) -> None:
    user = await world.user()
    other = await world.pending_upload(user, 100)
    upload = await world.pending_upload(user, 900)
    await world.cancel_upload(user.id, upload.id)
    commits = world.uow.commits
    again = await world.cancel_upload(user.id, upload.id)
    assert again.status is UploadStatus.CANCELLED
    assert world.uow.commits == commits
    assert await world.usage(user.id) == (0, 100)
    assert world.stored_upload(other.id).status is UploadStatus.PENDING


async def test_a_confirmed_upload_cannot_be_cancelled(world: World) -> None:
    user = await world.user()
    upload = await world.confirmed_upload(user, 900)
    with pytest.raises(AlreadyConfirmed) as error:
        await world.cancel_upload(user.id, upload.id)
    assert error.value.code == "already_confirmed"
    assert error.value.kind is ErrorKind.CONFLICT
    assert await world.usage(user.id) == (900, 0)
    assert upload.storage_key in world.storage.objects
    assert world.stored_upload(upload.id).status is UploadStatus.CONFIRMED


async def test_cancel_of_another_users_or_an_unknown_upload_is_not_found(world: World) -> None:
    ann, bob = await world.user(), await world.user()
    upload = await world.pending_upload(ann, 900)
    for user_id, upload_id in ((bob.id, upload.id), (ann.id, uuid4())):
        with pytest.raises(UploadNotFound) as error:
            await world.cancel_upload(user_id, upload_id)
        assert error.value.code == "upload_not_found"
    assert await world.usage(ann.id) == (0, 900)
    assert upload.storage_key in world.storage.objects


# --- abuse limits and failures of the ledger -------------------------------------------------------


async def test_pending_uploads_per_user_are_bounded(world: World) -> None:
    world.policy = replace(world.policy, max_pending_uploads=3, upload_rate_rule=RateRule(1000, 60))
    user = await world.user()
    tickets = []
    for _ in range(3):
        tickets.append(await world.request_upload_url(user.id, "a.pdf", "application/pdf", 10))
        world.clock.advance(100)
    with pytest.raises(TooManyRequests) as refused:
        await world.request_upload_url(user.id, "a.pdf", "application/pdf", 10)
    assert refused.value.code == "too_many_requests"
    # Waiting helps once the oldest reservation has expired.
    assert refused.value.retry_after == world.policy.reservation_ttl_seconds - 300
    assert await world.usage(user.id) == (0, 30)
    await world.cancel_upload(user.id, tickets[0].upload.id)
    await world.request_upload_url(user.id, "a.pdf", "application/pdf", 10)
    world.clock.advance(world.policy.reservation_ttl_seconds)
    await world.request_upload_url(user.id, "a.pdf", "application/pdf", 10)  # expired ones no longer count
    # Each count is taken with the user's row locked, so concurrent requests cannot pass the bound together.
    assert world.uow.users.locked == [user.id] * 6


class BrokenLedger(InMemoryQuotaLedger):
    async def reserve(self, *args: object, **kwargs: object) -> bool:
        raise ConnectionError("ledger unreachable")


class UnreachableLedger(BrokenLedger):
    async def confirm(self, *args: object, **kwargs: object) -> bool:
        raise ConnectionError("ledger unreachable")


async def test_a_ledger_failure_leaves_no_pending_upload_behind(world: World) -> None:
    user = await world.user()
    world.ledger = BrokenLedger(clock=world.clock.timestamp)
    with pytest.raises(ConnectionError):
        await world.request_upload_url(user.id, "a.pdf", "application/pdf", 10)
    assert world.db.uploads == {}


async def test_confirm_racing_a_cancel_that_deletes_the_file_answers_upload_not_found(world: World) -> None:
    """The file is gone between the look at its size and the read of its first bytes: the cancel wins."""
    user = await world.user()
    upload = await world.pending_upload(user)
    read_head = world.storage.read_head

    async def cancelled_meanwhile(key: str, length: int) -> bytes:
        await world.cancel_upload(user.id, upload.id)
        return await read_head(key, length)

    world.storage.read_head = cancelled_meanwhile  # type: ignore[method-assign]
    with pytest.raises(UploadNotFound):
        await world.confirm_upload(user.id, upload.id)
    assert world.stored_upload(upload.id).status is UploadStatus.CANCELLED
    assert await world.usage(user.id) == (0, 0)
