"""setlists.name_sort: setlists are listed by name ignoring case and accents, as the library orders titles.

Byte order put "Beta" before "advent" and "Église" after "Zelda". Existing setlists get their key here.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 07:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.sqlalchemy.migrations.sort_keys import fill_setlist_keys

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    with op.batch_alter_table("setlists") as batch:
        batch.add_column(sa.Column("name_sort", sa.String(length=300), nullable=True))
    fill_setlist_keys()
    with op.batch_alter_table("setlists") as batch:
        batch.alter_column("name_sort", existing_type=sa.String(length=300), nullable=False)
    op.create_index("ix_setlists_user_id_name_sort_id", "setlists", ["user_id", "name_sort", "id"])
    op.drop_index("ix_setlists_user_id_name", table_name="setlists")


def downgrade() -> None:
    op.create_index("ix_setlists_user_id_name", "setlists", ["user_id", "name"])
    op.drop_index("ix_setlists_user_id_name_sort_id", table_name="setlists")
    with op.batch_alter_table("setlists") as batch:
        batch.drop_column("name_sort")
