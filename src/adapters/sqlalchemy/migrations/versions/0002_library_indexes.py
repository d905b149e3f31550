"""Indexes that fit the library's list queries (measured with bench/library.py).

- The ordering indexes end with id, the pages' tie-breaker, so a page is read in index order without a sort.
- Postgres only: `-composer` (nulls last in both directions) has its own index; (user_id, lower(composer))
  and (user_id, lower(genre)) serve the case-insensitive filters (INCLUDE makes their counts index-only); a
  GIN index (jsonb_path_ops) serves `tags @>`; trigram indexes on lower(title) and lower(composer) serve
  `?q=` substring search (extension pg_trgm, trusted since PostgreSQL 13: the
  database owner may create it). SQLite gets none of these: no NULLS LAST in indexes, no trigrams, and its
  lower() is a function the application registers (an index on it would break for other SQLite clients).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 17:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

_REPLACED = {
    # old name: (new name, columns)
    "ix_scores_user_id_created_at": ("ix_scores_user_id_created_at_id", ["user_id", "created_at", "id"]),
    "ix_scores_user_id_title": ("ix_scores_user_id_title_id", ["user_id", "title", "id"]),
    "ix_scores_user_id_composer": ("ix_scores_user_id_composer_id", ["user_id", "composer", "id"]),
}
_POSTGRES_ONLY = {
    "ix_scores_user_id_composer_desc_id": "ON scores (user_id, composer DESC NULLS LAST, id DESC)",
    "ix_scores_user_id_lower_composer": "ON scores (user_id, lower(composer)) INCLUDE (composer)",
    "ix_scores_user_id_lower_genre": "ON scores (user_id, lower(genre)) INCLUDE (genre)",
    "ix_scores_tags": "ON scores USING gin (tags jsonb_path_ops)",
    "ix_scores_lower_title_trgm": "ON scores USING gin (lower(title) gin_trgm_ops)",
    "ix_scores_lower_composer_trgm": "ON scores USING gin (lower(composer) gin_trgm_ops)",
}


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    for old, (new, columns) in _REPLACED.items():
        op.create_index(new, "scores", columns, unique=False)
        op.drop_index(old, table_name="scores")
    if _postgres():
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, definition in _POSTGRES_ONLY.items():
            op.execute(f"CREATE INDEX {name} {definition}")


def downgrade() -> None:
    if _postgres():
        for name in _POSTGRES_ONLY:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    for old, (new, columns) in _REPLACED.items():
        op.create_index(old, "scores", columns[:-1], unique=False)
        op.drop_index(new, table_name="scores")
