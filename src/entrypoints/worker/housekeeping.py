"""Housekeeping: each periodic task sent on its schedule, by one process per period."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from adapters.taskiq.names import TaskName
from adapters.taskiq.queue import TaskiqQueue
from entrypoints.settings import Settings

logger = logging.getLogger(__name__)

Claim = Callable[[str, float], Awaitable[bool]]


def housekeeping_schedule(settings: Settings) -> dict[TaskName, float]:
    """How often each housekeeping task runs, in seconds."""
    every = settings.maintenance_interval_seconds
    return {
        TaskName.EXPIRE_RESERVATIONS: every,
        TaskName.PURGE_UNUSED_UPLOADS: every,
        TaskName.CLEAR_ENDED_UPLOADS: every,
        TaskName.SWEEP_STUCK_SCORES: every,
        # Scores stored before checksums were kept: a batch per run until none is left (then one cheap query).
        TaskName.BACKFILL_CHECKSUMS: every,
        TaskName.PURGE_TRASH: every,
        # Cheap unless Redis lost its data: then no upload can be counted until the ledger is rebuilt.
        TaskName.REBUILD_LOST_QUOTA: every,
        # Reads every user's uploads: rarer, since it only repairs what a lost or failed ledger call left behind.
        TaskName.RECONCILE_QUOTA: settings.quota_reconcile_interval_seconds,
    }


class Housekeeping:
    """Sends each housekeeping task on its schedule until stopped; with `claim`, only the periods it grants
    (every worker offers, one per period sends). `after_tick` runs once per tick (the queue-depth gauge).
    """

    def __init__(
        self,
        queue: TaskiqQueue,
        schedule: Mapping[TaskName, float],
        claim: Claim | None = None,
        after_tick: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._queue = queue
        self._schedule = schedule
        self._claim = claim
        self._after_tick = after_tick

    async def run(self, stop: asyncio.Event) -> None:
        due = dict.fromkeys(self._schedule, 0.0)
        tick = min(self._schedule.values())
        while not stop.is_set():
            for name, every in self._schedule.items():
                if time.monotonic() >= due[name]:
                    due[name] = time.monotonic() + every
                    try:
                        if self._claim is None or await self._claim(name, every):
                            await self._queue.send(name)
                    except Exception:
                        logger.exception("could not send periodic task %s", name)
            if self._after_tick is not None:
                with contextlib.suppress(Exception):
                    await self._after_tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=tick)
