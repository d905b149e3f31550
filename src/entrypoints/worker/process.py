"""`scoremate worker`: receives and runs tasks, and takes turns with the other workers to send housekeeping."""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor

from prometheus_client import start_http_server
from taskiq_redis import RedisStreamBroker

from adapters.taskiq.receiver import ReleasingReceiver
from application.ports import PdfRenderer
from entrypoints.ioc import make_runtime
from entrypoints.settings import Settings
from entrypoints.worker.heartbeat import beat, heartbeat_path
from entrypoints.worker.housekeeping import Housekeeping

logger = logging.getLogger(__name__)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)


async def run_worker(settings: Settings) -> None:
    """Receive and run tasks until SIGINT/SIGTERM, then finish those running and stop: the broker's heartbeat goes
    on until then, and what was received but not started goes to other workers at once.

    Every worker also offers to send the housekeeping tasks; a claim in Redis lets one of them per period do it,
    so housekeeping goes on as long as any worker runs.
    """
    if not settings.redis_url:
        raise RuntimeError("scoremate worker needs the Redis broker (SCOREMATE_REDIS_URL)")
    broker, container = make_runtime(settings)
    assert isinstance(broker, RedisStreamBroker)
    broker.is_worker_process = True
    if settings.metrics_port:
        start_http_server(settings.metrics_port)
    stop = asyncio.Event()
    _stop_on_signals(stop)
    housekeeping: asyncio.Task[None] | None = None
    heartbeat: asyncio.Task[None] | None = None
    try:
        await container.get(PdfRenderer)  # starts the render processes now rather than for the first score
        await broker.startup()
        heartbeat = asyncio.create_task(beat(heartbeat_path(settings), stop))  # connected, loop running
        housekeeping = asyncio.create_task((await container.get(Housekeeping)).run(stop))
        with ThreadPoolExecutor(max_workers=2) as executor:
            receiver = ReleasingReceiver(
                broker,
                executor=executor,
                max_async_tasks=settings.worker_concurrency,
                propagate_exceptions=False,
                run_startup=False,
            )
            # Its consumer name is the one other workers' logs give when they take over its tasks.
            logger.info("worker listening as %s (concurrency %d)", broker.consumer_name, settings.worker_concurrency)
            await receiver.listen(stop)
    finally:
        stop.set()
        if housekeeping is not None:
            await housekeeping
        if heartbeat is not None:
            await heartbeat
        await broker.shutdown()
        await container.close()
