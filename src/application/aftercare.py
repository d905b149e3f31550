"""What follows a committed change of an upload: quota in the ledger, bytes in storage.

The database already says what is true when these run, so a failure here is logged, not raised: the
reconcile task rebuilds the ledger from the database, and every ended upload's storage is cleared once more
by ClearEndedUploads after its upload URL has lapsed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from uuid import UUID

from application.policy import Policy
from application.ports import Clock, ObjectStorage, QuotaLedger, TaskQueue
from domain.uploads import Upload, upload_prefix

logger = logging.getLogger(__name__)


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
        self._presign_expiry = policy.presign_expiry_seconds

    async def release(self, upload: Upload) -> None:
        """An ended upload gives its quota back once its URL can store nothing more: until then its bytes stay
        reserved, and ClearEndedUploads releases them when it has emptied the upload's storage."""
        until = upload.held_until(self._presign_expiry)
        if until is not None and self._clock.now() < upload.url_lapses_at(self._presign_expiry):
            action = self._ledger.hold(upload.user_id, upload.id, upload.size_bytes, until)
            await _attempt(action, f"hold quota of upload {upload.id}")
            return
        await _attempt(self._ledger.release(upload.user_id, upload.id), f"release quota of upload {upload.id}")

    async def remove_original(self, upload: Upload) -> None:
        await _attempt(self._storage.delete(upload.storage_key), f"delete {upload.storage_key}")

    async def remove_all_files(self, user_id: UUID, upload_id: UUID) -> None:
        """The original and every thumbnail of a deleted score, in the background (or now if it cannot be queued)."""
        prefix = upload_prefix(user_id, upload_id)
        if not await _attempt(self._queue.delete_files([], prefix=prefix), f"queue deletion of {prefix}"):
            await _attempt(self._storage.delete_prefix(prefix), f"delete {prefix}")
