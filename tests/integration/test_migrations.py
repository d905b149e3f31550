"""The packaged Alembic migrations build exactly the schema the models describe, on SQLite and Postgres."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sqlalchemy import SqlAlchemyUnitOfWork, create_engine, create_session_factory
from adapters.sqlalchemy.migrate import (
    SchemaNotMigrated,
    alembic_config,
    downgrade,
    ensure_schema_migrated,
    head_revision,
    migrate,
)
from adapters.sqlalchemy.models import Base
from application.ports import ScoreQuery
from domain.scores import StoredCover
from entrypoints.cli import main
from tests.integration.support.server import free_port

KEPT_USER = {
    "id": uuid4(),
    "email": "kept@example.com",
    "username": "kept",
    "password_hash": "hash",
    "quota_limit_bytes": 1,
    "created_at": datetime(2026, 1, 1, tzinfo=UTC),
}
TABLES = {"users", "uploads", "scores", "setlists", "setlist_items", "alembic_version"}


@pytest.fixture
def executed() -> Iterator[list[str]]:
    """Every SQL statement any engine runs while the test does."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    yield statements
    event.remove(Engine, "before_cursor_execute", record)


def schema_report(connection: Connection) -> tuple[set[str], str | None, list[Any]]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    tables = set(inspect(connection).get_table_names())
    return tables, context.get_current_revision(), compare_metadata(context, Base.metadata)


@asynccontextmanager
async def _engine_at(database_url: str, revision: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the database migrated to `revision`, disposed of afterwards."""
    await migrate(database_url, revision)
    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@asynccontextmanager
async def _filled_at_0003(database_url: str, **row: Any) -> AsyncIterator[tuple[AsyncEngine, str]]:
    """An engine on a database with one row in every table written at revision 0003 (see _fill_at_0003), and
    the score's storage prefix."""
    async with _engine_at(database_url, "0003") as engine:
        async with engine.begin() as connection:
            prefix = await _fill_at_0003(connection, **row)
        yield engine, prefix


async def test_migrate_builds_the_schema_of_the_models(database_url: str) -> None:
    await migrate(database_url)

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            tables, revision, differences = await connection.run_sync(schema_report)
    finally:
        await engine.dispose()

    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    assert head is not None
    assert tables == TABLES
    assert revision == head
    assert differences == []


async def _check_schema(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            await ensure_schema_migrated(connection)
    finally:
        await engine.dispose()


async def test_the_schema_check_refuses_a_database_behind_this_code(database_url: str) -> None:
    with pytest.raises(SchemaNotMigrated, match="revision None"):
        await _check_schema(database_url)
    await migrate(database_url, "0006")
    with pytest.raises(SchemaNotMigrated, match=f"revision 0006, this code needs {head_revision()}"):
        await _check_schema(database_url)
    await migrate(database_url)
    await _check_schema(database_url)


async def test_the_schema_check_accepts_a_migration_of_the_next_release(database_url: str) -> None:
    await migrate(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = 'next_release'"))
    finally:
        await engine.dispose()
    await _check_schema(database_url)


async def test_migrate_twice_changes_nothing(database_url: str, executed: list[str]) -> None:
    await migrate(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            users = Base.metadata.tables["users"]
            await connection.execute(users.insert().values(**KEPT_USER))
        executed.clear()

        await migrate(database_url)

        async with engine.connect() as connection:
            kept = await connection.scalar(text("SELECT username FROM users WHERE email = 'kept@example.com'"))
    finally:
        await engine.dispose()

    writes = [s for s in executed if s.lstrip().split()[0].upper() in {"CREATE", "ALTER", "DROP", "INSERT", "UPDATE"}]
    assert writes == []
    assert kept == "kept"


async def test_scores_stored_before_sort_keys_get_theirs(database_url: str) -> None:
    async with _filled_at_0003(
        database_url, title="Étude No. 1", composer="Dvořák", tags=["Klavier", "Übung"], genre="Élégie"
    ) as (engine, _):
        await migrate(database_url)
        async with engine.connect() as connection:
            query = text("SELECT title_sort, composer_sort, tag_keys, genre_sort FROM scores")
            keys = (await connection.execute(query)).one()
    title_key, composer_key, tag_keys, genre_key = keys
    assert (title_key, composer_key, genre_key) == ("etude no. 1", "dvorak", "elegie")
    assert (json.loads(tag_keys) if isinstance(tag_keys, str) else tag_keys) == ["klavier", "ubung"]


async def _fill_at_0003(
    connection: Any,
    title: str = "Étude",
    composer: str | None = None,
    tags: Sequence[str] = (),
    cover: bool = False,
    genre: str | None = None,
) -> str:
    """One row in every table, with only the columns revision 0003 has; returns the score's storage prefix."""
    tables = Base.metadata.tables
    user_id, upload_id, score_id, setlist_id = uuid4(), uuid4(), uuid4(), uuid4()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    file = {"size_bytes": 1, "storage_key": "k", "created_at": now}
    await connection.execute(tables["users"].insert().values(**{**KEPT_USER, "id": user_id}))
    await connection.execute(
        tables["uploads"]
        .insert()
        .values(id=upload_id, user_id=user_id, filename="a.pdf", content_type="application/pdf", **file)
        .values(status="confirmed", expires_at=now)
    )
    await connection.execute(
        tables["scores"]
        .insert()
        .values(id=score_id, user_id=user_id, upload_id=upload_id, title=title, composer=composer, tags=list(tags))
        .values(genre=genre)
        .values(original_filename="a.pdf")
        .values(processing_status="ready", updated_at=now, thumbnail_ready=cover, thumbnail_pages=[], **file)
    )
    await connection.execute(
        text(
            "INSERT INTO setlists (id, user_id, name, created_at, updated_at) VALUES (:id, :user_id, 'Gig', :now, :now)"
        ).bindparams(id=setlist_id, user_id=user_id, now=now)
    )
    await connection.execute(
        tables["setlist_items"].insert().values(id=uuid4(), setlist_id=setlist_id, score_id=score_id, position=0)
    )
    return f"{user_id}/scores/{upload_id}/"


async def test_covers_stored_before_each_had_its_own_key_keep_theirs(database_url: str) -> None:
    async with _filled_at_0003(database_url, cover=True) as (engine, prefix):
        await migrate(database_url)
        async with SqlAlchemyUnitOfWork(create_session_factory(engine)) as uow:
            [listed] = (await uow.scores.search(ScoreQuery(user_id=UUID(prefix.split("/")[0])))).items
            score = await uow.scores.get(listed.id)
    assert score is not None
    assert score.cover.stored == StoredCover(f"{prefix}thumbnail.jpg", 1)
    assert score.cover.page == 1 and score.cover.is_current


async def _row_counts(connection: Any) -> dict[str, int]:
    names = sorted(TABLES - {"alembic_version"})
    return {name: (await connection.execute(text(f"SELECT count(*) FROM {name}"))).scalar_one() for name in names}


async def test_migrating_up_and_down_keeps_every_row(database_url: str) -> None:
    """SQLite rebuilds altered tables; with foreign keys on, that would cascade to the setlist items."""
    async with _filled_at_0003(database_url) as (engine, _):
        await migrate(database_url)
        async with engine.connect() as connection:
            assert await _row_counts(connection) == dict.fromkeys(sorted(TABLES - {"alembic_version"}), 1)
        await downgrade(database_url, "0003")
        async with engine.connect() as connection:
            assert await _row_counts(connection) == dict.fromkeys(sorted(TABLES - {"alembic_version"}), 1)


async def test_uploads_that_ended_lately_are_cleared_once_more(database_url: str) -> None:
    now = datetime.now(UTC)
    uploads = {"lately": ("cancelled", now), "long_ago": ("deleted", now - timedelta(days=2)), "live": ("pending", now)}
    async with _engine_at(database_url, "0004") as engine:
        async with engine.begin() as connection:
            user_id = uuid4()
            await connection.execute(Base.metadata.tables["users"].insert().values(**{**KEPT_USER, "id": user_id}))
            for name, (status, created) in uploads.items():
                row = {"id": uuid4(), "user_id": user_id, "filename": name, "content_type": "application/pdf"}
                row |= {"size_bytes": 1, "storage_key": name, "status": status, "created_at": created}
                await connection.execute(Base.metadata.tables["uploads"].insert().values(**row, expires_at=created))
        await migrate(database_url)
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT filename, storage_to_clear FROM uploads"))).all()
    assert {name: bool(flag) for name, flag in rows} == {"lately": True, "long_ago": False, "live": False}


async def test_setlists_stored_before_their_sort_key_get_theirs(database_url: str) -> None:
    user_id = uuid4()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    async with _engine_at(database_url, "0005") as engine:
        async with engine.begin() as connection:
            await connection.execute(Base.metadata.tables["users"].insert().values(**{**KEPT_USER, "id": user_id}))
            # Only the columns revision 0005 has.
            for name in ("Zelda suite", "Église", "advent"):
                await connection.execute(
                    text(
                        "INSERT INTO setlists (id, user_id, name, created_at, updated_at)"
                        " VALUES (:id, :user_id, :name, :now, :now)"
                    ).bindparams(id=uuid4(), user_id=user_id, name=name, now=now)
                )

        await migrate(database_url)

        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT name_sort FROM setlists ORDER BY name_sort"))).all()
    assert [row.name_sort for row in rows] == ["advent", "eglise", "zelda suite"]


async def test_keys_written_before_hangul_stayed_whole_are_written_again(database_url: str) -> None:
    decomposed = unicodedata.normalize("NFKD", "한국")
    async with _filled_at_0003(database_url) as (engine, _):
        await migrate(database_url, "0006")
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE scores SET title = '한국', title_sort = :key").bindparams(key=decomposed)
            )
            await connection.execute(
                text("UPDATE setlists SET name = '한국', name_sort = :key").bindparams(key=decomposed)
            )
        await migrate(database_url)
        async with engine.connect() as connection:
            title_key = (await connection.execute(text("SELECT title_sort FROM scores"))).scalar_one()
            name_key = (await connection.execute(text("SELECT name_sort FROM setlists"))).scalar_one()
    assert title_key == name_key == "한국"


async def test_keys_written_before_ligatures_were_folded_are_written_again(database_url: str) -> None:
    async with _filled_at_0003(database_url) as (engine, _):
        await migrate(database_url, "0009")
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE scores SET title = 'Œuvres', title_sort = 'œuvres', composer = 'Łukasz', genre = 'Ætude'")
            )
            await connection.execute(text("UPDATE setlists SET name = 'Œuvres', name_sort = 'œuvres'"))
        await migrate(database_url)
        async with engine.connect() as connection:
            score = (await connection.execute(text("SELECT title_sort, composer_sort, genre_sort FROM scores"))).one()
            name_key = (await connection.execute(text("SELECT name_sort FROM setlists"))).scalar_one()
    assert tuple(score) == ("oeuvres", "lukasz", "aetude")
    assert name_key == "oeuvres"


def test_migrate_names_a_database_it_cannot_reach_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("SCOREMATE_DATABASE_URL", f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/scores")
    monkeypatch.setenv("SCOREMATE_DATA_DIR", str(tmp_path))
    assert main(["migrate"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("scoremate: migrate failed: "), error
    assert "Connect" in error and error.count("\n") == 1, error


async def test_users_and_scores_stored_before_the_life_cycle_are_active_members_and_in_the_library(
    database_url: str,
) -> None:
    async with _filled_at_0003(database_url) as (engine, prefix):
        await migrate(database_url)
        user_id = UUID(prefix.split("/")[0])
        async with SqlAlchemyUnitOfWork(create_session_factory(engine)) as uow:
            user = await uow.users.get(user_id)
            [listed] = (await uow.scores.search(ScoreQuery(user_id=user_id))).items
            score = await uow.scores.get(listed.id)
    assert user is not None and (user.is_active, user.is_admin) == (True, False)
    assert score is not None and (score.deleted_at, score.checksum_sha256) == (None, None)
