"""scores.genre_sort: ?genre= matches case and accents aside, as ?composer= and ?tag= do ("etude" finds "Étude").

The key replaces the Postgres-only lower(genre) index.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 11:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.sqlalchemy.migrations.sort_keys import fill_genre_keys

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

_LOWER_GENRE = "ix_scores_user_id_lower_genre"


def upgrade() -> None:
    with op.batch_alter_table("scores") as batch:
        batch.add_column(sa.Column("genre_sort", sa.String(length=300), nullable=True))
    fill_genre_keys()
    op.create_index("ix_scores_user_id_genre_sort_id", "scores", ["user_id", "genre_sort", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index(_LOWER_GENRE, table_name="scores")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX {_LOWER_GENRE} ON scores (user_id, lower(genre)) INCLUDE (genre)")
    op.drop_index("ix_scores_user_id_genre_sort_id", table_name="scores")
    with op.batch_alter_table("scores") as batch:
        batch.drop_column("genre_sort")
