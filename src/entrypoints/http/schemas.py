"""Request and response bodies. Domain objects never reach JSON directly; these structs are the contract."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, TypeVar
from uuid import UUID

from msgspec import UNSET, Meta, Struct, UnsetType

from domain.scores import UNSET as LEAVE_AS_IS
from domain.scores import Unset

T = TypeVar("T")


def given(value: T | UnsetType) -> T | Unset:
    """A field left out of a PATCH body means "leave as it is" in the domain."""
    return LEAVE_AS_IS if isinstance(value, UnsetType) else value


Email = Annotated[str, Meta(max_length=320, examples=["clara@example.com"])]
Password = Annotated[str, Meta(max_length=1024, examples=["correct horse battery"])]
ShortText = Annotated[str, Meta(max_length=300)]
LongText = Annotated[str, Meta(max_length=5000)]
Tag = Annotated[str, Meta(max_length=64)]
Tags = Annotated[list[Tag], Meta(max_length=50)]
PageNumber = Annotated[int, Meta(ge=1, le=1_000_000)]
Position = Annotated[int, Meta(ge=0, le=1_000_000)]


# --- errors and operations ---------------------------------------------------------------------


class ErrorBody(Struct):
    status_code: int
    code: str
    detail: str


class HealthBody(Struct):
    status: str
    checks: dict[str, str] | None = None


class TaskAccepted(Struct):
    task_id: str


# --- accounts ----------------------------------------------------------------------------------


class RegisterRequest(Struct):
    email: Email
    password: Password
    username: Annotated[str, Meta(max_length=64)] | None = None


class LoginRequest(Struct):
    email: Email
    password: Password


class Quota(Struct):
    limit_bytes: int
    used_bytes: int
    reserved_bytes: int
    available_bytes: int


class UserBody(Struct):
    id: UUID
    email: str
    username: str
    created_at: datetime
    quota: Quota


class TokenBody(Struct):
    access_token: str
    expires_in: int
    token_type: str = "bearer"


# --- files -------------------------------------------------------------------------------------


class UploadUrlRequest(Struct):
    filename: Annotated[str, Meta(max_length=1024, examples=["etude.pdf"])]
    content_type: Annotated[str, Meta(max_length=255, examples=["application/pdf"])]
    size_bytes: Annotated[int, Meta(examples=[199199])]


class UploadIdRequest(Struct):
    upload_id: UUID


class UploadTicketBody(Struct):
    upload_id: UUID
    upload_url: str
    method: str
    headers: dict[str, str]
    s3_key: str
    expires_in: int
    expires_at: datetime


class UploadBody(Struct):
    upload_id: UUID
    status: str
    filename: str
    size_bytes: int
    s3_key: str
    created_at: datetime


class DownloadUrlBody(Struct):
    download_url: str
    expires_in: int
    expires_at: datetime


FileType = Literal["original", "thumbnail", "page_thumbnail"]


# --- scores ------------------------------------------------------------------------------------


class CreateScoreRequest(Struct):
    upload_id: UUID
    title: ShortText
    composer: ShortText | None = None
    genre: ShortText | None = None
    tags: Tags | None = None
    description: LongText | None = None


class UpdateScoreRequest(Struct):
    title: ShortText | UnsetType = UNSET
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
    processing_status: str
    processing_error: str | None
    thumbnail_ready: bool
    page_thumbnails_ready: int
    created_at: datetime
    updated_at: datetime


class ScorePage(Struct):
    items: list[ScoreBody]
    total: int
    limit: int
    offset: int


# --- setlists ----------------------------------------------------------------------------------


class CreateSetlistRequest(Struct):
    name: Annotated[str, Meta(max_length=200)]
    description: LongText | None = None


class UpdateSetlistRequest(Struct):
    name: Annotated[str, Meta(max_length=200)] | UnsetType = UNSET
    description: LongText | UnsetType | None = UNSET


class AddItemRequest(Struct):
    score_id: UUID
    position: Position | None = None
    notes: Annotated[str, Meta(max_length=2000)] | None = None


class UpdateItemRequest(Struct):
    position: Position | None = None
    notes: Annotated[str, Meta(max_length=2000)] | UnsetType | None = UNSET


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


class DashboardBody(Struct):
    quota: Quota
    score_count: int
    setlist_count: int
    total_pages: int
    processing: ProcessingCounts
    recent_scores: list[ScoreBody]
