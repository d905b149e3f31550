"""Initial schema: users, uploads, scores, setlists and their items.

Revision ID: 0001
Revises: None
Create Date: 2026-11-26 15:33:19.686311
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", GUID(binary=False), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("username", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("quota_limit_bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "setlists",
        sa.Column("id", GUID(binary=False), nullable=False),
        sa.Column("user_id", GUID(binary=False), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.Column("updated_at", DateTimeUTC(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_setlists_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_setlists")),
    )
    op.create_index("ix_setlists_user_id_name", "setlists", ["user_id", "name"], unique=False)
    op.create_table(
        "uploads",
        sa.Column("id", GUID(binary=False), nullable=False),
        sa.Column("user_id", GUID(binary=False), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("storage_key", sa.String(length=1024), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.Column("expires_at", DateTimeUTC(), nullable=False),
        sa.Column("confirmed_at", DateTimeUTC(), nullable=True),
        sa.Column("score_id", GUID(binary=False), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_uploads_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uploads")),
    )
    op.create_index("ix_uploads_status_confirmed_at", "uploads", ["status", "confirmed_at"], unique=False)
    op.create_index("ix_uploads_status_expires_at", "uploads", ["status", "expires_at"], unique=False)
    op.create_index(op.f("ix_uploads_user_id"), "uploads", ["user_id"], unique=False)
    op.create_table(
        "scores",
        sa.Column("id", GUID(binary=False), nullable=False),
        sa.Column("user_id", GUID(binary=False), nullable=False),
        sa.Column("upload_id", GUID(binary=False), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("composer", sa.String(length=300), nullable=True),
        sa.Column("genre", sa.String(length=300), nullable=True),
        sa.Column("tags", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("original_filename", sa.String(length=255), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("storage_key", sa.String(length=1024), nullable=False),
        sa.Column("page_count", sa.Integer(), nullable=True),
        sa.Column("pdf_metadata", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("processing_status", sa.String(length=16), nullable=False),
        sa.Column("processing_error", sa.Text(), nullable=True),
        sa.Column("processing_started_at", DateTimeUTC(), nullable=True),
        sa.Column("thumbnail_ready", sa.Boolean(), nullable=False),
        sa.Column("thumbnail_pages", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.Column("updated_at", DateTimeUTC(), nullable=False),
        sa.ForeignKeyConstraint(["upload_id"], ["uploads.id"], name=op.f("fk_scores_upload_id_uploads")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_scores_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scores")),
        sa.UniqueConstraint("upload_id", name=op.f("uq_scores_upload_id")),
    )
    op.create_index("ix_scores_user_id_composer", "scores", ["user_id", "composer"], unique=False)
    op.create_index("ix_scores_user_id_created_at", "scores", ["user_id", "created_at"], unique=False)
    op.create_index("ix_scores_user_id_processing_status", "scores", ["user_id", "processing_status"], unique=False)
    op.create_index("ix_scores_user_id_title", "scores", ["user_id", "title"], unique=False)
    op.create_table(
        "setlist_items",
        sa.Column("id", GUID(binary=False), nullable=False),
        sa.Column("setlist_id", GUID(binary=False), nullable=False),
        sa.Column("score_id", GUID(binary=False), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["score_id"], ["scores.id"], name=op.f("fk_setlist_items_score_id_scores"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["setlist_id"], ["setlists.id"], name=op.f("fk_setlist_items_setlist_id_setlists"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_setlist_items")),
        sa.UniqueConstraint("setlist_id", "position", name="uq_setlist_items_setlist_id_position"),
    )
    op.create_index(op.f("ix_setlist_items_score_id"), "setlist_items", ["score_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_setlist_items_score_id"), table_name="setlist_items")
    op.drop_table("setlist_items")
    op.drop_index("ix_scores_user_id_title", table_name="scores")
    op.drop_index("ix_scores_user_id_processing_status", table_name="scores")
    op.drop_index("ix_scores_user_id_created_at", table_name="scores")
    op.drop_index("ix_scores_user_id_composer", table_name="scores")
    op.drop_table("scores")
    op.drop_index(op.f("ix_uploads_user_id"), table_name="uploads")
    op.drop_index("ix_uploads_status_expires_at", table_name="uploads")
    op.drop_index("ix_uploads_status_confirmed_at", table_name="uploads")
    op.drop_table("uploads")
    op.drop_index("ix_setlists_user_id_name", table_name="setlists")
    op.drop_table("setlists")
    op.drop_table("users")
