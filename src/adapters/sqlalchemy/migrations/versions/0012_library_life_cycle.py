"""The library's life cycle: users.is_admin and users.is_active (administration); scores.deleted_at (the trash)
and scores.checksum_sha256 (duplicates), each indexed for the queries that use it. Existing users are active
and not administrators; existing scores are in the library and get their checksum from housekeeping.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 12:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("is_admin", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False))
    with op.batch_alter_table("scores") as batch:
        batch.add_column(sa.Column("deleted_at", DateTimeUTC(), nullable=True))
        batch.add_column(sa.Column("checksum_sha256", sa.String(64), nullable=True))
        batch.create_index("ix_scores_user_id_checksum_sha256", ["user_id", "checksum_sha256"])
        batch.create_index("ix_scores_user_id_deleted_at", ["user_id", "deleted_at"])
        batch.create_index("ix_scores_deleted_at", ["deleted_at"])


def downgrade() -> None:
    with op.batch_alter_table("scores") as batch:
        batch.drop_index("ix_scores_deleted_at")
        batch.drop_index("ix_scores_user_id_deleted_at")
        batch.drop_index("ix_scores_user_id_checksum_sha256")
        batch.drop_column("checksum_sha256")
        batch.drop_column("deleted_at")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("is_active")
        batch.drop_column("is_admin")
