"""Periodic housekeeping: lapsed reservations, unused uploads, storage of ended uploads, quota, stuck processing."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from uuid import UUID

from application.aftercare import UploadAftercare
from application.policy import Policy
from application.ports import Clock, LedgerEntry, ObjectStorage, QuotaLedger, TaskQueue, UnitOfWork
from domain.scores import ProcessingStatus
from domain.uploads import Upload, UploadStatus, upload_prefix

logger = logging.getLogger(__name__)

# A pending upload younger than this may still be waiting for its reserve call (the row is committed first).
RESERVATION_IN_FLIGHT_SECONDS = 5


class UploadRetirement:
    """Ends uploads for good: their new status is committed, then their quota and stored bytes are freed."""

    def __init__(self, uow: UnitOfWork, aftercare: UploadAftercare) -> None:
        self._uow = uow
        self._aftercare = aftercare

    async def __call__(
        self, select: Callable[[UnitOfWork], Awaitable[Sequence[Upload]]], end: Callable[[Upload], None]
    ) -> int:
        async with self._uow as uow:
            uploads = list(await select(uow))
            for upload in uploads:
                end(upload)
                await uow.uploads.save(upload)
            await uow.commit()
        for upload in uploads:
            await self._aftercare.release(upload)
            await self._aftercare.remove_original(upload)
        return len(uploads)


class ExpireReservations:
    """Pending uploads past their TTL give their quota back; anything stored for them is deleted."""

    def __init__(self, retire: UploadRetirement, clock: Clock, policy: Policy) -> None:
        self._retire = retire
        self._clock = clock
        self._batch = policy.maintenance_batch_size

    async def __call__(self) -> int:
        now = self._clock.now()
        return await self._retire(lambda uow: uow.uploads.list_expired_pending(now, self._batch), Upload.expire)


class PurgeUnusedUploads:
    """A confirmed upload that no score uses within the grace period is deleted and its quota freed."""

    def __init__(self, retire: UploadRetirement, clock: Clock, policy: Policy) -> None:
        self._retire = retire
        self._clock = clock
        self._policy = policy

    async def __call__(self) -> int:
        before = self._clock.now() - timedelta(seconds=self._policy.unused_upload_grace_seconds)
        batch = self._policy.maintenance_batch_size
        return await self._retire(lambda uow: uow.uploads.list_unused_confirmed(before, batch), Upload.mark_deleted)


class ClearEndedUploads:
    """Empty the storage of ended uploads once nothing can store a file for them any more.

    Until its URL lapses, a cancelled, rejected, expired or deleted upload can receive a file again (its bytes
    stay reserved in the quota meanwhile, see UploadAftercare.release), and storage checks the expiry only when a
    transfer starts: clearing waits twice the URL's lifetime from the upload's creation (a transfer begun at the
    last moment gets as long again); then one deletion of the upload's prefix is final and the quota is released.
    Uploads are read, cleared and marked in separate steps, so no transaction waits for storage; a failed
    deletion is tried again by the next run.
    """

    def __init__(
        self, uow: UnitOfWork, storage: ObjectStorage, ledger: QuotaLedger, clock: Clock, policy: Policy
    ) -> None:
        self._uow = uow
        self._storage = storage
        self._ledger = ledger
        self._clock = clock
        self._policy = policy

    async def __call__(self) -> int:
        created_before = self._clock.now() - timedelta(seconds=2 * self._policy.presign_expiry_seconds)
        async with self._uow as uow:
            due = list(await uow.uploads.list_to_clear(created_before, self._policy.maintenance_batch_size))
        cleared = [upload for upload in due if await self._clear(upload)]
        if cleared:
            async with self._uow as uow:
                for upload in cleared:
                    upload.mark_storage_cleared()
                    await uow.uploads.save(upload)
                await uow.commit()
        for upload in cleared:
            if upload.status is not UploadStatus.CONFIRMED:  # a confirmed one is storage_to_clear never
                try:
                    await self._ledger.release(upload.user_id, upload.id)
                except Exception:
                    logger.exception("could not release quota of upload %s; reconcile repairs it", upload.id)
        return len(cleared)

    async def _clear(self, upload: Upload) -> bool:
        prefix = upload_prefix(upload.user_id, upload.id)
        try:
            await self._storage.delete_prefix(prefix)
        except Exception:
            logger.exception("could not clear %s; the next run tries again", prefix)
            return False
        return True


class ReconcileQuota:
    """Rebuild every user's ledger from the database, so a lost or stale ledger cannot corrupt quota.

    The database is the record: confirmed uploads are used bytes, unexpired pending ones are reserved, and so are
    ended ones whose URL may still store a file (Upload.held_until).
    """

    def __init__(self, uow: UnitOfWork, ledger: QuotaLedger, clock: Clock, policy: Policy) -> None:
        self._uow = uow
        self._ledger = ledger
        self._clock = clock
        self._presign_expiry = policy.presign_expiry_seconds

    async def __call__(self, user_id: UUID | None = None) -> int:
        """Reconcile one user or all; returns how many ledgers were rebuilt."""
        if user_id is not None:
            user_ids: Sequence[UUID] = [user_id]
        else:
            async with self._uow as uow:
                user_ids = await uow.users.list_ids()
        rebuilt = 0
        for uid in user_ids:
            rebuilt += await self._reconcile(uid)
        if user_id is None and rebuilt == len(user_ids):
            await self._ledger.mark_rebuilt()
        return rebuilt

    async def _reconcile(self, user_id: UUID) -> int:
        # Ledger changes follow their database commits, except a confirm's, which the ledger keeps for pending
        # rows (see QuotaLedger.replace). So a snapshot read after the ledger's version is at least as new as
        # the ledger; if the version moved meanwhile, the next run tries again.
        version = await self._ledger.version(user_id)
        now = self._clock.now()
        async with self._uow as uow:
            user = await uow.users.get(user_id)
            live = await uow.uploads.list_live(user_id)
        limit_bytes = 0 if user is None else user.quota_limit_bytes  # an account gone has nothing to hold
        used = [LedgerEntry(u.id, u.size_bytes) for u in live if u.status is UploadStatus.CONFIRMED]
        # Ended, but their URL may still store a file: counted first, whatever else the ledger lost.
        held = [
            LedgerEntry(u.id, u.size_bytes, until)
            for u in live
            if (until := u.held_until(self._presign_expiry)) is not None and until > now
        ]
        pending = [u for u in live if u.status is UploadStatus.PENDING]
        settled_before = now - timedelta(seconds=RESERVATION_IN_FLIGHT_SECONDS)
        # Oldest first: if the ledger lost some, those reserved earliest are the ones added back.
        settled = sorted(
            (u for u in pending if u.created_at < settled_before and not u.is_expired(now)), key=lambda u: u.created_at
        )
        reserved = held + [LedgerEntry(u.id, u.size_bytes, u.expires_at) for u in settled]
        # Just reserved, or past expiry but perhaps mid-confirm: the ledger knows what they hold.
        settled_ids = {u.id for u in settled}
        in_flight = [LedgerEntry(u.id, u.size_bytes, u.expires_at) for u in pending if u.id not in settled_ids]
        replaced = await self._ledger.replace(
            user_id,
            used,
            reserved,
            limit_bytes=limit_bytes,
            expected_version=version,
            in_flight=in_flight,
        )
        return int(replaced)


class RebuildLostQuota:
    """Rebuild every user's ledger now if it lost its data: until then no upload can be reserved or confirmed."""

    def __init__(self, reconcile: ReconcileQuota, ledger: QuotaLedger) -> None:
        self._reconcile = reconcile
        self._ledger = ledger

    async def __call__(self) -> int:
        if await self._ledger.rebuilt():
            return 0
        logger.warning("the quota ledger lost its data; rebuilding it from the database")
        return await self._reconcile()


async def _sweep(uow: UnitOfWork, queue: TaskQueue, clock: Clock, batch: int, before: datetime, *, resume: bool) -> int:
    """How many scores pending or processing since before `before` were handled (a score that could not be queued
    again waits for the next run). Resuming queues each again; a sweep queues again what never started and ends the
    others (Score.stall)."""
    now = clock.now()
    handled = 0
    async with uow:
        stuck = list(await uow.scores.list_stuck(before, batch))
        for score in stuck:
            processing = score.processing
            never_started = processing.status is ProcessingStatus.PENDING and not processing.started_at
            if not (resume or never_started):
                score.stall(now)  # ready if read before; else pending again while young, failed once old
            if resume or processing.status is ProcessingStatus.PENDING:
                if not await _requeue(queue, score.id):
                    continue
                processing.mark_queued(now)
            await uow.scores.save(score)
            handled += 1
        await uow.commit()
    return handled


async def _requeue(queue: TaskQueue, score_id: UUID) -> bool:
    try:
        await queue.process_score(score_id)
    except Exception:
        logger.exception("could not queue score %s again; the next sweep tries again", score_id)
        return False
    return True


class SweepStuckScores:
    """No score stays pending or processing: queue again what never started; end what was queued or ran too
    long (Score.stall: ready if read before, else queued again while young, failed once old)."""

    def __init__(self, uow: UnitOfWork, queue: TaskQueue, clock: Clock, policy: Policy) -> None:
        self._uow = uow
        self._queue = queue
        self._clock = clock
        self._policy = policy

    async def __call__(self) -> int:
        before = self._clock.now() - timedelta(seconds=self._policy.stuck_processing_seconds)
        return await _sweep(
            self._uow, self._queue, self._clock, self._policy.maintenance_batch_size, before, resume=False
        )


class ResumeUnfinishedWork:
    """At the start of an in-process task runner: whatever was unfinished was lost with the last process, and so
    were page thumbnails and covers asked for. Batch after batch, until all are queued again (or a batch could
    queue none)."""

    def __init__(self, uow: UnitOfWork, queue: TaskQueue, clock: Clock, policy: Policy) -> None:
        self._uow = uow
        self._queue = queue
        self._clock = clock
        self._batch = policy.maintenance_batch_size

    async def __call__(self) -> int:
        started = self._clock.now()
        resumed = 0
        while batch := await _sweep(self._uow, self._queue, self._clock, self._batch, started, resume=True):
            resumed += batch
            if batch < self._batch:
                break
        return resumed + await self._resume_thumbnails()

    async def _resume_thumbnails(self) -> int:
        resumed, after = 0, None
        while True:
            async with self._uow as uow:
                scores = await uow.scores.list_wanting_thumbnails(after, self._batch)
            for score in scores:
                try:
                    if score.page_thumbnails.wanted:
                        await self._queue.generate_all_thumbnails(score.id)
                    if score.cover_wanted:
                        await self._queue.generate_thumbnail(score.id, score.cover.page)
                except Exception:
                    logger.exception("could not queue thumbnails of score %s again", score.id)
                    return resumed
                resumed += 1
            if len(scores) < self._batch:
                return resumed
            after = scores[-1].id
