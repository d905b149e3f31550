"""The chaos run: the production stack loses workers and Redis while a client creates scores, and must end with every
score processed as the corpus manifest says, nothing left in storage that nothing refers to, and quota right.

The stack is compose.yaml's: Postgres, Redis with persistence (a private `redis-server --appendonly yes`, so the
stream survives its restart), S3 (SeaweedFS), `scoremate serve --workers 2` and 3 `scoremate worker` processes with
the default settings. A supervisor starts a worker again a second after it exits, as compose's restart policy
does; a killer sends SIGKILL to a random worker (its whole process group: the worker and its render processes, as
when a container dies) every `kill_every` seconds and restarts Redis once (SIGTERM, then start on the same data,
as `docker compose restart redis`). Meanwhile musicians create scores from the shared corpus's valid files through
the real upload flow, retrying what the API answers 503 or 429 as a client would. The killer stops once every
score is created (and it has killed `min_kills` times); then the run waits for every score to finish and checks.

`bench/chaos.py` runs it with 200 scores; tests/integration/test_chaos.py with fewer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis

from tests.integration.support.api import User, register
from tests.integration.support.databases import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER
from tests.integration.support.redis_server import RedisServer, private_redis
from tests.integration.support.seaweed import S3ServerInfo
from tests.integration.support.server import CORPUS, RunningProcess
from tests.integration.support.stack import Stack, production_stack

MANIFEST: list[dict[str, Any]] = json.loads((CORPUS / "manifest.json").read_text())["files"]
RETRY_FOR_SECONDS = 120.0
KIND_ALIASES = {"empty_file": "empty"}


def valid_files() -> list[dict[str, Any]]:
    """The manifest's valid PDFs, each to become a score."""
    return [entry for entry in MANIFEST if entry["valid_pdf"]]


@dataclass(frozen=True)
class ChaosSettings:
    scores: int = 200
    musicians: int = 10
    api_processes: int = 2
    workers: int = 3
    kill_every: float = 10.0
    min_kills: int = 3
    restart_redis_at_kill: int = 3  # Redis restarts once, right after this kill
    creating_at_once: int = 4
    restart_delay: float = 1.0
    finish_within: float = 600.0
    seed: int = 1


@dataclass
class Created:
    id: str
    user: User
    entry: dict[str, Any]
    size: int
    finished_at: float | None = None
    final: dict[str, Any] = field(default_factory=dict)


@dataclass
class ChaosReport:
    settings: ChaosSettings
    scores: int = 0
    ready: int = 0
    failed: int = 0
    kills: int = 0
    worker_starts: int = 0
    redis_restarts: int = 0
    takeovers: int = 0
    creating_seconds: float = 0.0
    recovery_seconds: float = 0.0  # from the last kill to the last score finished
    unfinished: list[str] = field(default_factory=list)
    wrong_outcomes: list[str] = field(default_factory=list)
    covers_missing: list[str] = field(default_factory=list)
    quota_wrong: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    unacknowledged_tasks: int = 0
    started: float = field(default_factory=time.monotonic)

    def problems(self) -> list[str]:
        found = [f"unfinished: {score}" for score in self.unfinished]
        found += [f"outcome: {line}" for line in self.wrong_outcomes]
        found += [f"cover: {line}" for line in self.covers_missing]
        found += [f"quota: {line}" for line in self.quota_wrong]
        found += [f"leak: {key}" for key in self.leaks]
        if self.unacknowledged_tasks:
            found.append(f"{self.unacknowledged_tasks} task(s) left unacknowledged in the stream")
        return found

    def lines(self) -> list[str]:
        s = self.settings
        return [
            f"stack: {s.api_processes} API processes, {s.workers} workers, Redis with AOF, Postgres, SeaweedFS",
            f"scores: {self.scores} from {len(valid_files())} corpus files by {s.musicians} musicians "
            f"({self.ready} ready, {self.failed} failed, {len(self.unfinished)} unfinished), "
            f"created in {self.creating_seconds:.0f} s",
            f"kills: {self.kills} SIGKILLs of a random worker, one every {s.kill_every:g} s "
            f"({self.worker_starts} worker starts in all); Redis restarted {self.redis_restarts} time(s)",
            f"tasks taken over from dead workers: {self.takeovers}; left unacknowledged: {self.unacknowledged_tasks}",
            f"recovery: the last score finished {self.recovery_seconds:.1f} s after the last kill",
            f"wrong outcomes: {len(self.wrong_outcomes)}; covers not downloadable: {len(self.covers_missing)}; "
            f"quota off: {len(self.quota_wrong)}; leaks (objects no score or live upload refers to): {len(self.leaks)}",
            f"run: {time.monotonic() - self.started:.0f} s in all",
        ]


class Supervisor:
    """Keeps `count` workers running: one that exits is started again after `delay`, as compose's restart policy."""

    def __init__(self, stack: Stack, count: int, delay: float) -> None:
        self._stack = stack
        self._delay = delay
        self.workers: list[RunningProcess] = [stack.worker() for _ in range(count)]
        self.starts = count
        self._down_since: dict[int, float] = {}

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for slot, worker in enumerate(self.workers):
                if worker.process.poll() is None:
                    continue
                down = self._down_since.setdefault(slot, time.monotonic())
                if time.monotonic() - down >= self._delay:
                    self.workers[slot] = self._stack.worker()
                    self.starts += 1
                    del self._down_since[slot]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)

    def kill_one(self, rng: random.Random) -> bool:
        running = [worker for worker in self.workers if worker.process.poll() is None]
        if not running:
            return False
        victim = rng.choice(running)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(victim.process.pid, signal.SIGKILL)  # the worker and its render processes
        return True


async def run_chaos(directory: Path, s3: S3ServerInfo, settings: ChaosSettings) -> ChaosReport:
    report = ChaosReport(settings)
    rng = random.Random(settings.seed)
    with private_redis(directory / "redis") as redis_server:
        async with production_stack(directory, s3, redis_url=redis_server.url) as stack:
            try:
                await _run(stack, redis_server, s3, settings, rng, report)
            except BaseException:
                print(stack.logs())
                raise
            report.takeovers = _takeovers(stack)
    return report


async def _run(
    stack: Stack,
    redis_server: RedisServer,
    s3: S3ServerInfo,
    settings: ChaosSettings,
    rng: random.Random,
    report: ChaosReport,
) -> None:
    base_url = await asyncio.to_thread(stack.api, settings.api_processes)
    supervisor = Supervisor(stack, settings.workers, settings.restart_delay)
    stop_supervising, created_all = asyncio.Event(), asyncio.Event()
    supervising = asyncio.create_task(supervisor.run(stop_supervising))
    kills: list[float] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        musicians = [await register(client) for _ in range(settings.musicians)]
        killing = asyncio.create_task(_kill(supervisor, redis_server, settings, rng, kills, created_all, report))
        started = time.monotonic()
        created = await _create_scores(musicians, settings, rng)
        report.creating_seconds = time.monotonic() - started
        created_all.set()
        # Watched from now on, while the killer may still be at work (until it killed `min_kills` times).
        watching = asyncio.create_task(_wait_until_finished(musicians, created, settings.finish_within))
        await killing
        await watching
        stop_supervising.set()
        await supervising
        report.worker_starts = supervisor.starts
        report.kills = len(kills)
        report.scores = len(created)
        finished = [c.finished_at for c in created if c.finished_at is not None]
        report.recovery_seconds = max(0.0, max(finished, default=0.0) - max(kills, default=0.0))
        await _check(stack, redis_server, s3, musicians, created, report)


async def _kill(
    supervisor: Supervisor,
    redis_server: RedisServer,
    settings: ChaosSettings,
    rng: random.Random,
    kills: list[float],
    created_all: asyncio.Event,
    report: ChaosReport,
) -> None:
    while True:
        await asyncio.sleep(settings.kill_every)
        if created_all.is_set() and len(kills) >= settings.min_kills and report.redis_restarts:
            return
        if supervisor.kill_one(rng):
            kills.append(time.monotonic())
        if len(kills) == settings.restart_redis_at_kill and not report.redis_restarts:
            await asyncio.to_thread(redis_server.restart)
            report.redis_restarts += 1


# --- the client ----------------------------------------------------------------------------------------------


async def _persistently(call: Callable[[], Awaitable[httpx.Response]], what: str) -> httpx.Response:
    """The response of `call`, asked again while the API is briefly unavailable (503, 429) or unreachable."""
    deadline = time.monotonic() + RETRY_FOR_SECONDS
    while True:
        try:
            response = await call()
        except httpx.TransportError as error:
            problem = repr(error)
        else:
            if response.status_code not in (429, 503):
                return response
            problem = f"{response.status_code} {response.text[:200]}"
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} failed for {RETRY_FOR_SECONDS:.0f} s: {problem}")
        await asyncio.sleep(1.0)


async def _create_scores(musicians: list[User], settings: ChaosSettings, rng: random.Random) -> list[Created]:
    files = valid_files()
    contents = {entry["file"]: (CORPUS / entry["file"]).read_bytes() for entry in files}
    order = [files[index % len(files)] for index in range(settings.scores)]
    rng.shuffle(order)
    at_once = asyncio.Semaphore(settings.creating_at_once)

    async def create(index: int, entry: dict[str, Any]) -> Created:
        user = musicians[index % len(musicians)]
        async with at_once:
            return await _create_score(user, entry, contents[entry["file"]], f"Chaos {index}")

    return list(await asyncio.gather(*(create(index, entry) for index, entry in enumerate(order))))


async def _create_score(user: User, entry: dict[str, Any], data: bytes, title: str) -> Created:
    body = {"filename": entry["file"], "content_type": "application/pdf", "size_bytes": len(data)}
    reserved = await _persistently(lambda: user.post("/api/v1/files/upload-url", json=body), "upload-url")
    assert reserved.status_code == 201, reserved.text
    ticket = reserved.json()
    stored = await _persistently(lambda: user.send_file(ticket, data), "storing the file")
    assert stored.status_code in (200, 204, 412), stored.text  # 412: an earlier try stored it
    made = await _persistently(
        lambda: user.post("/api/v1/scores", json={"upload_id": ticket["upload_id"], "title": title}), "create score"
    )
    if made.status_code == 409 and made.json()["code"] == "upload_already_used":  # an earlier try made it
        score = await _score_of_upload(user, ticket["upload_id"])
    else:
        assert made.status_code == 201, made.text
        score = made.json()
    return Created(score["id"], user, entry, len(data))


async def _score_of_upload(user: User, upload_id: str) -> dict[str, Any]:
    for score in await _library(user):
        if score["upload_id"] == upload_id:
            return score
    raise AssertionError(f"no score of upload {upload_id}")


async def _library(user: User) -> list[dict[str, Any]]:
    scores: list[dict[str, Any]] = []
    while True:
        params = {"limit": 100, "offset": len(scores)}
        page = await _persistently(lambda: user.get("/api/v1/scores", params=params), "list scores")  # noqa: B023
        assert page.status_code == 200, page.text
        body = page.json()
        scores += body["items"]
        if len(scores) >= body["total"] or not body["items"]:
            return scores


async def _wait_until_finished(musicians: list[User], created: list[Created], within: float) -> None:
    deadline = time.monotonic() + within
    by_id = {score.id: score for score in created}
    while time.monotonic() < deadline:
        for user in musicians:
            for body in await _library(user):
                score = by_id.get(body["id"])
                if score is None or score.finished_at is not None:
                    continue
                if body["processing_status"] in ("ready", "failed"):
                    score.finished_at = time.monotonic()
                    score.final = body
        if all(score.finished_at is not None for score in created):
            return
        await asyncio.sleep(0.5)


# --- the checks ----------------------------------------------------------------------------------------------


async def _check(
    stack: Stack,
    redis_server: RedisServer,
    s3: S3ServerInfo,
    musicians: list[User],
    created: list[Created],
    report: ChaosReport,
) -> None:
    for score in created:
        status = score.final.get("processing_status")
        if score.finished_at is None:
            report.unfinished.append(f"{score.id} ({score.entry['file']}): {score.final or 'never finished'}")
            continue
        report.ready += status == "ready"
        report.failed += status == "failed"
        problem = _against_manifest(score.final, score.entry["expected"])
        if problem:
            report.wrong_outcomes.append(f"{score.entry['file']} {score.id}: {problem}")
        elif score.final["thumbnail_ready"]:
            cover = await score.user.download(score.id, "thumbnail")
            if cover.status_code != 200 or not cover.content.startswith(b"\xff\xd8"):
                report.covers_missing.append(f"{score.entry['file']} {score.id}: {cover.status_code}")
    sizes: defaultdict[str, int] = defaultdict(int)
    for score in created:
        sizes[score.user.email] += score.size
    for user in musicians:
        quota = await user.quota()
        if (quota["used_bytes"], quota["reserved_bytes"]) != (sizes[user.email], 0):
            report.quota_wrong.append(f"{user.email}: {quota}, the scores hold {sizes[user.email]} bytes")
    report.leaks = await _leaks(stack, s3)
    report.unacknowledged_tasks = await _unacknowledged(stack, redis_server)


def _against_manifest(final: dict[str, Any], expected: dict[str, Any]) -> str | None:
    status = final["processing_status"]
    if expected["outcome"] == "error":
        kinds = {
            KIND_ALIASES.get(kind, kind) for kind in (expected["error_kind"], *expected.get("also_acceptable", []))
        }
        if status != "failed" or final["processing_error_code"] not in kinds:
            return f"expected failed ({', '.join(sorted(kinds))}), got {status} {final['processing_error_code']}"
        return None
    if status != "ready" or final["page_count"] != expected["page_count"]:
        return f"expected ready with {expected['page_count']} pages, got {status} with {final['page_count']}"
    if not final["thumbnail_ready"] and "thumbnail_failed_timeout" not in expected.get("also_acceptable", []):
        return f"no cover: {final['processing_error_code']} {final['processing_error']}"
    return None


async def _leaks(stack: Stack, s3: S3ServerInfo) -> list[str]:
    """Objects in storage that no score refers to (its original, its cover, a page thumbnail) and that belong to no
    upload still able to receive a file."""
    connection = await asyncpg.connect(
        host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, database=stack.database_name
    )
    try:
        scores = await connection.fetch("SELECT storage_key, cover_key, thumbnail_pages FROM scores")
        live = await connection.fetch(
            "SELECT storage_key FROM uploads WHERE status = 'pending' AND expires_at > $1", datetime.now(UTC)
        )
    finally:
        await connection.close()
    referred = {row["storage_key"] for row in live}
    for row in scores:
        prefix = row["storage_key"].rsplit("/", 1)[0]
        referred |= {row["storage_key"], row["cover_key"]}
        referred |= {f"{prefix}/pages/{page}.jpg" for page in json.loads(row["thumbnail_pages"] or "[]")}
    bucket = stack.env["SCOREMATE_S3_BUCKET"]
    objects = await asyncio.to_thread(lambda: [o.object_name for o in s3.client().list_objects(bucket, recursive=True)])
    return sorted(str(name) for name in objects if name not in referred)


async def _unacknowledged(stack: Stack, redis_server: RedisServer) -> int:
    """Tasks still pending in the stream's consumer group, once the housekeeping tasks in flight have ended."""
    redis = Redis.from_url(redis_server.url)
    try:
        for _ in range(60):
            summary = await redis.xpending(f"{stack.redis_prefix}tasks", f"{stack.redis_prefix}workers")
            if not summary["pending"]:
                return 0
            await asyncio.sleep(0.5)
        return int(summary["pending"])
    finally:
        await redis.aclose()


def _takeovers(stack: Stack) -> int:
    taken = 0
    for running in stack.processes:
        if running.log_path.name.startswith("worker-"):
            log = running.log_path.read_text(errors="replace")
            taken += sum(int(n) for n in re.findall(r"took over (\d+) task\(s\)", log))
    return taken
