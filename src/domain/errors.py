"""Domain errors. Each carries the contract's machine ``code`` and a kind the HTTP layer maps to a status."""

from __future__ import annotations

from enum import Enum


class ErrorKind(Enum):
    INVALID = "invalid"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    TOO_LARGE = "too_large"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"


class DomainError(Exception):
    code: str = "error"
    kind: ErrorKind = ErrorKind.INVALID
    default_detail: str = "The request could not be completed."

    def __init__(self, detail: str | None = None, *, retry_after: int | None = None) -> None:
        self.detail = detail or self.default_detail
        self.retry_after = retry_after
        super().__init__(self.detail)


class ValidationError(DomainError):
    code = "validation_error"
    kind = ErrorKind.INVALID
    default_detail = "The request is not valid."


class EmailTaken(DomainError):
    code = "email_taken"
    kind = ErrorKind.CONFLICT
    default_detail = "An account with this email already exists."


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    kind = ErrorKind.UNAUTHORIZED
    default_detail = "The email or password is wrong."


class NotAuthenticated(DomainError):
    code = "not_authenticated"
    kind = ErrorKind.UNAUTHORIZED
    default_detail = "A valid bearer token is required."


class TooManyRequests(DomainError):
    code = "too_many_requests"
    kind = ErrorKind.RATE_LIMITED
    default_detail = "Too many requests; try again later."


class InvalidMimeType(DomainError):
    code = "invalid_mime_type"
    kind = ErrorKind.INVALID
    default_detail = "Only PDF files (application/pdf, *.pdf) are accepted."


class FileTooLarge(DomainError):
    code = "file_too_large"
    kind = ErrorKind.TOO_LARGE
    default_detail = "The file is larger than allowed."


class QuotaExceeded(DomainError):
    code = "quota_exceeded"
    kind = ErrorKind.CONFLICT
    default_detail = "The file does not fit in your remaining storage quota."


class UploadNotFound(DomainError):
    code = "upload_not_found"
    kind = ErrorKind.NOT_FOUND
    default_detail = "Upload not found."


class UploadIncomplete(DomainError):
    code = "upload_incomplete"
    kind = ErrorKind.CONFLICT
    default_detail = "The file has not been uploaded to storage yet."


class SizeMismatch(DomainError):
    code = "size_mismatch"
    kind = ErrorKind.INVALID
    default_detail = "The stored file size differs from the declared size."


class NotAPdf(DomainError):
    code = "not_a_pdf"
    kind = ErrorKind.INVALID
    default_detail = "The stored file is not a PDF document."


class AlreadyConfirmed(DomainError):
    code = "already_confirmed"
    kind = ErrorKind.CONFLICT
    default_detail = "The upload is already confirmed."


class UploadAlreadyUsed(DomainError):
    code = "upload_already_used"
    kind = ErrorKind.CONFLICT
    default_detail = "The upload already belongs to a score."


class ScoreNotFound(DomainError):
    code = "score_not_found"
    kind = ErrorKind.NOT_FOUND
    default_detail = "Score not found."


class NotReady(DomainError):
    code = "not_ready"
    kind = ErrorKind.CONFLICT
    default_detail = "The file has not been generated yet."


class SetlistNotFound(DomainError):
    code = "setlist_not_found"
    kind = ErrorKind.NOT_FOUND
    default_detail = "Setlist not found."


class SetlistItemNotFound(DomainError):
    code = "setlist_item_not_found"
    kind = ErrorKind.NOT_FOUND
    default_detail = "Setlist item not found."


class ServiceUnavailable(DomainError):
    code = "service_unavailable"
    kind = ErrorKind.UNAVAILABLE
    default_detail = "A backing service is unavailable."
