"""scores.page_thumbnails_wanted: page thumbnails were asked for and that run has not ended, so a task runner
that dies with it (the embedded server's, whose queue is in memory) is asked again when it starts.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 13:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    with op.batch_alter_table("scores") as batch:
        batch.add_column(sa.Column("page_thumbnails_wanted", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("scores") as batch:
        batch.drop_column("page_thumbnails_wanted")
