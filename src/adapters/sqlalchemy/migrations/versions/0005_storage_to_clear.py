"""uploads.storage_to_clear: an ended upload's prefix is emptied once more after its upload URL lapses.

The flag replaces delayed deletion tasks, which held a worker slot while they waited and were lost with an
embedded server's process. Uploads that ended before this revision had such a task, so they start cleared.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 06:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN: SQLite can add it in place, where a batch copy would drop a table others refer to.
    op.add_column("uploads", sa.Column("storage_to_clear", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index("ix_uploads_storage_to_clear_created_at", "uploads", ["storage_to_clear", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_uploads_storage_to_clear_created_at", table_name="uploads")
    op.drop_column("uploads", "storage_to_clear")
