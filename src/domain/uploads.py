"""Upload lifecycle: a reservation of quota that becomes a stored file or is given back."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from domain.errors import (
    AlreadyConfirmed,
    FileTooLarge,
    InvalidMimeType,
    NotAPdf,
    SizeMismatch,
    UploadAlreadyUsed,
    UploadNotFound,
    ValidationError,
)

PDF_CONTENT_TYPE = "application/pdf"
PDF_MAGIC = b"%PDF-"
MAGIC_SEARCH_BYTES = 1024
MAX_FILENAME_LENGTH = 255


class UploadStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    # Confirm found other bytes than declared (rejection_code says how); the object was deleted.
    REJECTED = "rejected"
    # The file was removed after confirmation (its score was deleted or nothing used it in time).
    DELETED = "deleted"


@dataclass
class Upload:
    id: UUID
    user_id: UUID
    filename: str
    content_type: str
    size_bytes: int
    storage_key: str
    status: UploadStatus
    created_at: datetime
    expires_at: datetime
    confirmed_at: datetime | None = None
    score_id: UUID | None = None
    rejection_code: str | None = None
    # An ended upload's URL can still store a file until it lapses: its prefix is emptied once more after that.
    storage_to_clear: bool = False

    def is_expired(self, now: datetime) -> bool:
        return self.status is UploadStatus.PENDING and now >= self.expires_at

    def ensure_confirmable(self, now: datetime) -> None:
        """A pending, unexpired upload may be confirmed; a confirmed one confirms again idempotently."""
        if self.status is UploadStatus.CONFIRMED:
            return
        if self.status is UploadStatus.REJECTED:  # the same answer as the first time
            raise size_mismatch(self.size_bytes) if self.rejection_code == SizeMismatch.code else NotAPdf()
        if self.status is not UploadStatus.PENDING or self.is_expired(now):
            raise UploadNotFound()

    def confirm(self, now: datetime) -> None:
        self.ensure_confirmable(now)
        if self.status is UploadStatus.PENDING:
            self.status = UploadStatus.CONFIRMED
            self.confirmed_at = now

    def cancel(self, now: datetime) -> bool:
        """Cancel a pending upload. Returns True when this call changed it (so quota is released once)."""
        if self.status is UploadStatus.CANCELLED:
            return False
        if self.status is UploadStatus.CONFIRMED:
            raise AlreadyConfirmed()
        if self.status is not UploadStatus.PENDING or self.is_expired(now):
            raise UploadNotFound()
        self._end(UploadStatus.CANCELLED)
        return True

    def reject(self, error: SizeMismatch | NotAPdf) -> None:
        """The stored bytes were not what was declared; confirming again answers the same error."""
        self._end(UploadStatus.REJECTED)
        self.rejection_code = error.code

    def expire(self) -> None:
        self._end(UploadStatus.EXPIRED)

    def mark_deleted(self) -> None:
        self._end(UploadStatus.DELETED)

    @property
    def is_pending(self) -> bool:
        return self.status is UploadStatus.PENDING

    def url_lapses_at(self, presign_expiry_seconds: int) -> datetime:
        """When nothing can store a file for it any more: its URL expires one lifetime after creation, and a
        transfer begun at the last moment gets as long again."""
        return self.created_at + timedelta(seconds=2 * presign_expiry_seconds)

    def held_until(self, presign_expiry_seconds: int) -> datetime | None:
        """An ended upload whose storage is still to be cleared keeps its bytes counted as reserved: its URL may
        still store a file. Until it is cleared, or at the latest one URL lifetime after the URL lapsed."""
        if self.status in (UploadStatus.PENDING, UploadStatus.CONFIRMED) or not self.storage_to_clear:
            return None
        return self.url_lapses_at(presign_expiry_seconds) + timedelta(seconds=presign_expiry_seconds)

    def mark_storage_cleared(self) -> None:
        self.storage_to_clear = False

    def _end(self, status: UploadStatus) -> None:
        self.status = status
        self.storage_to_clear = True

    def ensure_available_for_score(self, now: datetime) -> None:
        if self.status is UploadStatus.DELETED:  # its score was deleted with the file: nothing is left to use
            raise UploadNotFound()
        if self.score_id is not None:
            raise UploadAlreadyUsed()
        self.ensure_confirmable(now)


def storage_key_for(user_id: UUID, upload_id: UUID) -> str:
    return f"{upload_prefix(user_id, upload_id)}original.pdf"


def upload_prefix(user_id: UUID, upload_id: UUID) -> str:
    return f"{user_id}/scores/{upload_id}/"


def upload_id_of_original(key: str) -> UUID | None:
    """The upload whose original is stored under `key` (see storage_key_for); None for any other key."""
    parts = key.split("/")
    if len(parts) != 4 or parts[1] != "scores" or parts[3] != "original.pdf":
        return None
    try:
        return UUID(parts[2])
    except ValueError:
        return None


def cover_thumbnail_key(user_id: UUID, upload_id: UUID, version: str) -> str:
    """Covers of different pages (`version`) have their own keys, so covers rendered at once never overwrite each
    other; the same page's cover made again replaces its object instead of leaving one behind."""
    return f"{upload_prefix(user_id, upload_id)}cover-{version}.jpg"


def page_thumbnail_key(user_id: UUID, upload_id: UUID, page: int) -> str:
    return f"{upload_prefix(user_id, upload_id)}pages/{page}.jpg"


def validate_upload_request(filename: str, content_type: str, size_bytes: int, max_upload_bytes: int) -> str:
    """Check an upload request; returns the filename cleaned of any directory part."""
    cleaned = clean_filename(filename)
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != PDF_CONTENT_TYPE or not cleaned.lower().endswith(".pdf"):
        raise InvalidMimeType()
    if size_bytes < 1:
        raise ValidationError("size_bytes must be at least 1.")
    if size_bytes > max_upload_bytes:
        raise FileTooLarge(f"The file is {size_bytes} bytes; the limit is {max_upload_bytes} bytes.")
    return cleaned


SHA256_HEX_LENGTH = 64
_SHA256_HEX = re.compile(f"[0-9a-fA-F]{{{SHA256_HEX_LENGTH}}}")


def normalized_sha256(value: str) -> str:
    """A client's hex SHA-256 of its file, lower-case (as the server stores checksums); 64 hex digits or refused."""
    if not _SHA256_HEX.fullmatch(value):
        raise ValidationError(f"sha256 must be {SHA256_HEX_LENGTH} hexadecimal characters.")
    return value.lower()


def clean_filename(filename: str) -> str:
    """Keep only the last path component and drop control characters; filenames are labels, never paths."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip()
    if not cleaned or cleaned in {".", ".."}:
        raise ValidationError("The filename is empty.")
    if len(cleaned) > MAX_FILENAME_LENGTH:
        raise ValidationError(f"The filename must have at most {MAX_FILENAME_LENGTH} characters.")
    return cleaned


def size_mismatch(declared_size: int) -> SizeMismatch:
    return SizeMismatch(f"The stored file does not have the {declared_size} bytes that were declared.")


def check_stored_object(declared_size: int, stored_size: int, head: bytes) -> None:
    """What confirm demands of the stored bytes: the declared size and a PDF signature near the start."""
    if stored_size != declared_size:
        raise size_mismatch(declared_size)
    if PDF_MAGIC not in head[:MAGIC_SEARCH_BYTES]:
        raise NotAPdf()
