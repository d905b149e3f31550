"""Codes beside sentences: scores' processing_error_code, and uploads' rejection_code (confirm answers it again).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    with op.batch_alter_table("scores") as batch:
        batch.add_column(sa.Column("processing_error_code", sa.String(length=32), nullable=True))
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("rejection_code", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("rejection_code")
    with op.batch_alter_table("scores") as batch:
        batch.drop_column("processing_error_code")
