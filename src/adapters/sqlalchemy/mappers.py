"""Explicit translation between rows and domain objects, both ways."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from adapters.sqlalchemy.models import ScoreRow, SetlistItemRow, SetlistRow, UploadRow, UserRow
from domain.pdf import PdfMetadata
from domain.scores import Cover, Details, PageThumbnails, Processing, ProcessingStatus, Score, StoredCover
from domain.setlists import Setlist, SetlistItem
from domain.text import sort_key
from domain.uploads import Upload, UploadStatus
from domain.users import User

_METADATA_FIELDS = frozenset(field.name for field in fields(PdfMetadata))


def user_from_row(row: UserRow) -> User:
    return User(
        id=row.id,
        email=row.email,
        username=row.username,
        password_hash=row.password_hash,
        quota_limit_bytes=row.quota_limit_bytes,
        created_at=row.created_at,
        is_admin=row.is_admin,
        is_active=row.is_active,
    )


def user_to_row(user: User, row: UserRow) -> UserRow:
    row.id = user.id
    row.email = user.email.strip().lower()
    row.username = user.username
    row.password_hash = user.password_hash
    row.quota_limit_bytes = user.quota_limit_bytes
    row.created_at = user.created_at
    row.is_admin = user.is_admin
    row.is_active = user.is_active
    return row


def upload_from_row(row: UploadRow) -> Upload:
    return Upload(
        id=row.id,
        user_id=row.user_id,
        filename=row.filename,
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        storage_key=row.storage_key,
        status=UploadStatus(row.status),
        created_at=row.created_at,
        expires_at=row.expires_at,
        confirmed_at=row.confirmed_at,
        score_id=row.score_id,
        rejection_code=row.rejection_code,
        storage_to_clear=row.storage_to_clear,
    )


def upload_to_row(upload: Upload, row: UploadRow) -> UploadRow:
    for column, value in upload_values(upload).items():
        setattr(row, column, value)
    return row


def upload_values(upload: Upload) -> dict[str, Any]:
    """Every column of the upload's row."""
    return {
        "id": upload.id,
        "user_id": upload.user_id,
        "filename": upload.filename,
        "content_type": upload.content_type,
        "size_bytes": upload.size_bytes,
        "storage_key": upload.storage_key,
        "status": upload.status.value,
        "created_at": upload.created_at,
        "expires_at": upload.expires_at,
        "confirmed_at": upload.confirmed_at,
        "score_id": upload.score_id,
        "rejection_code": upload.rejection_code,
        "storage_to_clear": upload.storage_to_clear,
    }


def score_from_row(row: ScoreRow) -> Score:
    return Score(
        id=row.id,
        user_id=row.user_id,
        upload_id=row.upload_id,
        details=Details(
            title=row.title,
            composer=row.composer,
            genre=row.genre,
            tags=list(row.tags),
            description=row.description,
        ),
        original_filename=row.original_filename,
        size_bytes=row.size_bytes,
        storage_key=row.storage_key,
        created_at=row.created_at,
        updated_at=row.updated_at,
        processing=Processing(
            status=ProcessingStatus(row.processing_status),
            page_count=row.page_count,
            metadata=metadata_from_json(row.pdf_metadata),
            error=row.processing_error,
            error_code=row.processing_error_code,
            started_at=row.processing_started_at,
        ),
        cover=Cover(
            page=row.cover_page,
            stored=None if row.cover_key is None else StoredCover(row.cover_key, row.cover_key_page or 1),
        ),
        page_thumbnails=PageThumbnails(pages=list(row.thumbnail_pages), wanted=row.page_thumbnails_wanted),
        checksum_sha256=row.checksum_sha256,
        deleted_at=row.deleted_at,
    )


def score_to_row(score: Score, row: ScoreRow) -> ScoreRow:
    details, processing, cover = score.details, score.processing, score.cover
    row.id = score.id
    row.user_id = score.user_id
    row.upload_id = score.upload_id
    row.title = details.title
    row.title_sort = sort_key(details.title)
    row.composer = details.composer
    row.composer_sort = None if details.composer is None else sort_key(details.composer)
    row.genre = details.genre
    row.genre_sort = None if details.genre is None else sort_key(details.genre)
    row.tags = list(details.tags)
    row.tag_keys = [sort_key(tag) for tag in details.tags]
    row.description = details.description
    row.original_filename = score.original_filename
    row.size_bytes = score.size_bytes
    row.storage_key = score.storage_key
    row.page_count = processing.page_count
    row.pdf_metadata = None if processing.metadata is None else asdict(processing.metadata)
    row.processing_status = processing.status.value
    row.processing_error = processing.error
    row.processing_error_code = processing.error_code
    row.processing_started_at = processing.started_at
    row.thumbnail_ready = cover.ready
    row.thumbnail_pages = list(score.page_thumbnails.pages)
    row.cover_page = cover.page
    row.cover_key = None if cover.stored is None else cover.stored.key
    row.cover_key_page = None if cover.stored is None else cover.stored.page
    row.page_thumbnails_wanted = score.page_thumbnails.wanted
    row.checksum_sha256 = score.checksum_sha256
    row.deleted_at = score.deleted_at
    row.created_at = score.created_at
    row.updated_at = score.updated_at
    return row


def metadata_from_json(data: dict[str, Any] | None) -> PdfMetadata | None:
    if data is None:
        return None
    if data.keys() <= _METADATA_FIELDS:
        return PdfMetadata(**data)
    return PdfMetadata(**{key: value for key, value in data.items() if key in _METADATA_FIELDS})


def setlist_from_row(row: SetlistRow) -> Setlist:
    """The items in order, hidden ones (of scores in the trash) included; positions are renumbered, so a gap left
    by a cascaded delete never shows."""
    items = sorted(row.items, key=lambda item: item.position)
    setlist = Setlist(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        description=row.description,
        created_at=row.created_at,
        updated_at=row.updated_at,
        items=[
            SetlistItem(
                id=item.id, score_id=item.score_id, position=0, notes=item.notes, hidden=bool(item.score_in_trash)
            )
            for item in items
        ],
    )
    setlist.renumber()
    return setlist


def setlist_to_row(setlist: Setlist, row: SetlistRow) -> SetlistRow:
    """Copy the setlist's own columns; items are synchronised by the repository."""
    row.id = setlist.id
    row.user_id = setlist.user_id
    row.name = setlist.name
    row.name_sort = sort_key(setlist.name)
    row.description = setlist.description
    row.created_at = setlist.created_at
    row.updated_at = setlist.updated_at
    return row


def item_to_row(item: SetlistItem, row: SetlistItemRow, position: int) -> SetlistItemRow:
    """Copy an item's columns; its setlist is set by appending the row to the setlist row's items. `position` is
    its place among all the setlist's items, hidden ones included (the domain's positions count visible ones)."""
    row.id = item.id
    row.score_id = item.score_id
    row.position = position
    row.notes = item.notes
    return row
