"""The long-running processes: `scoremate worker` and the periodic scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from prometheus_client import start_http_server
from redis.asyncio import Redis
from taskiq import AsyncBroker
from taskiq.receiver import Receiver
from taskiq_redis import RedisStreamBroker

from adapters.prometheus.queue_depth import measure_stream
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
    """Receive and run tasks until SIGINT/SIGTERM; unfinished tasks stay unacknowledged for another worker."""
    broker, container = build_runtime(settings)
    broker.is_worker_process = True
    if settings.metrics_port:
        start_http_server(settings.metrics_port)
    stop = asyncio.Event()
    _stop_on_signals(stop)
    try:
        await container.get(PdfRenderer)  # starts the render processes now rather than for the first score
        with ThreadPoolExecutor(max_workers=2) as executor:
            receiver = Receiver(
                broker,
                executor=executor,
                max_async_tasks=settings.worker_concurrency,
                propagate_exceptions=False,
            )
            logger.info("worker listening (concurrency %d)", settings.worker_concurrency)
            await receiver.listen(stop)
    finally:
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
        # Reads every user's uploads: rarer, since it only repairs what a lost or failed ledger call left behind.
        TaskName.RECONCILE_QUOTA: settings.quota_reconcile_interval_seconds,
    }


async def kick_periodic_tasks(broker: AsyncBroker, schedule: Mapping[TaskName, float], stop: asyncio.Event) -> None:
    """Send each housekeeping task on its schedule until `stop` is set.

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
                    await queue.send(name)
                except Exception:
                    logger.exception("could not send periodic task %s", name)
        if isinstance(broker, RedisStreamBroker):
            with contextlib.suppress(Exception):
                async with Redis(connection_pool=broker.connection_pool) as redis:
                    await measure_stream(redis, broker.queue_name, broker.consumer_group_name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=tick)


async def run_scheduler(settings: Settings) -> None:
    """One scheduler for the whole deployment: it only sends messages, workers do the work."""
    broker, container = build_runtime(settings)
    if settings.metrics_port:
        start_http_server(settings.metrics_port)
    stop = asyncio.Event()
    _stop_on_signals(stop)
    await broker.startup()
    try:
        logger.info("scheduler sending housekeeping tasks every %.0f s", settings.maintenance_interval_seconds)
        await kick_periodic_tasks(broker, housekeeping_schedule(settings), stop)
    finally:
        await broker.shutdown()
        await container.close()
