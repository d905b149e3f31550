"""How many times one request of a hot path goes to Postgres and to Redis: the exact statements and commands.

Not a timed test: a change that adds a round trip (a statement, a BEGIN/COMMIT pair, a pool ping, a connection
opened per request, a Redis command) fails here, whatever the machine's speed. The API runs in this process on
the production adapters (Postgres, Redis, the Redis quota ledger and rate limiter, the Redis task broker); storage
is local, since it is neither Postgres nor Redis. Postgres is counted below SQLAlchemy: every statement
(before_cursor_execute), and every BEGIN, COMMIT, ROLLBACK and ping that asyncpg really sends, and every connection
opened; a hot read that asyncpg runs by itself (adapters/sqlalchemy/driver.py) shows as 'SELECT scores (driver)'.
Redis is counted as every command a redis-py connection of this process writes.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from litestar import Litestar
from redis.asyncio.connection import AbstractConnection
from sqlalchemy import event, update
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from adapters.sqlalchemy.migrate import migrate
from adapters.sqlalchemy.models import ScoreRow
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.integration.support import samples

PDF = samples.ode()
SHA256 = hashlib.sha256(PDF).hexdigest()


@dataclass
class Trips:
    """What went to Postgres and Redis while recording, in order: 'SELECT users', 'BEGIN', 'redis EVALSHA', ..."""

    recording: bool = False
    seen: list[str] = field(default_factory=list)

    def add(self, what: str) -> None:
        if self.recording:
            self.seen.append(what)

    @property
    def postgres(self) -> list[str]:
        return [trip for trip in self.seen if not trip.startswith("redis ")]

    @property
    def redis(self) -> list[str]:
        return [trip.removeprefix("redis ") for trip in self.seen if trip.startswith("redis ")]


def _statement(sql: str) -> str:
    """'SELECT users', 'INSERT uploads', 'UPDATE scores': the verb and the first table it names."""
    verb = sql.lstrip().split(None, 1)[0].upper()
    table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", sql, re.IGNORECASE)
    return f"{verb} {table.group(1) if table else '?'}"


def _command(packed: Any) -> str:
    chunks = packed if isinstance(packed, list) else [packed]
    first = b"".join(chunk if isinstance(chunk, bytes) else bytes(chunk) for chunk in chunks)
    return first.split(b"\r\n")[2].decode().upper()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Trips:
    """Counts below SQLAlchemy's asyncpg adapter and redis-py's connection (class-level, for this test only)."""
    trips = Trips()
    adapter = AsyncAdapt_asyncpg_connection
    start, commit, rollback, ping = adapter._start_transaction, adapter.commit, adapter.rollback, adapter.ping

    async def counted_start(self: Any) -> None:
        if self.isolation_level != "autocommit" and self._transaction is None and trips.recording:
            # Sent just before the statement that opens the transaction, which was recorded already.
            trips.seen.insert(len(trips.seen) - 1, "BEGIN")
        await start(self)

    def counted_commit(self: Any) -> None:
        if self._transaction is not None:
            trips.add("COMMIT")
        commit(self)

    def counted_rollback(self: Any) -> None:
        if self._transaction is not None:
            trips.add("ROLLBACK")
        rollback(self)

    def counted_ping(self: Any) -> None:
        trips.add("PING")
        ping(self)

    monkeypatch.setattr(adapter, "_start_transaction", counted_start)
    monkeypatch.setattr(adapter, "commit", counted_commit)
    monkeypatch.setattr(adapter, "rollback", counted_rollback)
    monkeypatch.setattr(adapter, "ping", counted_ping)
    driver_execute = asyncpg.connection.Connection._do_execute

    async def counted_driver_execute(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        trips.add(f"{_statement(query)} (driver)")
        return await driver_execute(self, query, *args, **kwargs)

    monkeypatch.setattr(asyncpg.connection.Connection, "_do_execute", counted_driver_execute)
    send = AbstractConnection._send_packed_command

    async def counted_send(self: Any, command: Any) -> None:
        trips.add(f"redis {_command(command)}")
        await send(self, command)

    monkeypatch.setattr(AbstractConnection, "_send_packed_command", counted_send)
    return trips


@dataclass
class Api:
    client: httpx.AsyncClient
    trips: Trips
    headers: dict[str, str] = field(default_factory=dict)

    async def count(self, request: Callable[[], Awaitable[httpx.Response]], status: int) -> Trips:
        """The request's trips, the same the second time it runs (nothing else in the process talks meanwhile)."""
        runs = []
        for _ in range(2):
            response = await request()
            assert response.status_code == status, response.text
            await asyncio.sleep(0.05)  # anything the request left running ends before the next one is counted
        for _ in range(2):
            self.trips.seen = []
            self.trips.recording = True
            response = await request()
            await asyncio.sleep(0.05)
            self.trips.recording = False
            assert response.status_code == status, response.text
            runs.append(self.trips.seen)
        assert runs[0] == runs[1], runs
        print("round trips:", runs[0])  # shown when an assertion below fails
        return Trips(seen=runs[0])

    async def upload(self) -> str:
        body = {"filename": "ode.pdf", "content_type": "application/pdf", "size_bytes": len(PDF)}
        ticket = (await self.client.post("/api/v1/files/upload-url", json=body, headers=self.headers)).json()
        url = httpx.URL(ticket["upload_url"])
        stored = await self.client.put(url.raw_path.decode(), content=PDF, headers=ticket["headers"])
        assert stored.status_code in (200, 201, 204), stored.text
        upload_id: str = ticket["upload_id"]
        return upload_id


@pytest.fixture
async def api(
    postgres_url: str, redis_url: str, redis_key_prefix: str, tmp_path: Path, trips: Trips
) -> AsyncIterator[Api]:
    await migrate(postgres_url)
    app = create_app(_settings(postgres_url, redis_url, redis_key_prefix, tmp_path))
    async with _running(app):
        engine = await app.state.dishka_container.get(AsyncEngine)
        event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: trips.add(_statement(args[2])))
        event.listen(engine.sync_engine, "connect", lambda *args: trips.add("CONNECT"))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=30) as client:
            credentials = {"email": "round.trips@example.com", "password": "correct horse battery"}
            assert (await client.post("/api/v1/auth/register", json=credentials)).status_code == 201
            token = (await client.post("/api/v1/auth/login", json=credentials)).json()["access_token"]
            yield Api(client, trips, {"Authorization": f"Bearer {token}"})


def _settings(postgres_url: str, redis_url: str, redis_key_prefix: str, data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=postgres_url,
        redis_url=redis_url,
        redis_key_prefix=redis_key_prefix,
        storage="local",
        jwt_secret="round-trip-test-secret-long-enough-to-sign",
        register_rate_limit="1000/hour",
        log_level="WARNING",
    )


async def test_what_start_up_made_is_kept_out_of_the_collectors_full_passes(
    postgres_url: str, redis_url: str, redis_key_prefix: str, tmp_path: Path
) -> None:
    """A full pass over an API process's start-up objects stalled every request in flight: p99 104 ms where p50 was
    32 ms in bench/vs_django.py, 44 ms once they were frozen."""
    await migrate(postgres_url)
    gc.unfreeze()
    app = create_app(_settings(postgres_url, redis_url, redis_key_prefix, tmp_path))
    try:
        async with _running(app):
            assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()


@asynccontextmanager
async def _running(app: Litestar) -> AsyncIterator[None]:
    """The app's lifespan, as a server runs it: startup before the requests, shutdown after."""
    to_app: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    lifespan = asyncio.create_task(app(scope, to_app.get, from_app.put))  # type: ignore[arg-type]
    await to_app.put({"type": "lifespan.startup"})
    started = await from_app.get()
    assert started["type"] == "lifespan.startup.complete", started
    try:
        yield
    finally:
        await to_app.put({"type": "lifespan.shutdown"})
        await from_app.get()
        await lifespan


# --- the hot paths ------------------------------------------------------------------------------------


async def test_upload_url_reads_the_user_and_inserts_the_upload_with_no_transaction(api: Api) -> None:
    body = {"filename": "ode.pdf", "content_type": "application/pdf", "size_bytes": 1024}
    trips = await api.count(lambda: api.client.post("/api/v1/files/upload-url", json=body, headers=api.headers), 201)
    assert trips.postgres == ["SELECT users (driver)", "INSERT uploads (driver)"]
    assert trips.redis == ["EVALSHA", "EVALSHA"]  # the upload rate limit, then the quota ledger's reserve


async def test_upload_url_with_a_sha256_adds_one_indexed_read_of_scores_first(api: Api) -> None:
    body = {"filename": "ode.pdf", "content_type": "application/pdf", "size_bytes": 1024, "sha256": "ab" * 32}
    trips = await api.count(lambda: api.client.post("/api/v1/files/upload-url", json=body, headers=api.headers), 201)
    assert trips.postgres == ["SELECT scores", "SELECT users (driver)", "INSERT uploads (driver)"]
    assert trips.redis == ["EVALSHA", "EVALSHA"]


async def test_a_refused_duplicate_is_one_read_and_reserves_nothing(api: Api, postgres_url: str) -> None:
    [score_id] = await _scores(api, 1)
    # As processing would (no worker reads this test's task stream).
    engine = create_async_engine(postgres_url)
    async with engine.begin() as connection:
        await connection.execute(update(ScoreRow).where(ScoreRow.id == UUID(score_id)).values(checksum_sha256=SHA256))
    await engine.dispose()
    body = {"filename": "ode.pdf", "content_type": "application/pdf", "size_bytes": len(PDF), "sha256": SHA256}
    trips = await api.count(lambda: api.client.post("/api/v1/files/upload-url", json=body, headers=api.headers), 409)
    assert trips.postgres == ["SELECT scores"]
    assert trips.redis == ["EVALSHA"]  # the rate limit; the quota ledger is not asked


async def test_confirm(api: Api) -> None:
    uploads = [await api.upload() for _ in range(4)]

    def confirm() -> Awaitable[httpx.Response]:
        body = {"upload_id": uploads.pop()}
        return api.client.post("/api/v1/files/upload-confirm", json=body, headers=api.headers)

    trips = await api.count(confirm, 200)
    # The pending upload is read with no transaction while storage is asked about it; then it is confirmed under
    # its row lock, and the ledger counts its bytes as used before the COMMIT.
    assert trips.postgres == [
        "SELECT uploads",
        "BEGIN",
        "SELECT uploads",
        "SELECT users",
        "UPDATE uploads",
        "COMMIT",
    ]
    assert trips.redis == ["EVALSHA"]


async def test_create_score(api: Api) -> None:
    uploads = [await api.upload() for _ in range(4)]

    def create() -> Awaitable[httpx.Response]:
        body = {"upload_id": uploads.pop(), "title": "Ode to Joy"}
        return api.client.post("/api/v1/scores", json=body, headers=api.headers)

    trips = await api.count(create, 201)
    assert trips.postgres == [
        "SELECT uploads",
        "BEGIN",
        "SELECT uploads",
        "SELECT users",
        "UPDATE uploads",
        "INSERT scores",
        "COMMIT",
    ]
    assert trips.redis == ["EVALSHA", "XADD"]  # the ledger's confirm, then the processing task on the stream


async def _scores(api: Api, count: int) -> list[str]:
    ids = []
    for number in range(count):
        body = {"upload_id": await api.upload(), "title": f"Ode {number}"}
        created = await api.client.post("/api/v1/scores", json=body, headers=api.headers)
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    return ids


async def test_get_score_is_one_statement(api: Api) -> None:
    [score_id] = await _scores(api, 1)
    trips = await api.count(lambda: api.client.get(f"/api/v1/scores/{score_id}", headers=api.headers), 200)
    assert trips.postgres == ["SELECT scores"]
    assert trips.redis == []


async def test_a_page_of_scores_and_its_total_are_one_statement(api: Api) -> None:
    await _scores(api, 3)
    for path in ("/api/v1/scores", "/api/v1/scores/?limit=20&offset=0", "/api/v1/scores?ordering=title&status=pending"):
        trips = await api.count(lambda path=path: api.client.get(path, headers=api.headers), 200)  # type: ignore[misc]
        assert trips.postgres == ["SELECT scores (driver)"], path
        assert trips.redis == [], path


async def test_dashboard(api: Api) -> None:
    await _scores(api, 2)
    trips = await api.count(lambda: api.client.get("/api/v1/dashboard", headers=api.headers), 200)
    assert trips.postgres == ["SELECT users (driver)", "SELECT scores", "SELECT setlists", "SELECT scores (driver)"]
    assert trips.redis == ["EXISTS", "EVALSHA"]  # the ledger is whole (not lost), then the user's usage
