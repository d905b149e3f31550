"""Postgres + Redis + S3 with separate API and worker processes, as compose.yaml runs them."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from PIL import Image
from redis.asyncio import Redis

from adapters.redis import RedisQuotaLedger
from tests.integration.support import samples
from tests.integration.support.api import User, end_upload, register, wait_for_reserved
from tests.integration.support.backends import migrate_with_cli, postgres_database
from tests.integration.support.databases import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER
from tests.integration.support.redis import REDIS_URL
from tests.integration.support.seaweed import S3ServerInfo
from tests.integration.support.server import free_port, render_processes, stop_process
from tests.integration.support.stack import Stack, collecting_logs, delete_redis_keys, production_stack

ETUDE = samples.etude()
ODE = samples.ode()
ENCRYPTED = samples.encrypted()
TINY_PAGES = samples.tiny_pages()


@pytest.fixture
async def stack(tmp_path: Path, s3_server: S3ServerInfo) -> AsyncIterator[Stack]:
    async with production_stack(
        tmp_path, s3_server, maintenance_interval_seconds=1, quota_reconcile_interval_seconds=1
    ) as running:
        with collecting_logs(running):
            yield running


@asynccontextmanager
async def _database(stack: Stack) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(
        host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, database=stack.database_name
    )
    try:
        yield connection
    finally:
        await connection.close()


async def _database_usage(stack: Stack, user_email: str) -> tuple[int, int]:
    async with _database(stack) as connection:
        rows = await connection.fetch(
            "SELECT uploads.status, coalesce(sum(uploads.size_bytes), 0) AS total FROM uploads "
            "JOIN users ON users.id = uploads.user_id WHERE users.email = $1 GROUP BY uploads.status",
            user_email,
        )
    totals = {row["status"]: int(row["total"]) for row in rows}
    return totals.get("confirmed", 0), totals.get("pending", 0)


async def test_full_flow_with_a_separate_worker(stack: Stack) -> None:
    base_url = stack.api()
    worker_metrics = free_port()
    stack.worker(metrics_port=worker_metrics)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        ready = await client.get("/health/ready")
        assert ready.status_code == 200, ready.text
        user = await register(client)
        ticket = await user.request_upload(ETUDE)
        assert ticket["upload_url"].startswith(f"http://{stack.env['SCOREMATE_S3_ENDPOINT']}/")
        stored = await user.send_file(ticket, ETUDE)
        assert stored.status_code == 200, stored.text
        score = await user.create_score(ODE, title="Ode")
        etude = await user.post("/api/v1/scores", json={"upload_id": ticket["upload_id"], "title": "Etude"})
        assert etude.status_code == 201, etude.text
        broken = await user.create_score(ENCRYPTED, title="Locked")

        etude_score = await user.wait_for_score(etude.json()["id"], thumbnail_ready=True)
        assert etude_score["page_count"] == 8
        ode_score = await user.wait_for_score(score["id"], thumbnail_ready=True)
        assert ode_score["pdf_metadata"]["title"] == "Ode to Joy"
        locked = await user.wait_for_score(broken["id"])
        assert locked["processing_status"] == "failed"
        assert locked["processing_error"] == "The PDF is protected by a password."

        thumbnail = await user.download(etude_score["id"], "thumbnail")
        assert thumbnail.status_code == 200
        image = Image.open(io.BytesIO(thumbnail.content))
        assert image.format == "JPEG"
        assert abs(image.size[0] - 283) <= 1
        assert image.size[1] == 400
        original = await user.download(etude_score["id"], "original")
        assert original.content == ETUDE

        quota = await user.quota()
        assert quota["used_bytes"] == len(ETUDE) + len(ODE) + len(ENCRYPTED)
        assert await _database_usage(stack, user.email) == (quota["used_bytes"], 0)

        deleted = await user.delete(f"/api/v1/scores/{etude_score['id']}")
        assert deleted.status_code == 204
        assert (await user.quota())["used_bytes"] == quota["used_bytes"]  # in the trash, still counted
        purged = await user.delete(f"/api/v1/trash/{etude_score['id']}")
        assert purged.status_code == 204
        assert (await user.quota())["used_bytes"] == len(ODE) + len(ENCRYPTED)
        gone = await user.get("/api/v1/files/download-url", params={"score_id": etude_score["id"]})
        assert gone.status_code == 404

        worker = (await client.get(f"http://127.0.0.1:{worker_metrics}/metrics")).text
        assert 'scoremate_tasks_total{outcome="succeeded",task="scoremate.process_pdf_info"} 3.0' in worker
        assert 'scoremate_task_queue_depth{state="stream"}' in worker


async def test_concurrent_reservations_across_two_api_processes(stack: Stack) -> None:
    size = 1_000_000
    fits = 7
    # The bound on pending uploads is another limit; this test is about the quota alone.
    limits = {"default_quota_bytes": size * fits, "max_pending_uploads": 1000}
    first, second = stack.api(**limits), stack.api(**limits)
    async with (
        httpx.AsyncClient(base_url=first, timeout=60) as one,
        httpx.AsyncClient(base_url=second, timeout=60) as two,
    ):
        user = await register(one)
        body = {"filename": "part.pdf", "content_type": "application/pdf", "size_bytes": size}
        requests = [
            (one if index % 2 else two).post("/api/v1/files/upload-url", json=body, headers=user.headers)
            for index in range(60)
        ]
        responses = await asyncio.gather(*requests)
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [201] * fits + [409] * (60 - fits), statuses
        assert {r.json()["code"] for r in responses if r.status_code == 409} == {"quota_exceeded"}
        assert (await user.quota())["reserved_bytes"] == size * fits
        assert await _database_usage(stack, user.email) == (0, size * fits)


async def test_concurrent_requests_cannot_pass_the_pending_upload_limit(stack: Stack) -> None:
    pending = 5
    first, second = stack.api(max_pending_uploads=pending), stack.api(max_pending_uploads=pending)
    async with (
        httpx.AsyncClient(base_url=first, timeout=60) as one,
        httpx.AsyncClient(base_url=second, timeout=60) as two,
    ):
        user = await register(one)
        body = {"filename": "part.pdf", "content_type": "application/pdf", "size_bytes": 1000}
        requests = [
            (one if index % 2 else two).post("/api/v1/files/upload-url", json=body, headers=user.headers)
            for index in range(40)
        ]
        statuses = sorted(response.status_code for response in await asyncio.gather(*requests))
        assert statuses == [201] * pending + [429] * (40 - pending), statuses
        assert await _database_usage(stack, user.email) == (0, 1000 * pending)


async def test_the_scheduled_sweep_requeues_lost_and_stalled_scores_and_fails_those_a_day_old(stack: Stack) -> None:
    settings = {"stuck_processing_seconds": 2, "maintenance_interval_seconds": 0.5}
    base_url = stack.api(**settings)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        user = await register(client)
        lost = await user.create_score(ODE, title="Lost")
        stalled = await user.create_score(ETUDE, title="Stalled")
        old = await user.create_score(ODE, title="Stalled since yesterday")
        # No worker has run yet: losing the stream loses every task; two scores then look stuck mid-way.
        assert await delete_redis_keys(f"{stack.redis_prefix}tasks") >= 1
        async with _database(stack) as connection:
            await connection.execute(
                "UPDATE scores SET processing_status = 'processing', processing_started_at = now() - interval '1 hour'"
                " WHERE id = ANY($1::uuid[])",
                [UUID(stalled["id"]), UUID(old["id"])],
            )
            await connection.execute(
                "UPDATE scores SET created_at = now() - interval '2 days' WHERE id = $1", UUID(old["id"])
            )

        stack.worker(**settings)  # no scheduler: the workers send the housekeeping tasks

        requeued = await user.wait_for_score(lost["id"], timeout=60, thumbnail_ready=True)
        assert (requeued["processing_status"], requeued["page_count"]) == ("ready", 1)
        resumed = await user.wait_for_score(stalled["id"], timeout=60, thumbnail_ready=True)
        assert (resumed["processing_status"], resumed["page_count"], resumed["processing_error"]) == ("ready", 8, None)
        failed = await user.wait_for_score(old["id"], timeout=60, processing_status="failed")
        assert failed["processing_error_code"] == "processing_stalled"
        assert failed["processing_error"] == "Processing did not finish in time; try refreshing the score's info."


async def test_a_bomb_that_times_out_leaves_the_worker_serving_the_next_score(stack: Stack) -> None:
    base_url = stack.api()
    worker = stack.worker(render_processes=1, render_timeout_seconds=0.2)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        user = await register(client)
        bomb = await user.create_score(samples.decompression_bomb(), title="Bomb")
        bombed = await user.wait_for_score(bomb["id"], processing_error_code="render_timeout")
        # The page count and metadata survive; only the cover is missing, and it says why.
        assert (bombed["processing_status"], bombed["page_count"], bombed["thumbnail_ready"]) == ("ready", 1, False)
        assert bombed["processing_error"] == "Page 1 took too long to render, so it has no thumbnail."

        after = await user.create_score(ODE, title="Next")
        served = await user.wait_for_score(after["id"], thumbnail_ready=True)
        assert (served["processing_status"], served["page_count"]) == ("ready", 1)
    assert worker.process.poll() is None
    assert "PDF worker process" in worker.log() and "ran past its time limit" in worker.log()


async def test_a_worker_starts_its_render_processes_before_its_first_task(stack: Stack) -> None:
    worker = stack.worker(render_processes=2)
    for _ in range(600):
        if "worker listening" in worker.log():
            break
        assert worker.process.poll() is None, worker.log()
        await asyncio.sleep(0.05)
    assert len(render_processes(worker)) == 2, worker.log()
    stack.api()
    assert render_processes(stack.processes[-1]) == []  # an API process on Redis renders nothing


async def _worker_health(stack: Stack) -> subprocess.CompletedProcess[str]:
    """compose's health check of a worker container: `scoremate worker-health` with the worker's settings."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "entrypoints.cli", "worker-health"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_worker_health_passes_while_a_worker_runs_and_fails_once_it_stopped(stack: Stack) -> None:
    assert (await _worker_health(stack)).returncode == 1, "no worker has started yet"
    worker = stack.worker()
    deadline = time.monotonic() + 60
    while "worker listening" not in worker.log() and time.monotonic() < deadline:
        assert worker.process.poll() is None, worker.log()
        await asyncio.sleep(0.05)
    healthy = await _worker_health(stack)
    while healthy.returncode != 0 and time.monotonic() < deadline:  # its first beat comes as it starts listening
        await asyncio.sleep(0.2)
        healthy = await _worker_health(stack)
    assert healthy.returncode == 0, healthy.stdout + worker.log()
    stop_process(worker)
    unhealthy = await _worker_health(stack)
    assert unhealthy.returncode == 1
    assert "no heartbeat" in unhealthy.stdout


async def test_a_killed_workers_task_goes_to_a_live_worker_within_a_minute(
    stack: Stack, s3_server: S3ServerInfo
) -> None:
    """Two workers with the default heartbeat; the one running all page thumbnails is SIGKILLed mid-run (as an OOM
    kill or a lost host would end it). The other one takes the task over as soon as the dead one's heartbeat lapses,
    not after the 15-minute idle timeout, and finishes it with no duplicate side effects."""
    s3 = s3_server
    settings = {"page_thumbnails_seconds": 3, "max_page_thumbnails": 400}
    base_url = stack.api(**settings)
    workers = [stack.worker(**settings), stack.worker(**settings)]
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        user = await register(client)
        score = await user.create_score(TINY_PAGES, title="Blank pages")
        await user.wait_for_score(score["id"], timeout=120, thumbnail_ready=True)
        accepted = await user.post(f"/api/v1/scores/{score['id']}/generate_all_thumbnails")
        assert accepted.status_code == 202
        for _ in range(600):
            progress = (await user.get(f"/api/v1/scores/{score['id']}")).json()["page_thumbnails_ready"]
            if progress > 0:
                break
            await asyncio.sleep(0.05)
        assert 0 < progress < 400, f"the worker should be in the middle of the task, progress {progress}"
        doomed_name = await _consumer_running_the_task(stack)
        [doomed] = [w for w in workers if f"worker listening as {doomed_name} " in w.log_path.read_text()]
        [survivor] = [w for w in workers if w is not doomed]
        os.killpg(doomed.process.pid, signal.SIGKILL)
        killed = time.monotonic()
        doomed.process.wait(10)

        while f"took over 1 task(s) of worker {doomed_name}" not in survivor.log_path.read_text():
            assert time.monotonic() - killed < 60, "no live worker took the dead one's task over within 60 s"
            await asyncio.sleep(0.2)
        finished = await _all_page_thumbnails(
            user, score["id"], cap_note="Only the first 400 of 2000 pages have thumbnails."
        )
        page = await user.download(score["id"], "page_thumbnail", page=400)
        assert Image.open(io.BytesIO(page.content)).size == (300, 300)
        assert (await user.quota())["used_bytes"] == len(TINY_PAGES)
    # No duplicate side effects: one original, one cover and exactly one JPEG per page in storage.
    me = finished["upload_id"]
    objects = [o.object_name for o in s3.client().list_objects(stack.env["SCOREMATE_S3_BUCKET"], recursive=True)]
    mine = [name for name in objects if f"/scores/{me}/" in name]
    assert len(mine) == 1 + 1 + 400
    assert len({name for name in mine if "/pages/" in name}) == 400


async def test_a_live_workers_long_task_is_never_taken_over(stack: Stack) -> None:
    """A cover that takes long to render, on one of two workers, with a heartbeat of 1 s and a last-resort idle
    timeout of 5 s: the task runs far past both, and the idle worker never takes it over."""
    settings = {
        "worker_heartbeat_seconds": 1,
        "worker_heartbeat_ttl_seconds": 3,
        "task_idle_timeout_seconds": 5,
        "page_thumbnails_seconds": 4,
        "render_timeout_seconds": 300,
    }
    base_url = stack.api(**settings)
    workers = [stack.worker(**settings), stack.worker(**settings)]
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        user = await register(client)
        started = time.monotonic()
        # About 12 s of rendering on a quiet machine (12 images took 6.9 s), more on a busy one: past both limits.
        score = await user.create_score(samples.slow_page(images=20), title="Slow")
        done = await user.wait_for_score(score["id"], timeout=240)
        took = time.monotonic() - started
    assert (done["processing_status"], done["thumbnail_ready"], done["processing_error"]) == ("ready", True, None)
    assert took > 5 + 3, f"the cover rendered in {took:.1f} s: too quickly to show anything"
    logs = [worker.log_path.read_text() for worker in workers]
    runs = [
        line
        for log in logs
        for line in log.splitlines()
        if "task started" in line and "task_name=scoremate.process_pdf_info" in line and score["id"] in line
    ]
    assert len(runs) == 1, runs
    assert not any("took over" in log for log in logs), logs


async def test_a_worker_stopped_with_sigterm_finishes_its_task_and_hands_back_nothing(stack: Stack) -> None:
    """SIGTERM to the worker alone, as `docker compose stop` sends it: the cover it is rendering is finished and
    recorded before it exits, and the other worker never runs the task."""
    slow = {"render_timeout_seconds": 300}
    base_url = stack.api(**slow)
    stopping = stack.worker(**slow)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        user = await register(client)
        score = await user.create_score(samples.slow_page(images=6), title="Slow")
        deadline = time.monotonic() + 60
        while (await user.get(f"/api/v1/scores/{score['id']}")).json()["page_count"] != 1:
            assert time.monotonic() < deadline, "processing did not reach the cover"
            await asyncio.sleep(0.05)
        other = stack.worker(**slow)
        stopping.process.send_signal(signal.SIGTERM)
        exit_code = await asyncio.to_thread(stopping.process.wait, 120)
        stopped = (await user.get(f"/api/v1/scores/{score['id']}")).json()
        await asyncio.sleep(3)  # time for the other worker to take anything over, which it must not
    assert exit_code == 0, stopping.log()
    assert (stopped["processing_status"], stopped["thumbnail_ready"]) == ("ready", True), stopped
    assert f"score_id={score['id']}" not in other.log_path.read_text()
    # It left the consumer group with nothing pending, so no one has anything of it to take over.
    name = re.search(r"worker listening as (\S+) ", stopping.log_path.read_text())
    assert name is not None
    assert name.group(1) not in await _consumers(stack)


async def _consumers(stack: Stack) -> list[str]:
    redis = Redis.from_url(REDIS_URL)
    try:
        consumers = await redis.xinfo_consumers(f"{stack.redis_prefix}tasks", f"{stack.redis_prefix}workers")
    finally:
        await redis.aclose()
    return [consumer["name"].decode() for consumer in consumers]


async def _consumer_running_the_task(stack: Stack) -> str:
    """The stream consumer (the worker) holding the one unacknowledged task."""
    redis = Redis.from_url(REDIS_URL)
    try:
        pending = await redis.xpending_range(f"{stack.redis_prefix}tasks", f"{stack.redis_prefix}workers", "-", "+", 10)
    finally:
        await redis.aclose()
    assert len(pending) == 1, pending
    return str(pending[0]["consumer"].decode())


async def _all_page_thumbnails(user: User, score_id: str, cap_note: str) -> dict[str, Any]:
    """Wait for the cap note, which comes once the last page is done, asking again as a client would whenever a
    run stops at its time limit (on a busy machine one short run may not get through every page)."""
    deadline = time.monotonic() + 120
    asked_at = -1
    while True:
        score: dict[str, Any] = (await user.get(f"/api/v1/scores/{score_id}")).json()
        if score["processing_error"] == cap_note:
            return score
        progress = score["page_thumbnails_ready"]
        if score["processing_error_code"] == "time_limit" and progress > asked_at:
            assert (await user.post(f"/api/v1/scores/{score_id}/generate_all_thumbnails")).status_code == 202
            asked_at = progress
        assert time.monotonic() < deadline, f"thumbnails did not finish in 120 s: {score}"
        await asyncio.sleep(0.1)


async def test_redis_flushed_while_running_quota_is_rebuilt_from_the_database(stack: Stack) -> None:
    base_url = stack.api()
    stack.worker()
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        user: User = await register(client)
        score = await user.create_score(ODE, title="Ode")
        pending = await user.request_upload(ETUDE)
        await user.wait_for_score(score["id"], thumbnail_ready=True)
        assert await user.quota() == {
            "limit_bytes": 1024**3,
            "used_bytes": len(ODE),
            "reserved_bytes": len(ETUDE),
            "available_bytes": 1024**3 - len(ODE) - len(ETUDE),
        }

        assert await delete_redis_keys(stack.redis_prefix) > 0
        during = await user.get("/api/v1/auth/me")
        assert during.status_code == 200  # answers at once; the ledger is rebuilt in the background
        assert during.json()["quota"]["used_bytes"] == len(ODE)  # from the database until then

        redis = Redis.from_url(REDIS_URL)
        ledger = RedisQuotaLedger(redis, key_prefix=stack.redis_prefix)
        try:
            for _ in range(300):  # the next housekeeping pass rebuilds the ledger; young reservations, a later one
                rebuilt, quota = await ledger.rebuilt(), await user.quota()
                if rebuilt and (quota["used_bytes"], quota["reserved_bytes"]) == (len(ODE), len(ETUDE)):
                    break
                await asyncio.sleep(0.1)
        finally:
            await redis.aclose()
        assert rebuilt
        assert (quota["used_bytes"], quota["reserved_bytes"]) == (len(ODE), len(ETUDE))

        again = await user.create_score(ETUDE, title="After the flush")
        processed = await user.wait_for_score(again["id"], timeout=60, thumbnail_ready=True)
        assert processed["page_count"] == 8
        await user.send_file(pending, ETUDE)
        confirmed = await user.post("/api/v1/files/upload-confirm", json={"upload_id": pending["upload_id"]})
        assert confirmed.status_code == 200


async def test_readiness_names_what_failed(stack: Stack, tmp_path: Path) -> None:
    base_url = stack.api(redis_url="redis://127.0.0.1:1/0")
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["storage"] == "ok"
    assert checks["quota"].startswith("error")
    assert checks["queue"].startswith("error")


@asynccontextmanager
async def _one_musician_on_two_apis(stack: Stack, **cut_off: object) -> AsyncIterator[tuple[User, User]]:
    """The same musician on a healthy API process and on one with `cut_off` settings (a service it cannot reach)."""
    healthy, broken = stack.api(), stack.api(**cut_off)
    async with (
        httpx.AsyncClient(base_url=healthy, timeout=30) as one,
        httpx.AsyncClient(base_url=broken, timeout=30) as two,
    ):
        user = await register(one)
        yield user, User(two, user.email, user.password, user.token)


async def test_an_api_process_cut_off_from_redis_answers_503_and_confirms_nothing(stack: Stack) -> None:
    async with _one_musician_on_two_apis(stack, redis_url="redis://127.0.0.1:1/0") as (user, same_user):
        score = await user.create_score(ODE, title="Ode")
        pending = await user.request_upload(ETUDE)
        await user.send_file(pending, ETUDE)

        refused = [
            await same_user.post(f"/api/v1/scores/{score['id']}/regenerate_thumbnail", json={"page": 1}),
            await same_user.post(f"/api/v1/scores/{score['id']}/refresh_info"),
            await same_user.post(f"/api/v1/scores/{score['id']}/generate_all_thumbnails"),
            # Confirming would count bytes the quota ledger in Redis cannot record: nothing is confirmed.
            await same_user.post("/api/v1/files/upload-confirm", json={"upload_id": pending["upload_id"]}),
            await same_user.post("/api/v1/scores", json={"upload_id": pending["upload_id"], "title": "Etude"}),
        ]
        for response in refused:
            assert (response.status_code, response.json()["code"]) == (503, "service_unavailable"), response.text
            assert response.headers["Retry-After"] == "5"
        assert (await user.quota())["reserved_bytes"] == len(ETUDE)
        confirmed = await user.post("/api/v1/files/upload-confirm", json={"upload_id": pending["upload_id"]})
        assert confirmed.status_code == 200
        assert (await user.quota())["used_bytes"] == len(ODE) + len(ETUDE)


async def test_a_storage_outage_answers_503_with_retry_after_and_no_internals(stack: Stack) -> None:
    async with _one_musician_on_two_apis(stack, s3_endpoint="127.0.0.1:1") as (user, same_user):
        pending = await user.request_upload(ETUDE)
        response = await same_user.post("/api/v1/files/upload-confirm", json={"upload_id": pending["upload_id"]})
    assert (response.status_code, response.json()["code"]) == (503, "service_unavailable")
    assert response.headers["Retry-After"] == "5"
    assert response.json()["detail"] == "A backing service is unavailable; try again shortly."


async def test_a_process_with_every_database_connection_busy_answers_503_then_recovers(stack: Stack) -> None:
    """Its one connection is held by a request waiting for a row lock: the next request waits the pool timeout
    and answers 503; once the lock goes, the waiting request completes and the process serves again."""
    base_url = stack.api(database_max_connections=1, database_pool_timeout_seconds=0.5)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        user = await register(client)
        async with _database(stack) as connection, connection.transaction():
            await connection.execute("SELECT 1 FROM users WHERE email = $1 FOR UPDATE", user.email)
            waiting = asyncio.create_task(user.request_upload(ETUDE))
            await _until_a_query_waits_for_a_lock(stack)
            starved = await user.get("/api/v1/scores")
        await waiting
        served = await user.get("/api/v1/scores")
        quota = await user.quota()
    assert (starved.status_code, starved.json()["code"]) == (503, "service_unavailable"), starved.text
    assert starved.headers["Retry-After"] == "5"
    assert served.status_code == 200
    assert quota["reserved_bytes"] == len(ETUDE)


async def _until_a_query_waits_for_a_lock(stack: Stack) -> None:
    async with _database(stack) as connection:
        for _ in range(200):
            waiting = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
                stack.database_name,
            )
            if waiting:
                return
            await asyncio.sleep(0.05)
    raise AssertionError("no query started waiting for the row lock")


async def test_adding_a_score_that_a_concurrent_delete_removes_is_score_not_found(stack: Stack) -> None:
    base_url = stack.api()
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        user = await register(client)
        score = await user.create_score(ODE, title="Ode")
        setlist = (await user.post("/api/v1/setlists", json={"name": "Recital"})).json()
        async with _database(stack) as connection, connection.transaction():
            # A delete in progress: the score row is locked and gone once the transaction commits.
            await connection.execute("DELETE FROM scores WHERE id = $1", UUID(score["id"]))
            adding = asyncio.create_task(
                user.post(f"/api/v1/setlists/{setlist['id']}/items", json={"score_id": score["id"]})
            )
            await _until_a_query_waits_for_a_lock(stack)
        added = await adding
    assert (added.status_code, added.json()["code"]) == (404, "score_not_found"), added.text


async def test_readiness_fails_until_the_database_is_migrated(stack: Stack) -> None:
    async with postgres_database("unmigrated") as (_, url):
        base_url = stack.api(database_url=url)
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            unmigrated = await client.get("/health/ready")
            await migrate_with_cli({**stack.env, "SCOREMATE_DATABASE_URL": url})
            migrated = await client.get("/health/ready")
    assert unmigrated.status_code == 503
    assert unmigrated.json()["checks"]["database"] == "error: SchemaNotMigrated"
    assert migrated.status_code == 200, migrated.json()


async def test_failed_logins_are_limited_across_api_processes(stack: Stack) -> None:
    first, second = stack.api(login_failure_limit="4/15min"), stack.api(login_failure_limit="4/15min")
    async with (
        httpx.AsyncClient(base_url=first, timeout=30) as one,
        httpx.AsyncClient(base_url=second, timeout=30) as two,
    ):
        user = await register(one)
        wrong = {"email": user.email, "password": "not the password"}
        statuses = [
            (await (one if i % 2 else two).post("/api/v1/auth/login", json=wrong)).status_code for i in range(4)
        ]
        assert statuses == [401] * 4
        for client in (one, two):
            limited = await client.post("/api/v1/auth/login", json={"email": user.email, "password": user.password})
            assert limited.status_code == 429
            assert limited.json()["code"] == "too_many_requests"


async def test_a_burst_of_concurrent_guesses_cannot_pass_the_login_limit(stack: Stack) -> None:
    first, second = stack.api(login_failure_limit="4/15min"), stack.api(login_failure_limit="4/15min")
    async with (
        httpx.AsyncClient(base_url=first, timeout=30) as one,
        httpx.AsyncClient(base_url=second, timeout=30) as two,
    ):
        user = await register(one)
        guesses = (
            (one if n % 2 else two).post("/api/v1/auth/login", json={"email": user.email, "password": f"guess {n}"})
            for n in range(20)
        )
        statuses = [response.status_code for response in await asyncio.gather(*guesses)]
    assert sorted(statuses) == [401] * 4 + [429] * 16


async def _wait_until_gone(s3: S3ServerInfo, bucket: str, key: str, timeout: float = 30) -> None:
    client = s3.client()
    deadline = time.monotonic() + timeout
    while any(True for _ in await asyncio.to_thread(client.list_objects, bucket, prefix=key)):
        assert time.monotonic() < deadline, f"{key} still stored after {timeout} s"
        await asyncio.sleep(0.1)


async def test_an_ended_uploads_bytes_stay_reserved_on_s3_until_its_url_lapsed_and_its_key_was_cleared(
    tmp_path: Path, s3_server: S3ServerInfo
) -> None:
    """A presigned S3 URL cannot be revoked: what it stores after its upload ended is counted until it lapsed.
    (A size mismatch cannot be sent through it: S3 checks the signed Content-Length; the unit tests cover it.)"""
    async with production_stack(
        tmp_path,
        s3_server,
        maintenance_interval_seconds=0.5,
        quota_reconcile_interval_seconds=1,
        presign_expiry_seconds=3,
        reservation_ttl_seconds=3,
    ) as stack:
        stack.worker()
        async with httpx.AsyncClient(base_url=stack.api(), timeout=60) as client:
            user = await register(client)
            for trigger in ("cancel", "not_a_pdf", "score_deleted"):
                ticket = await end_upload(user, trigger, ODE)
                # A deleted score's file is removed in the background; till then the URL cannot replace it (412).
                await _wait_until_gone(s3_server, stack.env["SCOREMATE_S3_BUCKET"], ticket["s3_key"])
                late = await user.send_file(ticket, ODE)
                assert late.status_code == 200, (trigger, late.text)  # S3 still takes it ...
                assert (await user.quota())["reserved_bytes"] == len(ODE), trigger  # ... inside the quota
                await wait_for_reserved(user, 0, timeout=30)


async def test_the_library_life_cycle_across_two_api_processes_and_a_worker(stack: Stack) -> None:
    """Issue 20 on the stack: the worker's checksum, the duplicate refusal, trash and restore, and a deactivation
    made through one API process refusing the user's token on the other within the refresh interval."""
    base_url = stack.api(processes=2, account_status_refresh_seconds=1)
    stack.worker()
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        user = await register(client)
        score = await user.create_score(ODE, title="Ode")
        done = await user.wait_for_score(score["id"], thumbnail_ready=True)
        assert done["checksum_sha256"] == hashlib.sha256(ODE).hexdigest()

        body = {"filename": "again.pdf", "content_type": "application/pdf", "size_bytes": len(ODE)}
        refused = await user.post("/api/v1/files/upload-url", json={**body, "sha256": done["checksum_sha256"]})
        assert (refused.status_code, refused.json()["code"]) == (409, "duplicate_score")
        assert (refused.json()["score_id"], refused.json()["in_trash"]) == (score["id"], False)
        assert (await user.quota())["reserved_bytes"] == 0

        assert (await user.delete(f"/api/v1/scores/{score['id']}")).status_code == 204
        [trashed] = (await user.get("/api/v1/trash")).json()["items"]
        assert trashed["id"] == score["id"]
        assert (await user.get(f"/api/v1/scores/{score['id']}")).status_code == 404
        assert (await user.post(f"/api/v1/trash/{score['id']}/restore")).status_code == 200
        assert (await user.get(f"/api/v1/scores/{score['id']}")).status_code == 200

        admin = await register(client)
        async with _database(stack) as connection:
            await connection.execute("UPDATE users SET is_admin = true WHERE email = $1", admin.email)
        me = (await user.get("/api/v1/auth/me")).json()
        changed = await admin.patch(f"/api/v1/admin/users/{me['id']}", json={"is_active": False})
        assert (changed.status_code, changed.json()["is_active"]) == (200, False)
        # Requests land on either process; both refuse the old token within the refresh interval.
        deadline = time.monotonic() + 10
        while True:
            answers = {(await user.get("/api/v1/auth/me")).status_code for _ in range(6)}
            if answers == {401}:
                break
            assert time.monotonic() < deadline, answers
            await asyncio.sleep(0.2)
        login = await client.post("/api/v1/auth/login", json={"email": user.email, "password": user.password})
        assert (login.status_code, login.json()["code"]) == (401, "account_disabled")
