"""scores.cover_page: the page the musician chose for the cover, so the last choice wins over covers in flight.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 11:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    with op.batch_alter_table("scores") as batch:
        batch.add_column(sa.Column("cover_page", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("scores") as batch:
        batch.drop_column("cover_page")
