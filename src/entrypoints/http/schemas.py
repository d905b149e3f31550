"""Request and response bodies. Domain objects never reach JSON directly; these structs are the contract."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, TypeVar
from uuid import UUID

from msgspec import UNSET, Meta, Struct, UnsetType

from domain.scores import MAX_TAG_LENGTH, MAX_TAGS, MAX_TEXT_FIELD_LENGTH, MAX_TITLE_LENGTH, ProcessingStatus
from domain.setlists import MAX_NAME_LENGTH
from domain.text import MAX_DESCRIPTION_LENGTH, Unset
from domain.text import UNSET as LEAVE_AS_IS
from domain.users import MAX_PASSWORD_LENGTH, MAX_USERNAME_LENGTH, MIN_PASSWORD_LENGTH

T = TypeVar("T")


def given(value: T | UnsetType) -> T | Unset:
    """A field left out of a PATCH body means "leave as it is" in the domain."""
    return LEAVE_AS_IS if isinstance(value, UnsetType) else value


# Postgres text cannot hold NUL characters: refusing them here makes such input a 400, not a database error.
NO_NUL = r"^[^\x00]*$"
SHA256_PATTERN = r"^[0-9a-fA-F]{64}$"


def documented_as(**schema: object) -> dict[str, object]:
    """OpenAPI keywords Litestar loses on optional fields (a bound of 0, the items of a list), stated again."""
    return {"extra": schema}


Email = Annotated[str, Meta(max_length=320, pattern=NO_NUL, examples=["clara@example.com"])]
Password = Annotated[str, Meta(max_length=MAX_PASSWORD_LENGTH, examples=["correct horse battery"])]
NewPassword = Annotated[
    str, Meta(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH, examples=["correct horse battery"])
]
Title = Annotated[str, Meta(min_length=1, max_length=MAX_TITLE_LENGTH, pattern=NO_NUL)]
ShortText = Annotated[str, Meta(max_length=MAX_TEXT_FIELD_LENGTH, pattern=NO_NUL)]
LongText = Annotated[str, Meta(max_length=MAX_DESCRIPTION_LENGTH, pattern=NO_NUL)]
Name = Annotated[str, Meta(min_length=1, max_length=MAX_NAME_LENGTH, pattern=NO_NUL)]
Notes = Annotated[str, Meta(max_length=2000, pattern=NO_NUL)]
Tag = Annotated[str, Meta(max_length=MAX_TAG_LENGTH, pattern=NO_NUL)]
Tags = Annotated[
    list[Tag],
    Meta(
        max_length=MAX_TAGS,
        extra_json_schema=documented_as(items={"type": "string", "maxLength": MAX_TAG_LENGTH, "pattern": NO_NUL}),
    ),
]
MAX_PAGE = 1_000_000
PageNumber = Annotated[int, Meta(ge=1, le=MAX_PAGE)]
Position = Annotated[int, Meta(ge=0, le=1_000_000, extra_json_schema=documented_as(minimum=0))]
Seconds = Annotated[int, Meta(description="Seconds from now.")]
Bytes = Annotated[int, Meta(description="A size in bytes.")]


# --- errors and operations ---------------------------------------------------------------------


class FieldError(Struct):
    message: str
    key: Annotated[str, Meta(description="The field or parameter at fault.")] | UnsetType = UNSET
    source: Annotated[str, Meta(description="Where it was: body, query, path or header.")] | UnsetType = UNSET


class ErrorBody(Struct):
    """Every error answers this body; `code` is the contract's machine code, `detail` a sentence for people."""

    status_code: Annotated[int, Meta(description="The HTTP status again.")]
    code: Annotated[str, Meta(description="Machine code; see each response's description for the possible values.")]
    detail: Annotated[str, Meta(description="A human sentence.")]
    errors: Annotated[list[FieldError], Meta(description="Field errors of a validation_error.")] | UnsetType = UNSET
    score_id: Annotated[UUID, Meta(description="duplicate_score: the score of the same file.")] | UnsetType = UNSET
    in_trash: Annotated[bool, Meta(description="duplicate_score: whether that score is in the trash.")] | UnsetType = (
        UNSET
    )


class HealthBody(Struct, omit_defaults=True):
    status: str
    checks: dict[str, str] | None = None


class TaskAccepted(Struct):
    task_id: Annotated[str, Meta(examples=["5f0c6a8e-2b1d-4c8e-9a47-1d2f3e4a5b6c"])]


# --- accounts ----------------------------------------------------------------------------------


class RegisterRequest(Struct):
    email: Email
    password: NewPassword
    username: Annotated[str, Meta(max_length=MAX_USERNAME_LENGTH, pattern=NO_NUL)] | None = None


class LoginRequest(Struct):
    email: Email
    password: Password


class Quota(Struct):
    """`available_bytes = limit_bytes - used_bytes - reserved_bytes`."""

    limit_bytes: Bytes
    used_bytes: Bytes
    reserved_bytes: Annotated[int, Meta(description="Bytes held by pending uploads.")]
    available_bytes: Bytes


class UserBody(Struct):
    id: UUID
    email: str
    username: str
    is_admin: bool
    is_active: Annotated[bool, Meta(description="False: deactivated by an administrator; it cannot log in.")]
    created_at: datetime
    quota: Quota


class TokenBody(Struct):
    access_token: Annotated[str, Meta(description="Send as `Authorization: Bearer <access_token>`.")]
    expires_in: Seconds
    token_type: Literal["bearer"]


# --- files -------------------------------------------------------------------------------------


class UploadUrlRequest(Struct):
    filename: Annotated[str, Meta(max_length=1024, pattern=NO_NUL, examples=["etude.pdf"])]
    content_type: Annotated[str, Meta(max_length=255, pattern=NO_NUL, examples=["application/pdf"])]
    size_bytes: Annotated[int, Meta(ge=1, examples=[199199], description="The exact size of the file in bytes.")]
    sha256: (
        Annotated[
            str,
            Meta(
                pattern=SHA256_PATTERN,
                description="The client's hex SHA-256 of the file (any case): a file of which the user already has a "
                "score is refused with 409 duplicate_score unless `allow_duplicate`.",
            ),
        ]
        | None
    ) = None
    allow_duplicate: Annotated[bool, Meta(description="Upload the file even if it duplicates a score.")] = False


class UploadIdRequest(Struct):
    upload_id: UUID


class UploadTicketBody(Struct):
    """Send the file with exactly `method`, `upload_url` and every header in `headers`."""

    upload_id: UUID
    upload_url: Annotated[str, Meta(description="Presigned URL; it expires after `expires_in` seconds.")]
    method: Annotated[str, Meta(examples=["PUT"])]
    headers: dict[str, str]
    s3_key: str
    expires_in: Seconds
    expires_at: datetime


# Confirm and cancel only ever answer these; uploads in other states end as errors (upload_not_found, ...).
UploadState = Literal["pending", "confirmed", "cancelled"]


class UploadBody(Struct):
    upload_id: UUID
    status: UploadState
    filename: str
    size_bytes: Bytes
    s3_key: str
    created_at: datetime


class DownloadUrlBody(Struct):
    download_url: Annotated[str, Meta(description="Presigned URL; it expires after `expires_in` seconds.")]
    expires_in: Seconds
    expires_at: datetime


FileType = Literal["original", "thumbnail", "page_thumbnail"]


# --- scores ------------------------------------------------------------------------------------


class CreateScoreRequest(Struct):
    upload_id: UUID
    title: Title
    composer: ShortText | None = None
    genre: ShortText | None = None
    tags: Tags | None = None
    description: LongText | None = None


class UpdateScoreRequest(Struct):
    title: Title | UnsetType = UNSET
    composer: ShortText | UnsetType | None = UNSET
    genre: ShortText | UnsetType | None = UNSET
    tags: Tags | UnsetType | None = UNSET
    description: LongText | UnsetType | None = UNSET


class RegenerateThumbnailRequest(Struct):
    page: PageNumber = 1


class PdfMetadataBody(Struct):
    title: str | None
    author: str | None
    subject: str | None
    keywords: str | None
    creator: str | None
    producer: str | None
    creation_date: str | None
    modification_date: str | None


class ScoreBody(Struct):
    id: UUID
    upload_id: UUID
    title: str
    composer: str | None
    genre: str | None
    tags: list[str]
    description: str | None
    original_filename: str
    size_bytes: int
    page_count: int | None
    pdf_metadata: PdfMetadataBody | None
    processing_status: ProcessingStatus
    processing_error: str | None
    processing_error_code: (
        Annotated[
            str,
            Meta(
                description="What went wrong, for programs: not_pdf, empty, corrupt, encrypted, no_pages, "
                "render_timeout, render_limit, processing_failed, processing_stalled, page_limit, time_limit or "
                "cover_page_missing."
            ),
        ]
        | None
    )
    thumbnail_ready: bool
    page_thumbnails_ready: int
    created_at: datetime
    updated_at: datetime
    checksum_sha256: (
        Annotated[str, Meta(description="Hex SHA-256 of the stored PDF, computed by the server; null until processed.")]
        | None
    )


class ScorePage(Struct):
    items: list[ScoreBody]
    total: int
    limit: int
    offset: int


class DuplicateGroupBody(Struct):
    """Two or more of the user's scores (none in the trash) of the same bytes, oldest first."""

    checksum_sha256: str
    size_bytes: Bytes
    scores: list[ScoreBody]


class DuplicatePage(Struct):
    items: list[DuplicateGroupBody]
    total: Annotated[int, Meta(description="The number of groups.")]
    limit: int
    offset: int


# --- trash -------------------------------------------------------------------------------------


class TrashedScoreBody(ScoreBody):
    deleted_at: Annotated[datetime, Meta(description="When it went to the trash.")]
    purge_at: Annotated[datetime, Meta(description="When housekeeping deletes it for good.")]


class TrashPage(Struct):
    items: list[TrashedScoreBody]
    total: int
    limit: int
    offset: int


class TrashEmptied(Struct):
    deleted: Annotated[int, Meta(description="How many scores were deleted for good.")]


# --- setlists ----------------------------------------------------------------------------------


class CreateSetlistRequest(Struct):
    name: Name
    description: LongText | None = None


class UpdateSetlistRequest(Struct):
    name: Name | UnsetType = UNSET
    description: LongText | UnsetType | None = UNSET


class AddItemRequest(Struct):
    score_id: UUID
    position: Position | None = None
    notes: Notes | None = None


class UpdateItemRequest(Struct):
    position: Position | None = None
    notes: Notes | UnsetType | None = UNSET


class ReorderRequest(Struct):
    item_ids: Annotated[list[UUID], Meta(max_length=10_000)]


class ScoreSummaryBody(Struct):
    id: UUID
    title: str
    composer: str | None
    page_count: int | None
    thumbnail_ready: bool


class SetlistItemBody(Struct):
    id: UUID
    score_id: UUID
    position: int
    notes: str | None
    score: ScoreSummaryBody


class SetlistBody(Struct):
    id: UUID
    name: str
    description: str | None
    item_count: int
    created_at: datetime
    updated_at: datetime
    items: list[SetlistItemBody] | UnsetType = UNSET


class SetlistPage(Struct):
    items: list[SetlistBody]
    total: int
    limit: int
    offset: int


# --- dashboard ---------------------------------------------------------------------------------


class ProcessingCounts(Struct):
    pending: int
    processing: int
    failed: int


class TrashCounts(Struct):
    score_count: int
    bytes: Annotated[int, Meta(description="Bytes of the scores in the trash (still counted as used quota).")]


class DashboardBody(Struct):
    quota: Quota
    score_count: int
    setlist_count: int
    total_pages: int
    processing: ProcessingCounts
    trash: TrashCounts
    recent_scores: list[ScoreBody]


# --- administration ----------------------------------------------------------------------------


class ManagedUserBody(Struct):
    id: UUID
    email: str
    username: str
    is_admin: bool
    is_active: bool
    created_at: datetime
    quota: Quota
    score_count: Annotated[int, Meta(description="Scores in the library, not in the trash.")]
    trash_bytes: Annotated[int, Meta(description="Size of the scores in the trash.")]


class ManagedUserPage(Struct):
    items: list[ManagedUserBody]
    total: int
    limit: int
    offset: int


class UpdateUserRequest(Struct):
    quota_limit_bytes: (
        Annotated[
            int,
            Meta(
                ge=0,
                description="The user's storage limit in bytes; below their usage it refuses new "
                "uploads and deletes nothing.",
            ),
        ]
        | UnsetType
    ) = UNSET
    is_active: Annotated[bool, Meta(description="False: the user cannot log in and their tokens are refused.")] | (
        UnsetType
    ) = UNSET
    is_admin: bool | UnsetType = UNSET


class SiteStatsBody(Struct):
    user_count: int
    active_user_count: int
    score_count: Annotated[int, Meta(description="Scores in the libraries, not in the trash.")]
    trash_score_count: int
    stored_bytes: Annotated[int, Meta(description="Bytes of confirmed uploads.")]
    reserved_bytes: Annotated[int, Meta(description="Bytes held by pending uploads.")]
    processing: ProcessingCounts
