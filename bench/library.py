"""Library query benchmark on Postgres: the score list queries the API runs, over a realistically filled table.

Run from the repository: ``python bench/library.py [--scores 10000] [--others 10000] [--runs 30]``. It creates a
fresh database on the Postgres at ``--server`` (default: the test server, user postgres with trust auth), applies
the migrations, bulk-inserts ``--scores`` scores for one musician and ``--others`` for other users (with their
uploads, and setlists for the musician) through SQLAlchemy Core, then times each query through the real
repository (a SqlAlchemyUnitOfWork per run, as a request does): median and p95 over ``--runs`` runs. It prints
which indexes each SQL statement's plan uses (EXPLAIN ANALYZE), and drops the database at the end.

``--baseline 0001`` then downgrades to that migration and measures again, to compare indexes in one run (the
machine's load is the same for both); ``--random-page-cost 1.1`` plans as on SSDs, where deep pages use the
ordering indexes too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import event, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sqlalchemy import SqlAlchemyUnitOfWork, create_engine, create_session_factory
from adapters.sqlalchemy.migrate import alembic_config, migrate
from adapters.sqlalchemy.models import ScoreRow, SetlistItemRow, SetlistRow, UploadRow, UserRow
from application.ports import ScoreQuery
from domain.scores import ProcessingStatus
from domain.text import sort_key

DEFAULT_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
BATCH = 2000
OTHER_USERS = 50
SETLISTS = 100
ITEMS_PER_SETLIST = 25

COMPOSERS = [
    "Johann Sebastian Bach", "Ludwig van Beethoven", "Wolfgang Amadeus Mozart", "Frédéric Chopin",
    "Antonín Dvořák", "Claude Debussy", "Erik Satie", "Franz Schubert", "Robert Schumann", "Clara Schumann",
    "Johannes Brahms", "Pyotr Ilyich Tchaikovsky", "Sergei Rachmaninoff", "Maurice Ravel", "George Frideric Handel",
    "Antonio Vivaldi", "Joseph Haydn", "Felix Mendelssohn", "Franz Liszt", "Edvard Grieg", "Gabriel Fauré",
    "Camille Saint-Saëns", "Béla Bartók", "Igor Stravinsky", "Scott Joplin", "Duke Ellington", "George Gershwin",
    "Fanny Mendelssohn", "Hildegard von Bingen", "Arvo Pärt", "Leoš Janáček", "Bedřich Smetana",
]  # fmt: skip
FORMS = [
    "Sonata", "Prelude", "Fugue", "Etude", "Nocturne", "Waltz", "Mazurka", "Impromptu", "Ballade", "Scherzo",
    "Suite", "Partita", "Fantasia", "Rhapsody", "Minuet", "Gavotte", "Invention", "Romance", "Lied", "Rondo",
]  # fmt: skip
KEYS = ["C major", "G major", "D minor", "A minor", "E-flat major", "F-sharp minor", "B-flat major", "C-sharp minor"]
GENRES = ["Baroque", "Classical", "Romantic", "Impressionist", "Modern", "Jazz", "Folk", "Sacred", "Film", "Pop"]
TAGS = [
    "piano", "violin", "cello", "flute", "choir", "organ", "guitar", "duet", "trio", "quartet", "wedding",
    "funeral", "christmas", "easter", "exam", "grade5", "grade8", "sight-reading", "recital", "encore",
]  # fmt: skip
# Most of a library is processed; a few scores failed or are still in the queue.
STATUSES = [ProcessingStatus.READY] * 90 + [ProcessingStatus.FAILED] * 6 + [ProcessingStatus.PENDING] * 4


# --- data --------------------------------------------------------------------------------------


@dataclass
class Dataset:
    musician: UUID
    others: list[UUID]
    setlist_ids: list[UUID] = field(default_factory=list)


def _user_row(user_id: UUID, now: datetime) -> dict[str, Any]:
    return {
        "id": user_id,
        "email": f"{user_id.hex}@bench.example",
        "username": f"bench-{user_id.hex[:8]}",
        "password_hash": "not-a-hash",
        "quota_limit_bytes": 10 * 2**40,
        "created_at": now,
    }


def _score_rows(rng: random.Random, user_id: UUID, count: int, now: datetime) -> Iterator[tuple[dict[str, Any], ...]]:
    """(upload, score) rows: a work by a composer, some tags, created over the last two years."""
    for index in range(count):
        upload_id, score_id = uuid.uuid4(), uuid.uuid4()
        created = now - timedelta(seconds=rng.randrange(2 * 365 * 24 * 3600))
        status = rng.choice(STATUSES)
        composer = rng.choice(COMPOSERS) if rng.random() > 0.05 else None
        title = f"{rng.choice(FORMS)} in {rng.choice(KEYS)}, No. {index % 97 + 1}"
        key = f"{user_id}/scores/{upload_id}/original.pdf"
        size = rng.randrange(50_000, 5_000_000)
        pages = rng.randrange(1, 40) if status is ProcessingStatus.READY else None
        upload = {
            "id": upload_id,
            "user_id": user_id,
            "filename": f"{title}.pdf",
            "content_type": "application/pdf",
            "size_bytes": size,
            "storage_key": key,
            "status": "confirmed",
            "created_at": created,
            "expires_at": created + timedelta(hours=1),
            "confirmed_at": created,
            "score_id": score_id,
        }
        score = {
            "id": score_id,
            "user_id": user_id,
            "upload_id": upload_id,
            "title": title,
            "title_sort": sort_key(title),
            "composer": composer,
            "composer_sort": None if composer is None else sort_key(composer),
            "genre": (genre := rng.choice(GENRES)),
            "genre_sort": sort_key(genre),
            "tags": (tags := rng.sample(TAGS, rng.randrange(0, 4))),
            "tag_keys": [sort_key(tag) for tag in tags],
            "description": None,
            "original_filename": f"{title}.pdf",
            "size_bytes": size,
            "storage_key": key,
            "page_count": pages,
            "pdf_metadata": None,
            "processing_status": status.value,
            "processing_error": "The PDF is protected by a password." if status is ProcessingStatus.FAILED else None,
            "processing_started_at": created,
            "thumbnail_ready": status is ProcessingStatus.READY,
            "cover_key": f"{key.rsplit('/', 1)[0]}/cover-1.jpg" if status is ProcessingStatus.READY else None,
            "thumbnail_pages": [],
            "created_at": created,
            "updated_at": created,
        }
        yield upload, score


async def _insert(engine: AsyncEngine, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    async with engine.begin() as connection:
        for start in range(0, len(rows), BATCH):
            await connection.execute(insert(table), list(rows[start : start + BATCH]))


async def load(engine: AsyncEngine, scores: int, others: int, seed: int) -> Dataset:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    data = Dataset(uuid.uuid4(), [uuid.uuid4() for _ in range(OTHER_USERS)])
    await _insert(engine, UserRow.__table__, [_user_row(user, now) for user in [data.musician, *data.others]])

    pairs = list(_score_rows(rng, data.musician, scores, now))
    for index, user in enumerate(data.others):
        share = others // OTHER_USERS + (1 if index < others % OTHER_USERS else 0)
        pairs += _score_rows(rng, user, share, now)
    await _insert(engine, UploadRow.__table__, [upload for upload, _ in pairs])
    await _insert(engine, ScoreRow.__table__, [score for _, score in pairs])

    own = [score["id"] for _, score in pairs[:scores]]
    setlists, items = [], []
    for index in range(SETLISTS):
        setlist_id = uuid.uuid4()
        data.setlist_ids.append(setlist_id)
        created = now - timedelta(days=index)
        name = f"{rng.choice(['Recital', 'Gig', 'Service', 'Lesson', 'Concert'])} {index}"
        setlists.append(
            {
                "id": setlist_id,
                "user_id": data.musician,
                "name": name,
                "name_sort": sort_key(name),
                "description": None,
                "created_at": created,
                "updated_at": created,
            }
        )
        for position in range(ITEMS_PER_SETLIST if own else 0):
            items.append(
                {
                    "id": uuid.uuid4(),
                    "setlist_id": setlist_id,
                    "score_id": rng.choice(own),
                    "position": position,
                    "notes": None,
                }
            )
    await _insert(engine, SetlistRow.__table__, setlists)
    await _insert(engine, SetlistItemRow.__table__, items)
    return data


# --- queries -----------------------------------------------------------------------------------

Query = Callable[[SqlAlchemyUnitOfWork], Awaitable[object]]


def queries(data: Dataset, scores: int) -> list[tuple[str, Query]]:
    user = data.musician
    deep = max(0, min(9000, scores - 20))
    setlist = data.setlist_ids[len(data.setlist_ids) // 2]

    def search(**criteria: Any) -> Query:
        async def run(uow: SqlAlchemyUnitOfWork) -> object:
            return await uow.scores.search(ScoreQuery(user, **criteria))

        return run

    async def setlist_search(uow: SqlAlchemyUnitOfWork) -> object:
        return await uow.setlists.search(user, "recital", 20, 0)

    async def setlist_with_summaries(uow: SqlAlchemyUnitOfWork) -> object:
        found = await uow.setlists.get(setlist)
        assert found is not None
        return await uow.scores.summaries(user, [item.score_id for item in found.items])

    async def dashboard(uow: SqlAlchemyUnitOfWork) -> object:
        return await uow.stats.library_stats(user)

    return [
        ("newest first (default), page 1", search()),
        ("ordering=title, page 1", search(ordering="title")),
        ("ordering=-composer, page 1", search(ordering="-composer")),
        (f"newest first, offset={deep}", search(offset=deep)),
        (f"ordering=title, offset={deep}", search(ordering="title", offset=deep)),
        ("q=dvořák (composer, 1/32)", search(text="dvořák")),
        ("q=nocturne (title, 1/20)", search(text="nocturne")),
        ("q=zzz (no match)", search(text="zzz")),
        ("composer=Frédéric Chopin", search(composer="frédéric chopin")),
        ("genre=jazz", search(genre="jazz")),
        ("tag=wedding", search(tag="wedding")),
        ("status=failed", search(status=ProcessingStatus.FAILED)),
        ("status=ready, ordering=title", search(status=ProcessingStatus.READY, ordering="title")),
        ("composer + tag + q", search(text="sonata", composer="franz schubert", tag="piano")),
        ("setlist search q=recital", setlist_search),
        (f"setlist with {ITEMS_PER_SETLIST} items + summaries", setlist_with_summaries),
        ("dashboard stats", dashboard),
    ]


@dataclass
class Timing:
    name: str
    median_ms: float
    p95_ms: float
    plans: list[str]


async def measure(engine: AsyncEngine, name: str, query: Query, runs: int) -> Timing:
    factory = create_session_factory(engine)
    for _ in range(3):  # warm the pool, the prepared-statement cache and the buffer cache
        async with SqlAlchemyUnitOfWork(factory) as uow:
            await query(uow)
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        async with SqlAlchemyUnitOfWork(factory) as uow:
            await query(uow)
        seconds.append(time.perf_counter() - start)
    seconds.sort()
    p95 = seconds[min(len(seconds) - 1, round(0.95 * (len(seconds) - 1)))]
    return Timing(name, statistics.median(seconds) * 1000, p95 * 1000, await explain(engine, factory, query))


async def explain(engine: AsyncEngine, factory: Any, query: Query) -> list[str]:
    """Run the query once, recording its SQL, then EXPLAIN ANALYZE each statement with the same parameters."""
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with SqlAlchemyUnitOfWork(factory) as uow:
            await query(uow)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    plans = []
    async with engine.connect() as connection:
        for statement, parameters in statements:
            result = await connection.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters)
            plan = result.scalar_one()
            plan = json.loads(plan) if isinstance(plan, str) else plan
            root = plan[0]["Plan"]
            kind = "count" if statement.lstrip().upper().startswith("SELECT COUNT") else "rows"
            plans.append(f"{kind}: {', '.join(_access_paths(root))} ({plan[0]['Execution Time']:.2f} ms)")
    return plans


def _access_paths(node: dict[str, Any]) -> list[str]:
    """How each table is read (seq scan or which index), and sorts, in plan order."""
    found: list[str] = []
    kind = node["Node Type"]
    if kind == "Seq Scan":
        found.append(f"Seq Scan {node['Relation Name']}")
    elif "Index Name" in node:
        found.append(f"{kind.replace('Index Only Scan', 'IndexOnly').replace(' Scan', '')} {node['Index Name']}")
    elif kind in ("Sort", "Incremental Sort"):
        found.append(f"{kind}({node.get('Sort Method', '?')})")
    for child in node.get("Plans", []):
        found += _access_paths(child)
    return found


# --- main --------------------------------------------------------------------------------------


def _admin_dsn(server: str) -> dict[str, Any]:
    url = make_url(server)
    return {"host": url.host, "port": url.port or 5432, "user": url.username, "database": url.database or "postgres"}


async def measure_all(engine: AsyncEngine, data: Dataset, scores: int, runs: int) -> list[Timing]:
    await engine.dispose()  # fresh connections: no plan cached under another schema or setting
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE"))
    return [await measure(engine, label, query, runs) for label, query in queries(data, scores)]


def print_report(rounds: list[tuple[str, list[Timing]]], runs: int, version: str, setting: str) -> None:
    print(f"\nPostgreSQL {version}{setting}; {runs} runs each, milliseconds per call through the repository")
    print("(one unit of work per run: session, count and page queries, rows mapped to domain objects)\n")
    names = [timing.name for timing in rounds[0][1]]
    width = max(len(name) for name in names)
    header = "".join(f" {label} median | {label} p95 |" for label, _ in rounds)
    print(f"| {'query':<{width}} |{header}")
    print(
        f"|{'-' * (width + 2)}|" + "".join(f"{'-' * (len(label) + 9)}|{'-' * (len(label) + 6)}|" for label, _ in rounds)
    )
    for index, name in enumerate(names):
        cells = "".join(
            f" {timings[index].median_ms:{len(label) + 7}.2f} | {timings[index].p95_ms:{len(label) + 4}.2f} |"
            for label, timings in rounds
        )
        print(f"| {name:<{width}} |{cells}")
    print("\nPlans (EXPLAIN ANALYZE of each statement: how tables are read, sorts, server execution time; planned")
    print("for these parameters, while repeated runs of a prepared statement may reuse a generic plan):")
    for index, name in enumerate(names):
        print(f"- {name}")
        for label, timings in rounds:
            for plan in timings[index].plans:
                print(f"    [{label}] {plan}" if len(rounds) > 1 else f"    {plan}")


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scores", type=int, default=10_000, help="scores of the musician whose library is queried")
    parser.add_argument("--others", type=int, default=10_000, help="scores of other users, spread over 50 users")
    parser.add_argument("--runs", type=int, default=30, help="timed runs of each query")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--server", default=DEFAULT_SERVER, help="a postgresql+asyncpg URL of any database there")
    parser.add_argument(
        "--baseline", metavar="REVISION", help="then downgrade to this migration (e.g. 0001) and measure again"
    )
    parser.add_argument(
        "--random-page-cost", type=float, help="set the database's random_page_cost (1.1 is usual on SSDs)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database (and print its name) to explore it")
    args = parser.parse_args(argv)

    admin_dsn = _admin_dsn(args.server)
    name = f"scoremate_bench_{uuid.uuid4().hex[:12]}"
    url = make_url(args.server).set(database=name).render_as_string(hide_password=False)
    admin = await asyncpg.connect(**admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    if args.random_page_cost is not None:
        await admin.execute(f'ALTER DATABASE "{name}" SET random_page_cost = {args.random_page_cost}')
    await admin.close()
    engine = create_engine(url)
    rounds: list[tuple[str, list[Timing]]] = []
    try:
        start = time.perf_counter()
        await migrate(url)
        data = await load(engine, args.scores, args.others, args.seed)
        print(
            f"database {name}: {args.scores} scores for one user, {args.others} for {OTHER_USERS} others, "
            f"{SETLISTS} setlists x {ITEMS_PER_SETLIST} items; loaded in {time.perf_counter() - start:.1f} s"
        )
        head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
        rounds.append((f"at {head}", await measure_all(engine, data, args.scores, args.runs)))
        if args.baseline:
            await engine.dispose()
            # Alembic's env.py runs its own event loop when no connection is handed over: give it a thread.
            await asyncio.to_thread(command.downgrade, alembic_config(url), args.baseline)
            rounds.append((f"at {args.baseline}", await measure_all(engine, data, args.scores, args.runs)))
        async with engine.connect() as connection:
            version = str(await connection.scalar(text("SHOW server_version")))
            cost = await connection.scalar(text("SHOW random_page_cost"))
    finally:
        await engine.dispose()
        if args.keep:
            print(f'kept database {name}; drop it with: DROP DATABASE "{name}"')
        else:
            admin = await asyncpg.connect(**admin_dsn)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    print_report(rounds, args.runs, version, f", random_page_cost {cost}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
