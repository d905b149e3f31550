"""Tables of the relational store. Rows are mapped to domain objects in `mappers`, never handed out."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.base import convention
from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    literal_column,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column, relationship

# advanced_alchemy.types.JsonB is this plus an Oracle variant that fails to attach under SQLAlchemy 2.1.
# none_as_null: a missing value is SQL NULL, not the JSON text "null".
JsonB = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class Base(DeclarativeBase):
    # Own metadata rather than advanced-alchemy's shared registry, so only ScoreMate's tables migrate.
    metadata = MetaData(naming_convention=convention)
    # UUIDs are native on Postgres and 32 hex characters on SQLite (which reflects BINARY(16) as NUMERIC).
    type_annotation_map = {UUID: GUID(binary=False), datetime: DateTimeUTC, dict[str, Any]: JsonB}


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    username: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    quota_limit_bytes: Mapped[int] = mapped_column(BigInteger)
    is_admin: Mapped[bool] = mapped_column(server_default=false())
    is_active: Mapped[bool] = mapped_column(server_default=true())
    created_at: Mapped[datetime]


class UploadRow(Base):
    __tablename__ = "uploads"
    __table_args__ = (
        Index("ix_uploads_status_expires_at", "status", "expires_at"),
        Index("ix_uploads_status_confirmed_at", "status", "confirmed_at"),
        Index("ix_uploads_storage_to_clear_created_at", "storage_to_clear", "created_at"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True)
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(String(1024))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    # No foreign key: the upload record outlives a deleted score and keeps pointing at it.
    score_id: Mapped[UUID | None]
    rejection_code: Mapped[str | None] = mapped_column(String(32))
    storage_to_clear: Mapped[bool] = mapped_column(server_default=false())

    # This and the other lazy="raise" many-to-ones are never loaded or assigned (rows link by id columns):
    # they exist because the unit of work orders INSERTs and DELETEs by relationships, not by foreign keys.
    user: Mapped[UserRow] = relationship(lazy="raise")


class ScoreRow(Base):
    __tablename__ = "scores"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    upload_id: Mapped[UUID] = mapped_column(ForeignKey("uploads.id"), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    composer: Mapped[str | None] = mapped_column(String(300))
    # domain.text.sort_key of title and composer: what the library is ordered by (migration 0004).
    title_sort: Mapped[str] = mapped_column(String(300))
    composer_sort: Mapped[str | None] = mapped_column(String(300))
    tag_keys: Mapped[list[str]] = mapped_column(JsonB)  # the same key of each tag: what ?tag= matches
    genre: Mapped[str | None] = mapped_column(String(300))
    genre_sort: Mapped[str | None] = mapped_column(String(300))  # the same key: what ?genre= matches (0009)
    tags: Mapped[list[str]] = mapped_column(JsonB)
    description: Mapped[str | None] = mapped_column(Text)
    original_filename: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(String(1024))
    page_count: Mapped[int | None] = mapped_column(Integer)
    pdf_metadata: Mapped[dict[str, Any] | None]
    processing_status: Mapped[str] = mapped_column(String(16))
    processing_error: Mapped[str | None] = mapped_column(Text)
    processing_error_code: Mapped[str | None] = mapped_column(String(32))
    processing_started_at: Mapped[datetime | None]
    thumbnail_ready: Mapped[bool]
    thumbnail_pages: Mapped[list[int]] = mapped_column(JsonB)
    cover_page: Mapped[int] = mapped_column(Integer, server_default="1")
    cover_key: Mapped[str | None] = mapped_column(String(1024))
    cover_key_page: Mapped[int | None] = mapped_column(Integer)  # the page that cover shows
    page_thumbnails_wanted: Mapped[bool] = mapped_column(server_default=false())
    checksum_sha256: Mapped[str | None] = mapped_column(String(64))  # hex, of the stored PDF (migration 0012)
    deleted_at: Mapped[datetime | None]  # when it went to the trash; NULL: in the library
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    user: Mapped[UserRow] = relationship(lazy="raise")
    upload: Mapped[UploadRow] = relationship(lazy="raise")

    # The library's list queries (see bench/library.py). Each ordering ends with id, as the pages do, so the
    # first page is read in index order without a sort.
    __table_args__ = (
        Index("ix_scores_user_id_created_at_id", "user_id", "created_at", "id"),
        Index("ix_scores_user_id_title_sort_id", "user_id", "title_sort", "id"),
        Index("ix_scores_user_id_composer_sort_id", "user_id", "composer_sort", "id"),
        Index("ix_scores_user_id_genre_sort_id", "user_id", "genre_sort", "id"),
        Index("ix_scores_user_id_processing_status", "user_id", "processing_status"),
        Index("ix_scores_user_id_checksum_sha256", "user_id", "checksum_sha256"),
        Index("ix_scores_user_id_deleted_at", "user_id", "deleted_at"),
        Index("ix_scores_deleted_at", "deleted_at"),  # housekeeping's purge of the oldest trash
        # Postgres only: -composer puts scores without a composer last, which a backward scan of the index above
        # cannot; the tag filter; and trigram indexes for ?q= (a substring of title_sort or composer_sort,
        # migration 0007). SQLite has no NULLS LAST in indexes, and no GIN or trigrams.
        Index(
            "ix_scores_user_id_composer_sort_desc_id", "user_id", text("composer_sort DESC NULLS LAST"), text("id DESC")
        ).ddl_if(dialect="postgresql"),
        # tag_keys @> '["x"]'. This and the trigram indexes name their columns as literals so that Alembic, like
        # the DDL, leaves them to Postgres.
        Index(
            "ix_scores_tag_keys",
            literal_column("tag_keys"),
            postgresql_using="gin",
            postgresql_ops={"tag_keys": "jsonb_path_ops"},
        ).ddl_if(dialect="postgresql"),
        Index(
            "ix_scores_title_sort_trgm",
            literal_column("title_sort"),
            postgresql_using="gin",
            postgresql_ops={"title_sort": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
        Index(
            "ix_scores_composer_sort_trgm",
            literal_column("composer_sort"),
            postgresql_using="gin",
            postgresql_ops={"composer_sort": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )


class SetlistRow(Base):
    __tablename__ = "setlists"
    __table_args__ = (Index("ix_setlists_user_id_name_sort_id", "user_id", "name_sort", "id"),)

    id: Mapped[UUID] = mapped_column(primary_key=True)
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(200))
    # domain.text.sort_key of the name: what setlists are listed by (migration 0006).
    name_sort: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    user: Mapped[UserRow] = relationship(lazy="raise")
    items: Mapped[list[SetlistItemRow]] = relationship(
        order_by="SetlistItemRow.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise",
    )


class SetlistItemRow(Base):
    __tablename__ = "setlist_items"
    # Not deferrable (SQLite cannot defer a unique constraint): the repository renumbers in two steps.
    __table_args__ = (UniqueConstraint("setlist_id", "position", name="uq_setlist_items_setlist_id_position"),)

    id: Mapped[UUID] = mapped_column(primary_key=True)
    setlist_id: Mapped[UUID] = mapped_column(ForeignKey("setlists.id", ondelete="CASCADE"))
    score_id: Mapped[UUID] = mapped_column(ForeignKey("scores.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    notes: Mapped[str | None] = mapped_column(Text)
    # Its score is in the trash: read in the statement that loads the items, as a correlated subquery.
    score_in_trash: Mapped[bool] = column_property(
        select(ScoreRow.deleted_at.is_not(None))
        .where(ScoreRow.id == score_id)
        .correlate_except(ScoreRow)
        .scalar_subquery()
    )

    score: Mapped[ScoreRow] = relationship(lazy="raise")
