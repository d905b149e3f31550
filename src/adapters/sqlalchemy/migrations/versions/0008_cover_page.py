"""scores.cover_page, cover_key and cover_key_page: the page the musician chose for the cover, and the stored
cover with the page it shows.

Each rendered cover gets its own key, so covers rendered at once never overwrite each other, and the last choice
wins. Covers stored before were all `thumbnail.jpg`.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 11:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.sqlalchemy.migrations.sort_keys import fill_rows

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

_SCORES = sa.table(
    "scores",
    sa.column("id", sa.Uuid()),
    sa.column("user_id", sa.Uuid()),
    sa.column("upload_id", sa.Uuid()),
    sa.column("thumbnail_ready", sa.Boolean()),
    sa.column("cover_key", sa.String()),
    sa.column("cover_key_page", sa.Integer()),
)


def upgrade() -> None:
    with op.batch_alter_table("scores") as batch:
        batch.add_column(sa.Column("cover_page", sa.Integer(), server_default="1", nullable=False))
        batch.add_column(sa.Column("cover_key", sa.String(length=1024), nullable=True))
        batch.add_column(sa.Column("cover_key_page", sa.Integer(), nullable=True))
    # Whatever page an old cover shows, it stands for the default choice, page 1, so no refresh replaces it.
    update = _SCORES.update().where(_SCORES.c.id == sa.bindparam("row_id"))
    update = update.values(cover_key=sa.bindparam("key"), cover_key_page=sa.bindparam("page"))
    fill_rows(
        _SCORES,
        [_SCORES.c.user_id, _SCORES.c.upload_id, _SCORES.c.thumbnail_ready],
        update,
        lambda row: (
            {"key": f"{row.user_id}/scores/{row.upload_id}/thumbnail.jpg", "page": 1}
            if row.thumbnail_ready
            else {"key": None, "page": None}
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("scores") as batch:
        batch.drop_column("cover_key_page")
        batch.drop_column("cover_key")
        batch.drop_column("cover_page")
