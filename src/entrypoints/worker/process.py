"""`scoremate worker`: receives and runs tasks, and takes turns with the other workers to send housekeeping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from prometheus_client import start_http_server
from redis.asyncio import Redis
from taskiq import AsyncBroker
from taskiq.receiver import Receiver
from taskiq_redis import RedisStreamBroker

from adapters.prometheus.queue_depth import measure_stream
from adapters.redis import RedisPeriodicClaims
from adapters.taskiq.names import TaskName
from adapters.taskiq.queue import TaskiqQueue
from application.ports import PdfRenderer
from entrypoints.settings import Settings
from entrypoints.worker.runtime import build_runtime

logger = logging.getLogger(__name__)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)


async def run_worker(settings: Settings) -> None:
    """Receive and run tasks until SIGINT/SIGTERM; unfinished tasks stay unacknowledged for another worker.

    Every worker also offers to send the housekeeping tasks; a claim in Redis lets one of them per period do it,
    so housekeeping goes on as long as any worker runs.
    """
    broker, container = build_runtime(settings)
    broker.is_worker_process = True
    if settings.metrics_port:
        start_http_server(settings.metrics_port)
    stop = asyncio.Event()
    _stop_on_signals(stop)
    housekeeping: asyncio.Task[None] | None = None
    try:
        await container.get(PdfRenderer)  # starts the render processes now rather than for the first score
        if not isinstance(broker, RedisStreamBroker):
            raise RuntimeError("scoremate worker needs the Redis broker (SCOREMATE_REDIS_URL)")
        await broker.startup()
        claims = RedisPeriodicClaims(Redis(connection_pool=broker.connection_pool), settings.redis_key_prefix)
        housekeeping = asyncio.create_task(
            kick_periodic_tasks(broker, housekeeping_schedule(settings), stop, claims.claim)
        )
        with ThreadPoolExecutor(max_workers=2) as executor:
            receiver = Receiver(
                broker,
                executor=executor,
                max_async_tasks=settings.worker_concurrency,
                propagate_exceptions=False,
                run_startup=False,
            )
            logger.info("worker listening (concurrency %d)", settings.worker_concurrency)
            await receiver.listen(stop)
    finally:
        stop.set()
        if housekeeping is not None:
            await housekeeping
        await broker.shutdown()
        await container.close()


def housekeeping_schedule(settings: Settings) -> dict[TaskName, float]:
    """How often each housekeeping task runs, in seconds."""
    every = settings.maintenance_interval_seconds
    return {
        TaskName.EXPIRE_RESERVATIONS: every,
        TaskName.PURGE_UNUSED_UPLOADS: every,
        TaskName.CLEAR_ENDED_UPLOADS: every,
        TaskName.SWEEP_STUCK_SCORES: every,
        # Cheap unless Redis lost its data: then no upload can be counted until the ledger is rebuilt.
        TaskName.REBUILD_LOST_QUOTA: every,
        # Reads every user's uploads: rarer, since it only repairs what a lost or failed ledger call left behind.
        TaskName.RECONCILE_QUOTA: settings.quota_reconcile_interval_seconds,
    }


async def kick_periodic_tasks(
    broker: AsyncBroker,
    schedule: Mapping[TaskName, float],
    stop: asyncio.Event,
    claim: Callable[[str, float], Awaitable[bool]] | None = None,
) -> None:
    """Send each housekeeping task on its schedule until `stop` is set; with `claim`, only periods it grants.

    With the Redis stream broker these messages also wake idle workers, which is when they reclaim the
    unacknowledged messages of a dead worker.
    """
    queue = TaskiqQueue(broker)
    due = dict.fromkeys(schedule, 0.0)
    tick = min(schedule.values())
    while not stop.is_set():
        for name, every in schedule.items():
            if time.monotonic() >= due[name]:
                due[name] = time.monotonic() + every
                try:
                    if claim is None or await claim(name, every):
                        await queue.send(name)
                except Exception:
                    logger.exception("could not send periodic task %s", name)
        if isinstance(broker, RedisStreamBroker):
            with contextlib.suppress(Exception):
                async with Redis(connection_pool=broker.connection_pool) as redis:
                    await measure_stream(redis, broker.queue_name, broker.consumer_group_name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=tick)
