"""domain.uploads: request validation, filenames as labels, the upload lifecycle and the stored-object check."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from domain.errors import (
    AlreadyConfirmed,
    DomainError,
    ErrorKind,
    FileTooLarge,
    InvalidMimeType,
    NotAPdf,
    SizeMismatch,
    UploadAlreadyUsed,
    UploadNotFound,
    ValidationError,
)
from domain.uploads import (
    MAGIC_SEARCH_BYTES,
    MAX_FILENAME_LENGTH,
    Upload,
    UploadStatus,
    check_stored_object,
    clean_filename,
    cover_thumbnail_key,
    page_thumbnail_key,
    storage_key_for,
    upload_prefix,
    validate_upload_request,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LIMIT = 100 * 1024 * 1024


def make_upload(status: UploadStatus = UploadStatus.PENDING, ttl: int = 3600) -> Upload:
    user_id, upload_id = uuid4(), uuid4()
    return Upload(
        id=upload_id,
        user_id=user_id,
        filename="a.pdf",
        content_type="application/pdf",
        size_bytes=10,
        storage_key=storage_key_for(user_id, upload_id),
        status=status,
        created_at=NOW,
        expires_at=NOW + timedelta(seconds=ttl),
    )


def assert_code(error: pytest.ExceptionInfo[DomainError], code: str) -> None:
    assert error.value.code == code


# --- validate_upload_request ---------------------------------------------------------------------


def test_a_pdf_request_is_accepted_and_its_filename_returned() -> None:
    assert validate_upload_request("Sonata.pdf", "application/pdf", 1234, LIMIT) == "Sonata.pdf"


@pytest.mark.parametrize("content_type", ["application/pdf; charset=binary", "APPLICATION/PDF", " application/pdf "])
def test_content_type_parameters_and_case_are_ignored(content_type: str) -> None:
    assert validate_upload_request("a.pdf", content_type, 1, LIMIT) == "a.pdf"


def test_the_extension_is_case_insensitive() -> None:
    assert validate_upload_request("SCAN.PDF", "application/pdf", 1, LIMIT) == "SCAN.PDF"


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [
        ("a.pdf", "image/png"),
        ("a.pdf", "application/octet-stream"),
        ("a.pdf", ""),
        ("a.png", "application/pdf"),
        ("a.pdf.exe", "application/pdf"),
        ("pdf", "application/pdf"),
        ("a.pdfx", "application/pdf"),
        ("a.pdf\x00.exe", "application/pdf"),
    ],
)
def test_anything_but_a_pdf_name_and_type_is_an_invalid_mime_type(filename: str, content_type: str) -> None:
    with pytest.raises(InvalidMimeType) as error:
        validate_upload_request(filename, content_type, 100, LIMIT)
    assert_code(error, "invalid_mime_type")
    assert error.value.kind is ErrorKind.INVALID


@pytest.mark.parametrize("size", [0, -1])
def test_a_size_below_one_byte_is_a_validation_error(size: int) -> None:
    with pytest.raises(ValidationError) as error:
        validate_upload_request("a.pdf", "application/pdf", size, LIMIT)
    assert_code(error, "validation_error")


def test_the_size_limit_is_inclusive() -> None:
    assert validate_upload_request("a.pdf", "application/pdf", LIMIT, LIMIT) == "a.pdf"
    with pytest.raises(FileTooLarge) as error:
        validate_upload_request("a.pdf", "application/pdf", LIMIT + 1, LIMIT)
    assert_code(error, "file_too_large")
    assert error.value.kind is ErrorKind.TOO_LARGE
    assert str(LIMIT) in error.value.detail


# --- filenames -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("/etc/passwd.pdf", "passwd.pdf"),
        ("C:\\x\\a.pdf", "a.pdf"),
        ("..\\..\\windows\\system32\\a.pdf", "a.pdf"),
        ("dir/sub\\mixed.pdf", "mixed.pdf"),
        ("  spaced name.pdf  ", "spaced name.pdf"),
        ("bad\x00name\r\n.pdf", "badname.pdf"),
        ("tab\there.pdf", "tabhere.pdf"),
        ("\u202eevil\u202d.pdf", "evil.pdf"),
        ("Für Elise – Beethoven.pdf", "Für Elise – Beethoven.pdf"),
    ],
)
def test_filenames_keep_only_their_last_component_without_control_characters(raw: str, cleaned: str) -> None:
    assert clean_filename(raw) == cleaned
    assert validate_upload_request(raw, "application/pdf", 1, LIMIT) == cleaned


@pytest.mark.parametrize("raw", ["", "   ", "a/", "..", ".", "../..", "dir/..", "\x00\x01", "C:\\x\\"])
def test_a_filename_with_nothing_left_is_a_validation_error(raw: str) -> None:
    with pytest.raises(ValidationError) as error:
        clean_filename(raw)
    assert_code(error, "validation_error")


def test_a_cleaned_filename_never_contains_a_separator_or_control_character() -> None:
    cleaned = clean_filename("a/b\\c/..\\x\x07y.pdf")
    assert cleaned == "xy.pdf"
    assert "/" not in cleaned and "\\" not in cleaned


def test_filename_length_is_limited_after_cleaning() -> None:
    longest = "a" * (MAX_FILENAME_LENGTH - 4) + ".pdf"
    assert clean_filename("some/dir/" + longest) == longest
    with pytest.raises(ValidationError):
        clean_filename("a" + longest)


# --- storage keys --------------------------------------------------------------------------------


def test_storage_keys_isolate_users_under_the_upload_prefix() -> None:
    user_id, upload_id = UUID(int=1), UUID(int=2)
    prefix = f"{user_id}/scores/{upload_id}/"
    assert upload_prefix(user_id, upload_id) == prefix
    assert storage_key_for(user_id, upload_id) == prefix + "original.pdf"
    assert cover_thumbnail_key(user_id, upload_id, "1a2b") == prefix + "cover-1a2b.jpg"
    assert page_thumbnail_key(user_id, upload_id, 7) == prefix + "pages/7.jpg"


# --- lifecycle -----------------------------------------------------------------------------------


def test_confirm_makes_a_pending_upload_confirmed_once() -> None:
    upload = make_upload()
    upload.confirm(NOW)
    assert upload.status is UploadStatus.CONFIRMED
    assert upload.confirmed_at == NOW
    upload.confirm(NOW + timedelta(minutes=5))
    assert upload.status is UploadStatus.CONFIRMED
    assert upload.confirmed_at == NOW


def test_a_confirmed_upload_confirms_again_even_after_its_reservation_time() -> None:
    upload = make_upload()
    upload.confirm(NOW)
    upload.confirm(NOW + timedelta(days=2))
    assert upload.status is UploadStatus.CONFIRMED


def test_expiry_is_reached_at_expires_at_exactly() -> None:
    upload = make_upload(ttl=60)
    assert not upload.is_expired(NOW + timedelta(seconds=59))
    assert upload.is_expired(NOW + timedelta(seconds=60))


def test_only_pending_uploads_expire() -> None:
    upload = make_upload(ttl=60)
    upload.confirm(NOW)
    assert not upload.is_expired(NOW + timedelta(days=1))


def test_an_expired_pending_upload_cannot_be_confirmed() -> None:
    upload = make_upload(ttl=60)
    with pytest.raises(UploadNotFound) as error:
        upload.confirm(NOW + timedelta(seconds=60))
    assert_code(error, "upload_not_found")
    assert upload.status is UploadStatus.PENDING


@pytest.mark.parametrize("status", [UploadStatus.CANCELLED, UploadStatus.EXPIRED, UploadStatus.DELETED])
def test_ended_uploads_cannot_be_confirmed(status: UploadStatus) -> None:
    upload = make_upload(status)
    with pytest.raises(UploadNotFound):
        upload.confirm(NOW)
    assert upload.status is status


def test_cancel_changes_a_pending_upload_once() -> None:
    upload = make_upload()
    assert upload.cancel(NOW) is True
    assert upload.status is UploadStatus.CANCELLED
    assert upload.cancel(NOW) is False
    assert upload.status is UploadStatus.CANCELLED


def test_a_confirmed_upload_cannot_be_cancelled() -> None:
    upload = make_upload()
    upload.confirm(NOW)
    with pytest.raises(AlreadyConfirmed) as error:
        upload.cancel(NOW)
    assert_code(error, "already_confirmed")
    assert error.value.kind is ErrorKind.CONFLICT
    assert upload.status is UploadStatus.CONFIRMED


@pytest.mark.parametrize("status", [UploadStatus.EXPIRED, UploadStatus.DELETED])
def test_expired_or_deleted_uploads_cannot_be_cancelled(status: UploadStatus) -> None:
    with pytest.raises(UploadNotFound):
        make_upload(status).cancel(NOW)


def test_a_pending_upload_past_its_time_cannot_be_cancelled() -> None:
    upload = make_upload(ttl=10)
    with pytest.raises(UploadNotFound):
        upload.cancel(NOW + timedelta(seconds=10))


def test_expire_reject_and_mark_deleted_set_their_status() -> None:
    upload = make_upload()
    upload.expire()
    assert upload.status is UploadStatus.EXPIRED
    upload = make_upload()
    upload.reject(SizeMismatch())
    assert upload.status is UploadStatus.REJECTED
    with pytest.raises(SizeMismatch):
        upload.confirm(NOW)  # confirming again answers the same error
    upload = make_upload()
    upload.reject(NotAPdf())
    with pytest.raises(NotAPdf):
        upload.ensure_confirmable(NOW)
    with pytest.raises(UploadNotFound):
        upload.cancel(NOW)
    upload = make_upload()
    upload.mark_deleted()
    assert upload.status is UploadStatus.DELETED


@pytest.mark.parametrize(
    "end",
    [
        lambda upload: upload.cancel(NOW),
        Upload.expire,
        lambda upload: upload.reject(NotAPdf()),
        Upload.mark_deleted,
    ],
    ids=["cancel", "expire", "reject", "delete"],
)
def test_an_ended_upload_has_its_storage_to_clear_until_marked_cleared(end: Callable[[Upload], object]) -> None:
    upload = make_upload()
    assert not upload.storage_to_clear
    end(upload)
    assert upload.storage_to_clear
    upload.mark_storage_cleared()
    assert not upload.storage_to_clear


def test_a_confirmed_upload_has_no_storage_to_clear() -> None:
    upload = make_upload()
    upload.confirm(NOW)
    assert not upload.storage_to_clear


def test_an_upload_makes_at_most_one_score() -> None:
    upload = make_upload()
    upload.ensure_available_for_score(NOW)
    upload.confirm(NOW)
    upload.ensure_available_for_score(NOW)
    upload.score_id = uuid4()
    with pytest.raises(UploadAlreadyUsed) as error:
        upload.ensure_available_for_score(NOW)
    assert_code(error, "upload_already_used")


def test_an_expired_or_cancelled_upload_is_not_available_for_a_score() -> None:
    with pytest.raises(UploadNotFound):
        make_upload(ttl=1).ensure_available_for_score(NOW + timedelta(seconds=1))
    with pytest.raises(UploadNotFound):
        make_upload(UploadStatus.CANCELLED).ensure_available_for_score(NOW)


# --- the stored object ---------------------------------------------------------------------------


def test_a_stored_pdf_of_the_declared_size_passes() -> None:
    check_stored_object(100, 100, b"%PDF-1.7\n" + b"x" * 91)


def test_a_different_stored_size_is_a_size_mismatch() -> None:
    with pytest.raises(SizeMismatch) as error:
        check_stored_object(100, 99, b"%PDF-1.7")
    assert_code(error, "size_mismatch")
    assert error.value.detail == "The stored file does not have the 100 bytes that were declared."


def test_the_size_is_checked_before_the_signature() -> None:
    with pytest.raises(SizeMismatch):
        check_stored_object(100, 101, b"PK\x03\x04 zip")


@pytest.mark.parametrize("head", [b"", b"PK\x03\x04", b"%PDF", b"%pdf-1.7", b"<html>%PD F-</html>"])
def test_bytes_without_the_signature_are_not_a_pdf(head: bytes) -> None:
    with pytest.raises(NotAPdf) as error:
        check_stored_object(len(head), len(head), head)
    assert_code(error, "not_a_pdf")


@pytest.mark.parametrize("offset", [0, 1, 100, MAGIC_SEARCH_BYTES - len(b"%PDF-")])
def test_the_signature_may_follow_junk_within_the_first_1024_bytes(offset: int) -> None:
    head = b"\x00" * offset + b"%PDF-1.4" + b"x" * 2000
    check_stored_object(len(head), len(head), head)


@pytest.mark.parametrize("offset", [MAGIC_SEARCH_BYTES - 4, MAGIC_SEARCH_BYTES, MAGIC_SEARCH_BYTES + 500])
def test_a_signature_not_wholly_in_the_first_1024_bytes_is_refused(offset: int) -> None:
    head = b"\x00" * offset + b"%PDF-1.4" + b"x" * 100
    with pytest.raises(NotAPdf):
        check_stored_object(len(head), len(head), head)


def test_magic_search_window_is_1024_bytes() -> None:
    assert MAGIC_SEARCH_BYTES == 1024
