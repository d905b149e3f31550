"""Filling in columns of existing rows, for the revisions that add them: the stored sort keys
(domain.text.sort_key), a batch at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from domain.text import sort_key

_BATCH = 1000
_SCORES = sa.table(
    "scores",
    sa.column("id", sa.Uuid()),
    sa.column("title", sa.String()),
    sa.column("composer", sa.String()),
    sa.column("title_sort", sa.String()),
    sa.column("composer_sort", sa.String()),
    sa.column("genre", sa.String()),
    sa.column("genre_sort", sa.String()),
    sa.column("tags", sa.JSON()),
    sa.column("tag_keys", sa.JSON()),
)
_SETLISTS = sa.table(
    "setlists", sa.column("id", sa.Uuid()), sa.column("name", sa.String()), sa.column("name_sort", sa.String())
)


def json_type() -> sa.types.TypeEngine[object]:
    return JSONB() if op.get_bind().dialect.name == "postgresql" else sa.JSON()


def fill_score_keys() -> None:
    update = _SCORES.update().where(_SCORES.c.id == sa.bindparam("row_id"))
    update = update.values(
        title_sort=sa.bindparam("title_key"),
        composer_sort=sa.bindparam("composer_key"),
        tag_keys=sa.bindparam("tag_keys", type_=json_type()),
    )
    fill_rows(
        _SCORES,
        [_SCORES.c.title, _SCORES.c.composer, _SCORES.c.tags],
        update,
        lambda row: {
            "title_key": sort_key(row.title),
            "composer_key": None if row.composer is None else sort_key(row.composer),
            "tag_keys": [sort_key(tag) for tag in row.tags],
        },
    )


def fill_genre_keys() -> None:
    update = _SCORES.update().where(_SCORES.c.id == sa.bindparam("row_id")).values(genre_sort=sa.bindparam("key"))
    fill_rows(
        _SCORES, [_SCORES.c.genre], update, lambda row: {"key": None if row.genre is None else sort_key(row.genre)}
    )


def fill_setlist_keys() -> None:
    update = _SETLISTS.update().where(_SETLISTS.c.id == sa.bindparam("row_id"))
    update = update.values(name_sort=sa.bindparam("name_key"))
    fill_rows(_SETLISTS, [_SETLISTS.c.name], update, lambda row: {"name_key": sort_key(row.name)})


def fill_rows(
    table: sa.TableClause,
    columns: Sequence[sa.ColumnClause[Any]],
    update: sa.Update,
    keys_of: Callable[[Any], dict[str, object]],
) -> None:
    """Every row's keys, a batch at a time in id order."""
    connection = op.get_bind()
    last = None
    while True:
        page = sa.select(table.c.id, *columns).order_by(table.c.id).limit(_BATCH)
        rows = connection.execute(page if last is None else page.where(table.c.id > last)).all()
        if not rows:
            return
        connection.execute(update, [{"row_id": row.id, **keys_of(row)} for row in rows])
        last = rows[-1].id
