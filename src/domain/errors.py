"""Domain errors. Each carries the contract's machine ``code`` and a kind the HTTP layer maps to a status."""

from __future__ import annotations

from enum import Enum
from uuid import UUID


class ErrorKind(Enum):
    INVALID = "invalid"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    TOO_LARGE = "too_large"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"


class DomainError(Exception):
    """An error the contract names: `code` for clients, `kind` for the status, the docstring for the docs."""

    code: str = "error"
    kind: ErrorKind = ErrorKind.INVALID
    default_detail: str = "The request could not be completed."

    def __init__(self, detail: str | None = None, *, retry_after: int | None = None) -> None:
        self.detail = detail or self.default_detail
        self.retry_after = retry_after
        super().__init__(self.detail)

    @property
    def extra(self) -> dict[str, object]:
        """Keys the error body carries besides status_code, code and detail (the contract names them)."""
        return {}


class ValidationError(DomainError):
    """The request is malformed or a value is out of range; `errors`, if given, lists the fields."""

    code = "validation_error"
    kind = ErrorKind.INVALID
    default_detail = "The request is not valid."


class EmailTaken(DomainError):
    """An account with this email already exists (emails are compared regardless of case)."""

    code = "email_taken"
    kind = ErrorKind.CONFLICT
    default_detail = "An account with this email already exists."


class InvalidCredentials(DomainError):
    """The email or password is wrong."""

    code = "invalid_credentials"
    kind = ErrorKind.UNAUTHORIZED
    default_detail = "The email or password is wrong."


class NotAuthenticated(DomainError):
    """The bearer token is missing, malformed or expired, or its account no longer exists."""

    code = "not_authenticated"
    kind = ErrorKind.UNAUTHORIZED
    default_detail = "A valid bearer token is required."


class AccountDisabled(DomainError):
    """The email and password are right, but an administrator has deactivated the account."""

    code = "account_disabled"
    kind = ErrorKind.UNAUTHORIZED
    default_detail = "This account is deactivated."


class RegistrationClosed(DomainError):
    """Registration is closed on this server (`SCOREMATE_REGISTRATION=closed`): administrators create accounts."""

    code = "registration_closed"
    kind = ErrorKind.FORBIDDEN
    default_detail = "Registration is closed on this server; ask an administrator for an account."


class Forbidden(DomainError):
    """The signed-in user may not do this: only administrators may."""

    code = "forbidden"
    kind = ErrorKind.FORBIDDEN
    default_detail = "Only administrators may do this."


class UserNotFound(DomainError):
    """No such user."""

    code = "user_not_found"
    kind = ErrorKind.NOT_FOUND
    default_detail = "User not found."


class TooManyRequests(DomainError):
    """Too many attempts in the current window; retry after `Retry-After` seconds."""

    code = "too_many_requests"
    kind = ErrorKind.RATE_LIMITED
    default_detail = "Too many requests; try again later."


class InvalidMimeType(DomainError):
    """Only PDFs: `content_type` must be `application/pdf` and `filename` must end `.pdf`."""

    code = "invalid_mime_type"
    kind = ErrorKind.INVALID
    default_detail = "Only PDF files (application/pdf, *.pdf) are accepted."


class FileTooLarge(DomainError):
    """The file is larger than the per-file limit (`SCOREMATE_MAX_UPLOAD_BYTES`, 100 MiB by default)."""

    code = "file_too_large"
    kind = ErrorKind.TOO_LARGE
    default_detail = "The file is larger than allowed."


class QuotaExceeded(DomainError):
    """The file does not fit in the remaining storage quota (used plus reserved bytes)."""

    code = "quota_exceeded"
    kind = ErrorKind.CONFLICT
    default_detail = "The file does not fit in your remaining storage quota."


class DuplicateScore(DomainError):
    """The user already has a score of a file with this `sha256` (`score_id`; `in_trash` when it is in the trash);
    nothing was reserved. Send `allow_duplicate: true` to upload it anyway."""

    code = "duplicate_score"
    kind = ErrorKind.CONFLICT
    default_detail = "You already have a score of this file."

    def __init__(self, score_id: UUID, *, in_trash: bool) -> None:
        where = "in your trash" if in_trash else "in your library"
        super().__init__(f"A score of this file is already {where}; send allow_duplicate to upload it anyway.")
        self.score_id = score_id
        self.in_trash = in_trash

    @property
    def extra(self) -> dict[str, object]:
        return {"score_id": str(self.score_id), "in_trash": self.in_trash}


class UploadNotFound(DomainError):
    """No such upload of this user: unknown, another user's, expired or cancelled."""

    code = "upload_not_found"
    kind = ErrorKind.NOT_FOUND
    default_detail = "Upload not found."


class UploadIncomplete(DomainError):
    """Nothing has been stored under the upload's URL yet."""

    code = "upload_incomplete"
    kind = ErrorKind.CONFLICT
    default_detail = "The file has not been uploaded to storage yet."


class SizeMismatch(DomainError):
    """The stored file's size differs from the declared `size_bytes`; it was deleted."""

    code = "size_mismatch"
    kind = ErrorKind.INVALID
    default_detail = "The stored file size differs from the declared size."


class NotAPdf(DomainError):
    """`%PDF-` does not occur in the first 1024 bytes of the stored file; it was deleted."""

    code = "not_a_pdf"
    kind = ErrorKind.INVALID
    default_detail = "The stored file is not a PDF document."


class AlreadyConfirmed(DomainError):
    """The upload is already confirmed; it can no longer be cancelled."""

    code = "already_confirmed"
    kind = ErrorKind.CONFLICT
    default_detail = "The upload is already confirmed."


class UploadAlreadyUsed(DomainError):
    """The upload already belongs to a score."""

    code = "upload_already_used"
    kind = ErrorKind.CONFLICT
    default_detail = "The upload already belongs to a score."


class ScoreNotFound(DomainError):
    """No such score of this user."""

    code = "score_not_found"
    kind = ErrorKind.NOT_FOUND
    default_detail = "Score not found."


class NotReady(DomainError):
    """The requested thumbnail has not been generated yet."""

    code = "not_ready"
    kind = ErrorKind.CONFLICT
    default_detail = "The file has not been generated yet."


class SetlistNotFound(DomainError):
    """No such setlist of this user."""

    code = "setlist_not_found"
    kind = ErrorKind.NOT_FOUND
    default_detail = "Setlist not found."


class SetlistItemNotFound(DomainError):
    """No such item in this setlist."""

    code = "setlist_item_not_found"
    kind = ErrorKind.NOT_FOUND
    default_detail = "Setlist item not found."


class ServiceUnavailable(DomainError):
    """A backing service (database, storage, quota ledger or queue) is unavailable; retry later."""

    code = "service_unavailable"
    kind = ErrorKind.UNAVAILABLE
    default_detail = "A backing service is unavailable."


class ConcurrentChange(DomainError):
    """The request collided with a concurrent change (the row changed or went away meanwhile); try it again."""

    code = "conflict"
    kind = ErrorKind.CONFLICT
    default_detail = "The request collided with a concurrent change; try it again."
