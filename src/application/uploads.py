"""The presigned upload flow: reserve quota and sign a URL, then confirm or cancel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID, uuid4

from application.accounts import existing_user
from application.aftercare import UploadAftercare
from application.duplicates import refuse_duplicate
from application.policy import Policy
from application.ports import (
    Clock,
    ObjectStorage,
    PresignedRequest,
    QuotaLedger,
    RateLimiter,
    UnitOfWork,
    quota_of,
)
from domain.errors import (
    NotAPdf,
    QuotaExceeded,
    SizeMismatch,
    TooManyRequests,
    UploadIncomplete,
    UploadNotFound,
)
from domain.uploads import (
    MAGIC_SEARCH_BYTES,
    PDF_CONTENT_TYPE,
    Upload,
    UploadStatus,
    check_stored_object,
    normalized_sha256,
    storage_key_for,
    upload_id_of_original,
    validate_upload_request,
)


@dataclass(frozen=True)
class UploadTicket:
    upload: Upload
    request: PresignedRequest
    expires_in: int


async def owned_upload(uow: UnitOfWork, user_id: UUID, upload_id: UUID, *, for_update: bool = True) -> Upload:
    """The user's upload, by default locked until the transaction ends: confirm, cancel and expiry must not
    interleave."""
    upload = await uow.uploads.get(upload_id, for_update=for_update)
    if upload is None or upload.user_id != user_id:
        raise UploadNotFound()
    return upload


class RequestUploadUrl:
    """Reserve quota for a PDF and return a presigned request that stores it straight in storage.

    The reservation is atomic in the ledger, which also bounds the user's pending uploads: concurrent requests,
    in any number of API processes, can never pass the quota limit or hold more than `max_pending_uploads`
    reservations, and no request waits on another's lock. It lives until confirm (it becomes used), cancel, or
    the reservation TTL (released by the expiry task). A refused request leaves no upload behind.

    With the client's `sha256` of the file, and unless `allow_duplicate`, a file of which the user already has a
    score (in the trash or not) is refused with DuplicateScore before anything is reserved. The client's
    hash serves only this early check: a score's checksum is always the server's own (ProcessScore).
    """

    def __init__(
        self,
        uow: UnitOfWork,
        ledger: QuotaLedger,
        storage: ObjectStorage,
        limiter: RateLimiter,
        clock: Clock,
        policy: Policy,
    ) -> None:
        self._uow = uow
        self._ledger = ledger
        self._storage = storage
        self._limiter = limiter
        self._clock = clock
        self._policy = policy

    async def __call__(
        self,
        user_id: UUID,
        filename: str,
        content_type: str,
        size_bytes: int,
        sha256: str | None = None,
        *,
        allow_duplicate: bool = False,
    ) -> UploadTicket:
        policy = self._policy
        filename = validate_upload_request(filename, content_type, size_bytes, policy.max_upload_bytes)
        checksum = None if sha256 is None else normalized_sha256(sha256)
        await self._count_request(user_id)  # a refused duplicate counts too: each costs a read
        if checksum is not None and not allow_duplicate:
            await refuse_duplicate(self._uow, user_id, checksum)
        now = self._clock.now()
        upload_id = uuid4()
        upload = Upload(
            id=upload_id,
            user_id=user_id,
            filename=filename,
            content_type=PDF_CONTENT_TYPE,
            size_bytes=size_bytes,
            storage_key=storage_key_for(user_id, upload_id),
            status=UploadStatus.PENDING,
            created_at=now,
            expires_at=now + timedelta(seconds=policy.reservation_ttl_seconds),
        )
        # No transaction: one read and one INSERT, which need nothing of each other. The row is committed before the
        # ledger changes, so a reconciliation that snapshots the database after reading the ledger's version never
        # misses a reservation.
        async with self._uow.autocommit() as uow:
            user = await existing_user(uow, user_id)
            await uow.uploads.add(upload)
            await uow.commit()
        try:
            reservation = await self._ledger.reserve(
                user_id,
                upload_id,
                size_bytes,
                user.quota_limit_bytes,
                policy.reservation_ttl_seconds,
                max_pending=policy.max_pending_uploads,
            )
        except BaseException:
            await self._forget(upload)
            raise
        if not reservation:
            await self._forget(upload)
            if reservation.too_many_pending:
                # Confirming or cancelling frees a place at once; otherwise the earliest expiry that brings the
                # count under the bound does.
                raise TooManyRequests(
                    f"You have {reservation.pending} uploads waiting to be confirmed or cancelled; finish those first.",
                    retry_after=reservation.retry_after_seconds,
                )
            quota = quota_of(user, await self._ledger.usage(user_id))
            raise QuotaExceeded(
                f"The file needs {size_bytes} bytes but only {quota.available_bytes} bytes of your quota are free."
            )
        request = await self._storage.presign_upload(
            upload.storage_key, PDF_CONTENT_TYPE, size_bytes, policy.presign_expiry_seconds
        )
        return UploadTicket(upload, request, policy.presign_expiry_seconds)

    async def _forget(self, upload: Upload) -> None:
        """The refused upload's row goes: the ledger never counted it."""
        async with self._uow.autocommit() as uow:
            await uow.uploads.remove(upload)
            await uow.commit()

    async def _count_request(self, user_id: UUID) -> None:
        retry_after = await self._limiter.acquire(f"upload-url:{user_id}", self._policy.upload_rate_rule)
        if retry_after is not None:
            raise TooManyRequests("Too many upload requests; try again later.", retry_after=retry_after)


@dataclass(frozen=True)
class StoredUpload:
    """What storage held for a pending upload: its size and first bytes."""

    size_bytes: int
    head: bytes


class UploadVerifier:
    """Confirms a pending upload against what storage holds (shared by confirm and score creation).

    `look` reads storage first, with no transaction open, so no row lock or database connection waits on
    storage; `confirm` then decides under the row lock.
    The object must exist, have the declared size and start like a PDF (checked with a ranged read).
    A wrong size or non-PDF bytes delete the object and release the reservation; confirming again answers
    the same error. The ledger counts the bytes as used before the caller commits: if that fails, nothing is
    confirmed, so the database never holds confirmed bytes the ledger does not count.
    """

    def __init__(self, storage: ObjectStorage, ledger: QuotaLedger, aftercare: UploadAftercare, clock: Clock) -> None:
        self._storage = storage
        self._ledger = ledger
        self._aftercare = aftercare
        self._clock = clock

    async def look(self, uow: UnitOfWork, user_id: UUID, upload_id: UUID) -> StoredUpload | None:
        """What storage holds for the user's upload; None when nothing is stored or the upload is not pending.

        An upload URL stores one object once, so what is read here cannot change before `confirm` runs; a cancel
        meanwhile shows in the upload's status.
        """
        async with uow.autocommit():
            upload = await owned_upload(uow, user_id, upload_id, for_update=False)
        if upload.status is not UploadStatus.PENDING:
            return None
        stored = await self._storage.stat(upload.storage_key)
        if stored is None:
            return None
        try:
            head = await self._storage.read_head(upload.storage_key, MAGIC_SEARCH_BYTES)
        except FileNotFoundError:  # a cancel deleted it meanwhile: `confirm` sees the cancel
            return None
        return StoredUpload(stored.size_bytes, head)

    async def confirm(self, uow: UnitOfWork, upload: Upload, stored: StoredUpload | None) -> None:
        """Confirm, with what `look` read, inside the caller's unit of work, which the caller commits."""
        now = self._clock.now()
        if upload.status is UploadStatus.CONFIRMED:
            return
        if upload.is_expired(now):
            await self._end(uow, upload, Upload.expire)
            raise UploadNotFound("The upload expired before it was confirmed.")
        upload.ensure_confirmable(now)
        if stored is None:
            raise UploadIncomplete()
        try:
            check_stored_object(upload.size_bytes, stored.size_bytes, stored.head)
        except (SizeMismatch, NotAPdf) as error:
            rejection = error
            await self._end(uow, upload, lambda rejected: rejected.reject(rejection))
            raise
        limit = (await existing_user(uow, upload.user_id)).quota_limit_bytes
        if not await self._ledger.confirm(upload.user_id, upload.id, upload.size_bytes, limit):
            # The reservation lapsed while this confirm ran, and other reservations have taken its room since.
            await self._end(uow, upload, Upload.expire)
            raise UploadNotFound("The upload expired before it was confirmed.")
        upload.confirm(now)
        await uow.uploads.save(upload)

    async def _end(self, uow: UnitOfWork, upload: Upload, end: Callable[[Upload], None]) -> None:
        end(upload)
        await uow.uploads.save(upload)
        await uow.commit()
        await self._aftercare.release(upload)
        await self._aftercare.remove_original(upload)


class ConfirmUpload:
    """Confirm that the file is in storage; its reserved bytes become used. Repeating it changes nothing."""

    def __init__(self, uow: UnitOfWork, verifier: UploadVerifier) -> None:
        self._uow = uow
        self._verifier = verifier

    async def __call__(self, user_id: UUID, upload_id: UUID) -> Upload:
        stored = await self._verifier.look(self._uow, user_id, upload_id)
        async with self._uow as uow:
            upload = await owned_upload(uow, user_id, upload_id)
            await self._verifier.confirm(uow, upload, stored)
            await uow.commit()
        return upload


class CancelUpload:
    """Give up a pending upload: its reservation is released and anything already stored is deleted."""

    def __init__(self, uow: UnitOfWork, aftercare: UploadAftercare, clock: Clock) -> None:
        self._uow = uow
        self._aftercare = aftercare
        self._clock = clock

    async def __call__(self, user_id: UUID, upload_id: UUID) -> Upload:
        async with self._uow as uow:
            upload = await owned_upload(uow, user_id, upload_id)
            changed = upload.cancel(self._clock.now())
            if changed:
                await uow.uploads.save(upload)
                await uow.commit()
        if changed:
            await self._aftercare.release(upload)
            await self._aftercare.remove_original(upload)
        return upload


class UploadAcceptsFile:
    """Whether a file may be stored under `key` now: the original of a pending, unexpired upload (storage that can
    ask refuses an ended upload's file at once; a presigned S3 URL cannot be revoked, so quota holds its bytes)."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, key: str) -> bool:
        upload_id = upload_id_of_original(key)
        if upload_id is None:
            return False
        async with self._uow as uow:
            upload = await uow.uploads.get(upload_id)
        return (
            upload is not None
            and upload.storage_key == key
            and upload.is_pending
            and not upload.is_expired(self._clock.now())
        )
