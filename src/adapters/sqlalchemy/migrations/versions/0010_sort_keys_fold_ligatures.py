"""Stored sort keys fold ligatures and letters with strokes ("Œuvres" as "oeuvres", "Łukaszewski" as
"lukaszewski"): every key is computed again with the current domain.scores.sort_key.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 13:40:00.000000
"""

from __future__ import annotations

from adapters.sqlalchemy.migrations.sort_keys import fill_genre_keys, fill_score_keys, fill_setlist_keys

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    fill_score_keys()
    fill_genre_keys()
    fill_setlist_keys()


def downgrade() -> None:
    """The folded keys stay: older code sorts and matches by them all the same, except for these letters."""
