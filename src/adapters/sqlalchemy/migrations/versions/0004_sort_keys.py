"""Sort keys: the library orders titles and composers, and matches tags, ignoring case and accents.

Byte order put "Beta" before "alpha" and "Étude" after "Zelda", and ?tag=Piano missed "piano". The keys
(domain.scores.sort_key) are stored beside the names, so both databases order, match and index them alike;
existing scores get theirs here.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 03:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.sqlalchemy.migrations.sort_keys import fill_score_keys, json_type

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    with op.batch_alter_table("scores") as batch:
        batch.add_column(sa.Column("title_sort", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("composer_sort", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("tag_keys", json_type(), nullable=True))
    fill_score_keys()
    with op.batch_alter_table("scores") as batch:
        batch.alter_column("title_sort", existing_type=sa.String(length=300), nullable=False)
        batch.alter_column("tag_keys", existing_type=json_type(), nullable=False)
    op.create_index("ix_scores_user_id_title_sort_id", "scores", ["user_id", "title_sort", "id"])
    op.create_index("ix_scores_user_id_composer_sort_id", "scores", ["user_id", "composer_sort", "id"])
    op.drop_index("ix_scores_user_id_title_id", table_name="scores")
    op.drop_index("ix_scores_user_id_composer_id", table_name="scores")
    if _postgres():
        op.execute(
            "CREATE INDEX ix_scores_user_id_composer_sort_desc_id "
            "ON scores (user_id, composer_sort DESC NULLS LAST, id DESC)"
        )
        op.execute("DROP INDEX ix_scores_user_id_composer_desc_id")
        op.execute("CREATE INDEX ix_scores_tag_keys ON scores USING gin (tag_keys jsonb_path_ops)")
        op.execute("DROP INDEX ix_scores_tags")


def downgrade() -> None:
    if _postgres():
        op.execute("CREATE INDEX ix_scores_tags ON scores USING gin (tags jsonb_path_ops)")
        op.execute("DROP INDEX ix_scores_tag_keys")
        op.execute(
            "CREATE INDEX ix_scores_user_id_composer_desc_id ON scores (user_id, composer DESC NULLS LAST, id DESC)"
        )
        op.execute("DROP INDEX ix_scores_user_id_composer_sort_desc_id")
    op.create_index("ix_scores_user_id_title_id", "scores", ["user_id", "title", "id"])
    op.create_index("ix_scores_user_id_composer_id", "scores", ["user_id", "composer", "id"])
    op.drop_index("ix_scores_user_id_composer_sort_id", table_name="scores")
    op.drop_index("ix_scores_user_id_title_sort_id", table_name="scores")
    with op.batch_alter_table("scores") as batch:
        batch.drop_column("tag_keys")
        batch.drop_column("composer_sort")
        batch.drop_column("title_sort")
