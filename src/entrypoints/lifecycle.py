"""What each kind of process does at start and at stop; every object it uses comes from the container."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from dishka import AsyncContainer
from taskiq import AsyncBroker

from application.maintenance import RebuildLostQuota, ReconcileQuota, ResumeUnfinishedWork
from application.ports import Database, PdfRenderer
from entrypoints.settings import Settings
from entrypoints.worker.housekeeping import Housekeeping

logger = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def api_process(settings: Settings, broker: AsyncBroker, container: AsyncContainer) -> AsyncIterator[None]:
    """Start what an API process owns; on the embedded default that includes tasks and housekeeping.

    Embedded (no Redis): the SQLite database is migrated, the render processes start, the quota ledger is
    counted from the database and what the in-memory queue lost with the last process is queued again.
    Production: only a ledger that Redis lost is rebuilt; the workers run tasks and housekeeping.
    """
    embedded = not settings.redis_url
    database = await container.get(Database)
    if settings.effective_database_url.startswith("sqlite"):
        await database.upgrade()
    try:
        await broker.startup()
    except Exception:
        if embedded:
            raise
        # The API still serves what needs no queue; /health/ready reports the queue until Redis answers.
        logger.exception("the task broker is unavailable at start")
    stop = asyncio.Event()
    housekeeping: asyncio.Task[None] | None = None
    if embedded:
        await container.get(PdfRenderer)  # starts the render processes now rather than for the first score
        async with container() as request:
            await (await request.get(ReconcileQuota))()
            await (await request.get(ResumeUnfinishedWork))()
        housekeeping = asyncio.create_task((await container.get(Housekeeping)).run(stop))
    else:
        try:
            async with container() as request:
                await (await request.get(RebuildLostQuota))()  # a new deployment, or Redis lost it
        except Exception:
            logger.exception("could not check the quota ledger at start; the workers' housekeeping will")
    # What start-up made lives as long as the process: kept out of the collector's full passes, which otherwise walk
    # it all and stall every request in flight (the p99 of a busy API process).
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        stop.set()
        if housekeeping is not None:
            await housekeeping
        await broker.shutdown()
        await container.close()
