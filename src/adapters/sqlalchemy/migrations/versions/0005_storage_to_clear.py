"""uploads.storage_to_clear: an ended upload's prefix is emptied once more after its upload URL lapses.

The flag replaces delayed deletion tasks, which held a worker slot while they waited and were lost with an
embedded server's process (as when it restarts to upgrade). Uploads that ended in the last day are cleared
once more; older ones had their delayed deletion long ago.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 06:30:00.000000
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

_UPLOADS = sa.table(
    "uploads",
    sa.column("status", sa.String()),
    sa.column("created_at", DateTimeUTC()),
    sa.column("storage_to_clear", sa.Boolean()),
)
_ENDED = ("cancelled", "expired", "rejected", "deleted")


def upgrade() -> None:
    # A plain ADD COLUMN: SQLite can add it in place, where a batch copy would drop a table others refer to.
    op.add_column("uploads", sa.Column("storage_to_clear", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index("ix_uploads_storage_to_clear_created_at", "uploads", ["storage_to_clear", "created_at"])
    recently = datetime.now(UTC) - timedelta(days=1)
    op.execute(
        _UPLOADS.update()
        .where(_UPLOADS.c.status.in_(_ENDED), _UPLOADS.c.created_at > recently)
        .values(storage_to_clear=True)
    )


def downgrade() -> None:
    op.drop_index("ix_uploads_storage_to_clear_created_at", table_name="uploads")
    op.drop_column("uploads", "storage_to_clear")
