"""?q= and ?composer= match the sort keys, so "dvorak" finds "Dvořák": trigram indexes move to the keys.

The equality filter on composer is served by ix_scores_user_id_composer_sort_id, so the lower(composer)
index goes. The keys are filled in again: they are now composed after folding, so a Hangul syllable stays
one character instead of letters that a search for another syllable would match.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 08:00:00.000000
"""

from __future__ import annotations

from alembic import op

from adapters.sqlalchemy.migrations.sort_keys import fill_score_keys, fill_setlist_keys

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

_ADDED = {
    "ix_scores_title_sort_trgm": "ON scores USING gin (title_sort gin_trgm_ops)",
    "ix_scores_composer_sort_trgm": "ON scores USING gin (composer_sort gin_trgm_ops)",
}
_DROPPED = {
    "ix_scores_lower_title_trgm": "ON scores USING gin (lower(title) gin_trgm_ops)",
    "ix_scores_lower_composer_trgm": "ON scores USING gin (lower(composer) gin_trgm_ops)",
    "ix_scores_user_id_lower_composer": "ON scores (user_id, lower(composer)) INCLUDE (composer)",
}


def upgrade() -> None:
    fill_score_keys()
    fill_setlist_keys()
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, definition in _ADDED.items():
        op.execute(f"CREATE INDEX {name} {definition}")
    for name in _DROPPED:
        op.execute(f"DROP INDEX {name}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, definition in _DROPPED.items():
        op.execute(f"CREATE INDEX {name} {definition}")
    for name in _ADDED:
        op.execute(f"DROP INDEX {name}")
