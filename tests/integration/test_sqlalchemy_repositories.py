"""The SQLAlchemy adapter against real SQLite and Postgres databases migrated to head."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from sqlalchemy import event, text
from sqlalchemy import exc as sqlalchemy_exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from adapters.sqlalchemy import SqlAlchemyUnitOfWork, create_engine, create_session_factory
from adapters.sqlalchemy.migrate import migrate
from application.ports import ScoreListing, ScoreQuery, ScoreSummary
from domain.errors import ConcurrentChange, EmailTaken, ServiceUnavailable
from domain.pdf import PdfMetadata
from domain.scores import Cover, Details, PageThumbnails, Processing, ProcessingStatus, Score, StoredCover
from domain.setlists import Setlist, SetlistItem
from domain.uploads import Upload, UploadStatus
from domain.users import User

# A warning such as "DELETE expected 1 row, 0 matched" means the session and the database disagreed.
pytestmark = pytest.mark.filterwarnings("error::sqlalchemy.exc.SAWarning")

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await migrate(database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def uow_factory(engine: AsyncEngine) -> Callable[[], SqlAlchemyUnitOfWork]:
    sessions: async_sessionmaker[AsyncSession] = create_session_factory(engine)
    return lambda: SqlAlchemyUnitOfWork(sessions)


UowFactory = Callable[[], SqlAlchemyUnitOfWork]


def make_user(email: str | None = None) -> User:
    return User(
        id=uuid4(),
        email=email or f"{uuid4().hex[:8]}@example.com",
        username="player",
        password_hash="$argon2id$hash",
        quota_limit_bytes=5 * 1024**3,
        created_at=T0,
    )


def make_upload(user_id: UUID, **changes: Any) -> Upload:
    upload_id = uuid4()
    fields: dict[str, Any] = {
        "id": upload_id,
        "user_id": user_id,
        "filename": "score.pdf",
        "content_type": "application/pdf",
        "size_bytes": 3 * 1024**3,
        "storage_key": f"{user_id}/scores/{upload_id}/original.pdf",
        "status": UploadStatus.PENDING,
        "created_at": T0,
        "expires_at": T0 + timedelta(hours=1),
    }
    return Upload(**(fields | changes))


def make_score(
    user_id: UUID,
    upload_id: UUID,
    *,
    title: str = "Untitled",
    composer: str | None = None,
    genre: str | None = None,
    tags: list[str] | None = None,
    description: str | None = None,
    created_at: datetime = T0,
    updated_at: datetime = T0,
    processing_status: ProcessingStatus = ProcessingStatus.PENDING,
    page_count: int | None = None,
    pdf_metadata: PdfMetadata | None = None,
    processing_error_code: str | None = None,
    processing_started_at: datetime | None = None,
    cover: StoredCover | None = None,
    cover_page: int = 1,
    page_thumbnails_wanted: bool = False,
    thumbnail_pages: list[int] | None = None,
) -> Score:
    """A score with the given fields, named as the columns are."""
    return Score(
        id=uuid4(),
        user_id=user_id,
        upload_id=upload_id,
        details=Details(title, composer, genre, [] if tags is None else tags, description),
        original_filename="score.pdf",
        size_bytes=1000,
        storage_key=f"{user_id}/scores/{upload_id}/original.pdf",
        created_at=created_at,
        updated_at=updated_at,
        processing=Processing(
            status=processing_status,
            page_count=page_count,
            metadata=pdf_metadata,
            error_code=processing_error_code,
            started_at=processing_started_at,
        ),
        cover=Cover(page=cover_page, stored=cover),
        page_thumbnails=PageThumbnails(pages=thumbnail_pages or [], wanted=page_thumbnails_wanted),
    )


async def add_user(uow_factory: UowFactory, email: str | None = None) -> User:
    user = make_user(email)
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.commit()
    return user


async def add_scores(uow_factory: UowFactory, user_id: UUID, *specs: dict[str, Any]) -> list[Score]:
    """Store one confirmed upload and its score per spec (the spec holds make_score's fields)."""
    scores = []
    async with uow_factory() as uow:
        for spec in specs:
            upload = make_upload(user_id, status=UploadStatus.CONFIRMED, confirmed_at=T0)
            score = make_score(user_id, upload.id, **spec)
            upload.score_id = score.id
            await uow.uploads.add(upload)
            await uow.scores.add(score)
            scores.append(score)
        await uow.commit()
    return scores


# --- unit of work and users --------------------------------------------------------------------


async def test_user_round_trip_normalizes_email(uow_factory: UowFactory) -> None:
    user = make_user("  Clara.Schumann@Example.COM ")
    user.created_at = datetime(2026, 3, 1, 13, 30, 15, 123456, tzinfo=CET)
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.commit()

    async with uow_factory() as uow:
        stored = await uow.users.get(user.id)
        by_email = await uow.users.get_by_email("CLARA.schumann@example.com ")
        ids = await uow.users.list_ids()

    assert stored is not None
    assert stored.email == "clara.schumann@example.com"
    assert (stored.username, stored.password_hash, stored.quota_limit_bytes) == (
        "player",
        "$argon2id$hash",
        5 * 1024**3,
    )
    assert stored.created_at == user.created_at
    assert stored.created_at.utcoffset() == timedelta(0)
    assert by_email == stored
    assert ids == [user.id]


async def test_a_taken_email_raises_email_taken(uow_factory: UowFactory) -> None:
    await add_user(uow_factory, "fanny@example.com")

    async with uow_factory() as uow:
        with pytest.raises(EmailTaken):
            await uow.users.add(make_user("FANNY@example.com"))


async def test_nothing_is_kept_without_commit(uow_factory: UowFactory) -> None:
    user = make_user()
    async with uow_factory() as uow:
        await uow.users.add(user)
    async with uow_factory() as uow:
        await uow.users.add(other := make_user())
        await uow.rollback()
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.users.get(user.id) is None
        assert await uow.users.get(other.id) is None


async def test_sqlite_engine_settings(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as connection:
            settings = [
                (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            ]
    finally:
        await engine.dispose()
    assert settings == ["wal", 1, 5000]


# --- uploads -----------------------------------------------------------------------------------


async def test_upload_round_trip_and_save(uow_factory: UowFactory) -> None:
    user = await add_user(uow_factory)
    upload = make_upload(user.id, created_at=T0.astimezone(CET))
    async with uow_factory() as uow:
        await uow.uploads.add(upload)
        await uow.commit()

    async with uow_factory() as uow:
        stored = await uow.uploads.get(upload.id)
        assert stored == upload
        assert stored.status is UploadStatus.PENDING
        stored.confirm(T0 + timedelta(minutes=5))
        stored.score_id = uuid4()
        await uow.uploads.save(stored)
        await uow.commit()

    async with uow_factory() as uow:
        saved = await uow.uploads.get(upload.id)
    assert saved == stored
    assert saved is not None
    assert saved.confirmed_at is not None
    assert saved.confirmed_at.tzinfo is not None
    assert saved.size_bytes == 3 * 1024**3


async def test_upload_listings(uow_factory: UowFactory) -> None:
    alice, bob = await add_user(uow_factory), await add_user(uow_factory)
    now = T0 + timedelta(hours=2)
    expired = make_upload(alice.id, expires_at=now - timedelta(minutes=1))
    expiring_now = make_upload(bob.id, expires_at=now)
    fresh = make_upload(alice.id, expires_at=now + timedelta(minutes=1))
    cancelled = make_upload(alice.id, status=UploadStatus.CANCELLED, expires_at=now - timedelta(hours=1))
    unused = make_upload(alice.id, status=UploadStatus.CONFIRMED, confirmed_at=now - timedelta(days=2))
    used = make_upload(alice.id, status=UploadStatus.CONFIRMED, confirmed_at=now - timedelta(days=2), score_id=uuid4())
    recent = make_upload(bob.id, status=UploadStatus.CONFIRMED, confirmed_at=now - timedelta(hours=1))
    deleted = make_upload(bob.id, status=UploadStatus.DELETED, confirmed_at=now - timedelta(days=3))
    async with uow_factory() as uow:
        for upload in (expired, expiring_now, fresh, cancelled, unused, used, recent, deleted):
            await uow.uploads.add(upload)
        await uow.commit()

    async with uow_factory() as uow:
        expired_pending = await uow.uploads.list_expired_pending(now, limit=10)
        first_expired = await uow.uploads.list_expired_pending(now, limit=1)
        unused_confirmed = await uow.uploads.list_unused_confirmed(now - timedelta(days=1), limit=10)
        live_all = await uow.uploads.list_live()
        live_bob = await uow.uploads.list_live(bob.id)

    assert {u.id for u in expired_pending} == {expired.id, expiring_now.id}
    assert [u.id for u in first_expired] == [expired.id]
    assert [u.id for u in unused_confirmed] == [unused.id]
    assert {u.id for u in live_all} == {expired.id, expiring_now.id, fresh.id, unused.id, used.id, recent.id}
    assert {u.id for u in live_bob} == {expiring_now.id, recent.id}


async def test_uploads_to_clear_are_listed_oldest_first_until_marked_cleared(uow_factory: UowFactory) -> None:
    user = await add_user(uow_factory)
    cutoff = T0 - timedelta(minutes=5)
    older = make_upload(user.id, status=UploadStatus.DELETED, storage_to_clear=True, created_at=T0 - timedelta(hours=1))
    old = make_upload(
        user.id, status=UploadStatus.CANCELLED, storage_to_clear=True, created_at=T0 - timedelta(hours=0.5)
    )
    too_young = make_upload(user.id, status=UploadStatus.REJECTED, storage_to_clear=True, created_at=cutoff)
    cleared = make_upload(user.id, status=UploadStatus.EXPIRED, created_at=T0 - timedelta(days=1))
    live = make_upload(user.id, created_at=T0 - timedelta(days=1))
    async with uow_factory() as uow:
        for upload in (old, too_young, cleared, live, older):
            await uow.uploads.add(upload)
        await uow.commit()

    async with uow_factory() as uow:
        assert [u.id for u in await uow.uploads.list_to_clear(cutoff, limit=10)] == [older.id, old.id]
        [first] = await uow.uploads.list_to_clear(cutoff, limit=1)
        assert first.storage_to_clear
        first.mark_storage_cleared()
        await uow.uploads.save(first)
        await uow.commit()

    async with uow_factory() as uow:
        assert [u.id for u in await uow.uploads.list_to_clear(cutoff, limit=10)] == [old.id]
        assert await uow.uploads.get(older.id) == replace(older, storage_to_clear=False)


# --- scores ------------------------------------------------------------------------------------


async def test_score_round_trip_and_save(uow_factory: UowFactory, engine: AsyncEngine) -> None:
    user = await add_user(uow_factory)
    [score] = await add_scores(
        uow_factory,
        user.id,
        {
            "title": "Nocturne in E-flat",
            "composer": "Chopin",
            "genre": "Romantic",
            "tags": ["piano", "nocturne", "Dvořák"],
            "description": "Op. 9 No. 2",
            "created_at": datetime(2026, 3, 1, 9, 0, 0, 250, tzinfo=CET),
            "updated_at": T0,
        },
    )

    async with engine.connect() as connection:
        unset = await connection.scalar(text("SELECT count(*) FROM scores WHERE pdf_metadata IS NULL"))
    assert unset == 1, "a missing pdf_metadata is SQL NULL, not JSON null"

    async with uow_factory() as uow:
        stored = await uow.scores.get(score.id)
        assert stored == score
        assert stored.created_at.utcoffset() == timedelta(0)
        assert stored.processing.metadata is None
        stored.start_processing(T0 + timedelta(minutes=1))
        stored.processing.page_count = 12
        stored.processing.metadata = PdfMetadata(title="Nocturne", author="F. Chopin", creation_date="D:20250101")
        stored.processing.status = ProcessingStatus.READY
        stored.record_cover_thumbnail(StoredCover("u/scores/x/cover-1.jpg", 3), T0)
        stored.page_thumbnails.pages = [1, 3]
        stored.choose_cover(3, T0)
        stored.processing.error = "The page took too long to render."
        await uow.scores.save(stored)
        await uow.commit()

    async with uow_factory() as uow:
        saved = await uow.scores.get(score.id, for_update=True)
    assert saved == stored
    assert saved is not None
    assert saved.processing.metadata == PdfMetadata(title="Nocturne", author="F. Chopin", creation_date="D:20250101")
    assert saved.processing.started_at == T0 + timedelta(minutes=1)
    assert saved.processing.started_at.tzinfo is not None


async def test_search_filters_and_user_isolation(uow_factory: UowFactory) -> None:
    alice, bob = await add_user(uow_factory), await add_user(uow_factory)
    nocturne, etude, waltz, percent = await add_scores(
        uow_factory,
        alice.id,
        {"title": "Nocturne", "composer": "Frédéric Chopin", "genre": "Romantic", "tags": ["piano", "night"]},
        {"title": "Étude in C", "composer": "Antonín Dvořák", "genre": "Romántic", "tags": ["Piano", "etude"]},
        {
            "title": "Waltz for Debby",
            "composer": None,
            "genre": "Jazz",
            "tags": ["jazz piano", "pianos"],
            "processing_status": ProcessingStatus.FAILED,
        },
        {"title": "100% Swing", "composer": "Anon_ymous", "genre": None, "tags": []},
    )
    [bobs] = await add_scores(uow_factory, bob.id, {"title": "Nocturne", "composer": "Chopin", "tags": ["piano"]})

    async def ids(**filters: Any) -> set[UUID]:
        async with uow_factory() as uow:
            page = await uow.scores.search(ScoreQuery(user_id=alice.id, **filters))
        assert page.total == len(page.items)
        return {score.id for score in page.items}

    assert await ids() == {nocturne.id, etude.id, waltz.id, percent.id}
    assert await ids(text="NOCT") == {nocturne.id}
    assert await ids(text="chopin") == {nocturne.id}
    assert await ids(text="DVOŘ") == {etude.id}
    assert await ids(text="étude") == {etude.id}
    assert await ids(text="%") == {percent.id}
    assert await ids(text="n_y") == {percent.id}
    assert await ids(text="nothing like it") == set()
    assert await ids(composer="frédéric chopin") == {nocturne.id}
    assert await ids(composer="Chopin") == set()
    assert await ids(genre="ROMANTIC") == {nocturne.id, etude.id}  # case and accents aside
    assert await ids(genre="romántic") == {nocturne.id, etude.id}
    assert await ids(genre="Roman") == set()
    # A whole tag, ignoring case and accents.
    assert await ids(tag="piano") == {nocturne.id, etude.id}
    assert await ids(tag="PIANO") == {nocturne.id, etude.id}
    assert await ids(tag="Étude") == {etude.id}
    assert await ids(tag="jazz") == set()
    assert await ids(tag="jazz piano") == {waltz.id}
    assert await ids(status=ProcessingStatus.FAILED) == {waltz.id}
    assert await ids(status=ProcessingStatus.PENDING, genre="romantic", tag="night") == {nocturne.id}

    async with uow_factory() as uow:
        bob_page = await uow.scores.search(ScoreQuery(user_id=bob.id, text="nocturne", tag="piano"))
    assert [score.id for score in bob_page.items] == [bobs.id]


@pytest.mark.parametrize("ordering", ["title", "-title", "created_at", "-created_at", "composer", "-composer"])
async def test_search_orders_and_paginates_stably(uow_factory: UowFactory, ordering: str) -> None:
    user = await add_user(uow_factory)
    specs: list[dict[str, Any]] = [
        {"title": title, "composer": composer, "created_at": T0 + timedelta(minutes=minutes)}
        for title, composer, minutes in [
            ("Bolero", "Ravel", 5),
            ("Arabesque", "Debussy", 1),
            ("Clair de lune", "Debussy", 1),
            ("Arabesque", None, 3),
            ("Gymnopedie", "Satie", 5),
            ("Arabesque", "Debussy", 5),
            ("Pavane", None, 2),
        ]
    ]
    scores = await add_scores(uow_factory, user.id, *specs)

    name = ordering.removeprefix("-")
    descending = ordering.startswith("-")

    def value(score: Score) -> Any:
        return score.created_at if name == "created_at" else getattr(score.details, name)

    with_value = [s for s in scores if value(s) is not None]
    expected = sorted(with_value, key=lambda s: (value(s), s.id), reverse=descending)
    expected += sorted((s for s in scores if value(s) is None), key=lambda s: s.id, reverse=descending)

    seen: list[UUID] = []
    async with uow_factory() as uow:
        for offset in range(0, 9, 3):
            page = await uow.scores.search(ScoreQuery(user_id=user.id, ordering=ordering, limit=3, offset=offset))
            assert (page.total, page.limit, page.offset) == (7, 3, offset)
            seen += [score.id for score in page.items]
    assert seen == [score.id for score in expected]


async def test_recent_and_summaries(uow_factory: UowFactory) -> None:
    alice, bob = await add_user(uow_factory), await add_user(uow_factory)
    _old, new, newest = await add_scores(
        uow_factory,
        alice.id,
        {"title": "Old", "created_at": T0},
        {"title": "New", "created_at": T0 + timedelta(days=1), "composer": "Bach", "page_count": 4},
        {"title": "Newest", "created_at": T0 + timedelta(days=2), "cover": StoredCover("u/scores/x/cover-1.jpg", 1)},
    )
    [bobs] = await add_scores(uow_factory, bob.id, {"title": "Bob's", "created_at": T0 + timedelta(days=3)})

    async with uow_factory() as uow:
        recent = await uow.scores.recent(alice.id, limit=2)
        summaries = await uow.scores.summaries(alice.id, [new.id, newest.id, bobs.id, uuid4()])
        none = await uow.scores.summaries(alice.id, [])

    assert [score.id for score in recent] == [newest.id, new.id]
    assert summaries == {
        new.id: ScoreSummary(id=new.id, title="New", composer="Bach", page_count=4, thumbnail_ready=False),
        newest.id: ScoreSummary(id=newest.id, title="Newest", composer=None, page_count=None, thumbnail_ready=True),
    }
    assert none == {}


async def test_list_stuck(uow_factory: UowFactory) -> None:
    user = await add_user(uow_factory)
    long_ago, cutoff, lately = T0 - timedelta(hours=2), T0 - timedelta(minutes=30), T0
    pending_old, processing_old, _, _, _, _ = await add_scores(
        uow_factory,
        user.id,
        {"created_at": long_ago},
        {"created_at": long_ago, "processing_status": ProcessingStatus.PROCESSING, "processing_started_at": long_ago},
        {"created_at": long_ago, "processing_status": ProcessingStatus.PROCESSING, "processing_started_at": lately},
        {"created_at": lately},
        {"created_at": long_ago, "processing_status": ProcessingStatus.READY, "processing_started_at": long_ago},
        {"created_at": long_ago, "processing_status": ProcessingStatus.FAILED, "processing_started_at": long_ago},
    )

    async with uow_factory() as uow:
        stuck = await uow.scores.list_stuck(cutoff, limit=10)
        limited = await uow.scores.list_stuck(cutoff, limit=1)

    assert {score.id for score in stuck} == {pending_old.id, processing_old.id}
    assert len(limited) == 1


async def test_list_wanting_thumbnails(uow_factory: UowFactory) -> None:
    user = await add_user(uow_factory)
    ready = {"processing_status": ProcessingStatus.READY, "page_count": 3}
    covered = {**ready, "cover": StoredCover("u/scores/x/cover-1.jpg", 1)}
    wanted = await add_scores(
        uow_factory,
        user.id,
        {**covered, "page_thumbnails_wanted": True},
        {**ready},  # no cover, nothing says why
        {**covered, "cover_page": 2},  # a chosen cover never rendered
    )
    await add_scores(
        uow_factory,
        user.id,
        {**covered},
        {**ready, "processing_error_code": "render_timeout"},  # its rendering failed, and says so
        {"processing_status": ProcessingStatus.PROCESSING},  # the stuck-score sweep's
    )

    async with uow_factory() as uow:
        found = await uow.scores.list_wanting_thumbnails(None, limit=10)
        first = await uow.scores.list_wanting_thumbnails(None, limit=2)
        rest = await uow.scores.list_wanting_thumbnails(first[-1].id, limit=2)

    assert {score.id for score in found} == {score.id for score in wanted}
    assert all(score.page_thumbnails.wanted or score.cover_wanted for score in found)
    assert [score.id for score in first + rest] == sorted(score.id for score in wanted)


# --- setlists ----------------------------------------------------------------------------------


def make_setlist(user_id: UUID, name: str, score_ids: list[UUID]) -> Setlist:
    setlist = Setlist(id=uuid4(), user_id=user_id, name=name, description=None, created_at=T0, updated_at=T0)
    for score_id in score_ids:
        setlist.add(SetlistItem(id=uuid4(), score_id=score_id, position=0))
    return setlist


def item_view(setlist: Setlist) -> list[tuple[UUID, int, str | None]]:
    return [(item.score_id, item.position, item.notes) for item in setlist.items]


async def test_setlist_save_inserts_moves_and_removes_items(uow_factory: UowFactory) -> None:
    user = await add_user(uow_factory)
    a, b, c, d = await add_scores(uow_factory, user.id, {}, {}, {}, {})
    setlist = make_setlist(user.id, "Sunday gig", [a.id, b.id, c.id])
    setlist.description = "Church hall"
    async with uow_factory() as uow:
        await uow.setlists.add(setlist)
        await uow.commit()

    async with uow_factory() as uow:
        stored = await uow.setlists.get(setlist.id, for_update=True)
        assert stored == setlist
        stored.add(SetlistItem(id=uuid4(), score_id=d.id, position=0, notes="opener"), position=0)
        stored.move(stored.items[1].id, 3)  # a goes last
        stored.remove(stored.items[1].id)  # b leaves
        stored.add(SetlistItem(id=uuid4(), score_id=a.id, position=0, notes="again"), position=1)
        stored.items[2].notes = "slower"
        stored.updated_at = T0 + timedelta(hours=1)
        await uow.setlists.save(stored)
        await uow.commit()

    async with uow_factory() as uow:
        saved = await uow.setlists.get(setlist.id)
    assert saved == stored
    assert item_view(saved) == [(d.id, 0, "opener"), (a.id, 1, "again"), (c.id, 2, "slower"), (a.id, 3, None)]

    async with uow_factory() as uow:
        replaced = await uow.setlists.get(setlist.id)
        assert replaced is not None
        replaced.remove(replaced.items[-1].id)
        replaced.add(SetlistItem(id=uuid4(), score_id=b.id, position=0, notes="closer"))
        await uow.setlists.save(replaced)
        await uow.commit()
    async with uow_factory() as uow:
        saved = await uow.setlists.get(setlist.id)
    assert saved is not None
    assert item_view(saved) == [(d.id, 0, "opener"), (a.id, 1, "again"), (c.id, 2, "slower"), (b.id, 3, "closer")]

    async with uow_factory() as uow:
        reversed_ = await uow.setlists.get(setlist.id, for_update=True)
        assert reversed_ is not None
        reversed_.reorder([item.id for item in reversed(reversed_.items)])
        await uow.setlists.save(reversed_)
        await uow.commit()

    async with uow_factory() as uow:
        saved = await uow.setlists.get(setlist.id)
    assert saved is not None
    assert item_view(saved) == [(b.id, 0, "closer"), (c.id, 1, "slower"), (a.id, 2, "again"), (d.id, 3, "opener")]


async def test_get_for_update_locks_rows_on_postgres(uow_factory: UowFactory, engine: AsyncEngine) -> None:
    user = await add_user(uow_factory)
    [score] = await add_scores(uow_factory, user.id, {})
    setlist = make_setlist(user.id, "Locked", [score.id])
    async with uow_factory() as uow:
        await uow.setlists.add(setlist)
        await uow.commit()
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with uow_factory() as uow:
            assert await uow.setlists.get(setlist.id, for_update=True) == setlist
            assert await uow.scores.get(score.id, for_update=True) == score
            await uow.setlists.get(setlist.id)
            await uow.scores.get(score.id)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)

    locking = sorted(statement.split("FROM ")[1].split()[0] for statement in statements if "FOR UPDATE" in statement)
    assert locking == (["scores", "setlists"] if engine.dialect.name == "postgresql" else [])


async def test_setlist_search_containing_score_and_delete(uow_factory: UowFactory) -> None:
    alice, bob = await add_user(uow_factory), await add_user(uow_factory)
    a, b = await add_scores(uow_factory, alice.id, {}, {})
    [bobs_score] = await add_scores(uow_factory, bob.id, {})
    spring = make_setlist(alice.id, "Spring Concert", [a.id, b.id])
    autumn = make_setlist(alice.id, "Autumn concert", [b.id])
    rehearsal = make_setlist(alice.id, "Rehearsal 100%", [])
    bobs = make_setlist(bob.id, "Concert", [bobs_score.id])
    async with uow_factory() as uow:
        for setlist in (spring, autumn, rehearsal, bobs):
            await uow.setlists.add(setlist)
        await uow.commit()

    async with uow_factory() as uow:
        concerts = await uow.setlists.search(alice.id, "CONCERT", limit=10, offset=0)
        second = await uow.setlists.search(alice.id, None, limit=2, offset=2)
        percent = await uow.setlists.search(alice.id, "%", limit=10, offset=0)
        holding_a = await uow.setlists.containing_score(a.id)
        holding_b = await uow.setlists.containing_score(b.id)

    assert [s.name for s in concerts.items] == ["Autumn concert", "Spring Concert"]
    assert concerts.total == 2
    assert concerts.items[1] == spring
    assert (second.total, [s.name for s in second.items]) == (3, ["Spring Concert"])
    assert [s.id for s in percent.items] == [rehearsal.id]
    assert holding_a == [spring]
    assert {s.id for s in holding_b} == {spring.id, autumn.id}

    async with uow_factory() as uow:
        await uow.setlists.delete(spring)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.setlists.get(spring.id) is None
        assert await uow.scores.get(a.id) is not None
        assert [s.id for s in await uow.setlists.containing_score(b.id)] == [autumn.id]


async def test_deleting_a_score_removes_it_from_setlists(uow_factory: UowFactory) -> None:
    user = await add_user(uow_factory)
    a, b = await add_scores(uow_factory, user.id, {}, {})
    setlist = make_setlist(user.id, "Encores", [a.id, b.id, a.id])
    async with uow_factory() as uow:
        await uow.setlists.add(setlist)
        await uow.commit()

    async with uow_factory() as uow:
        loaded = await uow.setlists.get(setlist.id)
        assert loaded is not None
        await uow.scores.delete(a)
        reloaded = await uow.setlists.get(setlist.id)
        assert reloaded is not None
        assert item_view(reloaded) == [(b.id, 0, None)]
        loaded.name = "Encores only"
        loaded.remove_score(a.id)
        await uow.setlists.save(loaded)
        await uow.commit()
    other = make_setlist(user.id, "Other", [b.id])
    async with uow_factory() as uow:
        await uow.setlists.add(other)
        await uow.commit()
    async with uow_factory() as uow:
        await uow.scores.delete(b)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.scores.get(a.id) is None
        saved = await uow.setlists.get(setlist.id)
        emptied = await uow.setlists.get(other.id)
    assert saved is not None
    assert emptied is not None
    assert saved.name == "Encores only"
    assert saved.items == []
    assert emptied.items == []


async def test_cascaded_delete_leaves_contiguous_positions(uow_factory: UowFactory) -> None:
    user = await add_user(uow_factory)
    a, b, c = await add_scores(uow_factory, user.id, {}, {}, {})
    setlist = make_setlist(user.id, "Gaps", [a.id, b.id, c.id])
    async with uow_factory() as uow:
        await uow.setlists.add(setlist)
        await uow.commit()
    async with uow_factory() as uow:
        await uow.scores.delete(b)
        await uow.commit()

    async with uow_factory() as uow:
        loaded = await uow.setlists.get(setlist.id)
        assert loaded is not None
        assert item_view(loaded) == [(a.id, 0, None), (c.id, 1, None)]
        loaded.add(SetlistItem(id=uuid4(), score_id=a.id, position=0))
        await uow.setlists.save(loaded)
        await uow.commit()
    async with uow_factory() as uow:
        saved = await uow.setlists.get(setlist.id)
    assert saved is not None
    assert item_view(saved) == [(a.id, 0, None), (c.id, 1, None), (a.id, 2, None)]


# --- stats -------------------------------------------------------------------------------------


async def test_library_stats(uow_factory: UowFactory) -> None:
    alice, bob, carol = await add_user(uow_factory), await add_user(uow_factory), await add_user(uow_factory)
    await add_scores(
        uow_factory,
        alice.id,
        {"page_count": 10, "processing_status": ProcessingStatus.READY},
        {"page_count": 5, "processing_status": ProcessingStatus.READY},
        {"processing_status": ProcessingStatus.FAILED},
        {},
    )
    await add_scores(uow_factory, bob.id, {"page_count": 100, "processing_status": ProcessingStatus.READY})
    async with uow_factory() as uow:
        await uow.setlists.add(make_setlist(alice.id, "One", []))
        await uow.setlists.add(make_setlist(alice.id, "Two", []))
        await uow.setlists.add(make_setlist(bob.id, "Bob's", []))
        await uow.commit()

    async with uow_factory() as uow:
        stats = await uow.stats.library_stats(alice.id)
        empty = await uow.stats.library_stats(carol.id)

    assert (stats.score_count, stats.setlist_count, stats.total_pages) == (4, 2, 15)
    assert stats.processing_counts == {
        ProcessingStatus.PENDING: 1,
        ProcessingStatus.PROCESSING: 0,
        ProcessingStatus.READY: 2,
        ProcessingStatus.FAILED: 1,
    }
    assert (empty.score_count, empty.setlist_count, empty.total_pages) == (0, 0, 0)
    assert set(empty.processing_counts.values()) == {0}


async def test_an_engine_holds_at_most_its_connections_and_waits_its_timeout_for_one(database_url: str) -> None:
    engine = create_engine(database_url, max_connections=1, pool_timeout_seconds=0.2)
    try:
        async with engine.connect() as held:
            assert (await held.execute(text("SELECT 1"))).scalar() == 1
            with pytest.raises(sqlalchemy_exc.TimeoutError):
                async with engine.connect():
                    pass
    finally:
        await engine.dispose()


async def test_a_sqlite_file_gets_two_connections_whatever_more_is_allowed(sqlite_url: str) -> None:
    """Requests wait their turn for a connection rather than for SQLite's write lock, which it grants in no order."""
    engine = create_engine(sqlite_url, max_connections=15, pool_timeout_seconds=0.2)
    try:
        async with engine.connect() as first, engine.connect() as second:
            assert [(await c.execute(text("SELECT 1"))).scalar() for c in (first, second)] == [1, 1]
            with pytest.raises(sqlalchemy_exc.TimeoutError):
                async with engine.connect():
                    pass
    finally:
        await engine.dispose()


@pytest.mark.parametrize("url", ["sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:"])
async def test_an_in_memory_sqlite_engine_takes_the_connection_settings_too(url: str) -> None:
    engine = create_engine(url, max_connections=1, pool_timeout_seconds=0.2)
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()


async def test_a_page_lists_what_a_score_answers_and_a_page_past_the_end_still_has_the_total(
    uow_factory: UowFactory,
) -> None:
    user = await add_user(uow_factory)
    metadata = PdfMetadata(title="Ode", author="Beethoven")
    [score, _] = await add_scores(
        uow_factory,
        user.id,
        {"title": "Ode", "tags": ["choir"], "page_count": 3, "pdf_metadata": metadata, "thumbnail_pages": [1, 3]},
        {"title": "Other", "cover": StoredCover("u/scores/x/cover-1.jpg", 1)},
    )
    async with uow_factory() as uow:
        page = await uow.scores.search(ScoreQuery(user_id=user.id, ordering="title", limit=1))
        past = await uow.scores.search(ScoreQuery(user_id=user.id, offset=5))
    async with uow_factory().autocommit() as uow:
        read = await uow.scores.search(ScoreQuery(user_id=user.id, ordering="-title"))
    assert (page.total, past.total, past.items, read.total) == (2, 2, [], 2)
    assert page.items == [ScoreListing.of(score)]
    assert page.items[0].pdf_metadata == metadata
    assert page.items[0].page_thumbnails_ready == 2
    assert [(s.title, s.thumbnail_ready) for s in read.items] == [("Other", True), ("Ode", False)]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_hot_read_that_meets_a_dropped_connection_is_an_outage_and_the_pool_lets_that_connection_go(
    uow_factory: UowFactory, engine: AsyncEngine
) -> None:
    """users.get, the list and the dashboard's recent scores run through asyncpg itself on PostgreSQL
    (adapters/sqlalchemy/driver.py); a connection the server ended must not stay in the pool to fail again."""
    user = await add_user(uow_factory)
    async with uow_factory().autocommit() as uow:
        assert await uow.users.get(user.id) == user
        backend = await (await uow._active.connection()).scalar(text("SELECT pg_backend_pid()"))
    admin = await asyncpg.connect(engine.url.render_as_string(hide_password=False).replace("+asyncpg", ""))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", backend)
    finally:
        await admin.close()
    with pytest.raises(ServiceUnavailable):
        async with uow_factory().autocommit() as uow:
            await uow.users.get(user.id)
    async with uow_factory().autocommit() as uow:
        assert await uow.users.get(user.id) == user
        assert (await uow.scores.search(ScoreQuery(user_id=user.id))).total == 0


async def test_an_upload_added_twice_is_a_lost_race_whichever_way_the_insert_went(uow_factory: UowFactory) -> None:
    """In `autocommit()` on PostgreSQL, asyncpg itself runs the INSERT; in a transaction, SQLAlchemy does."""
    user = await add_user(uow_factory)
    upload = make_upload(user.id)
    async with uow_factory().autocommit() as uow:
        await uow.uploads.add(upload)
        await uow.commit()

    async def add_again(unit_of_work: SqlAlchemyUnitOfWork) -> None:
        async with unit_of_work as uow:
            await uow.uploads.add(upload)
            await uow.commit()

    with pytest.raises(ConcurrentChange):
        await add_again(uow_factory().autocommit())
    with pytest.raises(ConcurrentChange):
        await add_again(uow_factory())
    async with uow_factory() as uow:
        assert await uow.uploads.get(upload.id) == upload
