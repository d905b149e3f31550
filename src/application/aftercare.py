"""What follows a committed change of an upload: quota in the ledger, bytes in storage.

The database already says what is true when these run, so a failure here is logged, not raised: the
reconcile task rebuilds the ledger from the database, and deletions are also queued as retried tasks.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import timedelta
from uuid import UUID

from application.policy import Policy
from application.ports import Clock, ObjectStorage, QuotaLedger, TaskQueue
from domain.uploads import Upload, upload_prefix

logger = logging.getLogger(__name__)

# After its expiry a presigned URL is refused by storage; the late deletion waits a little longer than that.
URL_EXPIRY_MARGIN = timedelta(seconds=5)


async def _attempt(action: Awaitable[object], what: str) -> bool:
    try:
        await action
    except Exception:
        logger.exception("could not %s; it will be repaired later", what)
        return False
    return True


class UploadAftercare:
    def __init__(
        self, ledger: QuotaLedger, storage: ObjectStorage, queue: TaskQueue, clock: Clock, policy: Policy
    ) -> None:
        self._ledger = ledger
        self._storage = storage
        self._queue = queue
        self._clock = clock
        self._url_lifetime = timedelta(seconds=policy.presign_expiry_seconds)

    async def count_as_used(self, upload: Upload) -> None:
        await _attempt(self._ledger.confirm(upload.user_id, upload.id, upload.size_bytes), f"confirm {upload.id}")

    async def release(self, upload: Upload) -> None:
        await _attempt(self._ledger.release(upload.user_id, upload.id), f"release quota of upload {upload.id}")

    async def remove_original(self, upload: Upload) -> None:
        """Delete the stored file now, and once more after its upload URL has expired.

        The URL stays valid for a while after a cancel or a rejection, so a client could store the file again;
        the late deletion leaves no object that nothing accounts for.
        """
        deleted = await _attempt(self._storage.delete(upload.storage_key), f"delete {upload.storage_key}")
        late = upload.created_at + self._url_lifetime + URL_EXPIRY_MARGIN
        if late > self._clock.now() or not deleted:
            await _attempt(self._queue.delete_files([upload.storage_key], not_before=late), "queue a late deletion")

    async def remove_all_files(self, user_id: UUID, upload_id: UUID) -> None:
        """The original and every thumbnail of a deleted score, in the background (or now if it cannot be queued)."""
        prefix = upload_prefix(user_id, upload_id)
        if not await _attempt(self._queue.delete_files([], prefix=prefix), f"queue deletion of {prefix}"):
            await _attempt(self._storage.delete_prefix(prefix), f"delete {prefix}")
