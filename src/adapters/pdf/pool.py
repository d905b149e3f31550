"""A fixed set of long-lived worker processes, each serving one job at a time, replaced when a job goes wrong.

A free process goes to the waiting job of the most urgent priority, and among those to each owner in turn
(FairScheduler), so one owner's many jobs cannot hold every process while another owner waits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable, Sequence

from .process import WorkerDied, WorkerProcess, WorkerStartFailed, WorkerTimeout, WorkerUnreachable
from .protocol import Frame, Header
from .scheduler import FairScheduler

logger = logging.getLogger(__name__)

_STOPPED: dict[type[BaseException], str] = {
    WorkerTimeout: "it ran past its time limit",
    WorkerDied: "it died",
    WorkerStartFailed: "it did not start",
    WorkerUnreachable: "it had ended before it got a job",
    asyncio.CancelledError: "its job was cancelled",
}


class WorkerPool:
    def __init__(self, size: int, memory_limit_bytes: int | None) -> None:
        if size < 1:
            raise ValueError("A worker pool needs at least one process.")
        self.size = size
        self._memory_limit_bytes = memory_limit_bytes
        self._workers: list[WorkerProcess | None] = [None] * size
        self._scheduler = FairScheduler(size)
        self._closed = False

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers started so far (they start on first use)."""
        return [worker.pid for worker in self._workers if worker is not None and worker.alive]

    async def call(
        self,
        request: Header,
        time_limits: Sequence[float],
        on_reply: Callable[[Frame], None],
        *,
        owner: Hashable = None,
        priority: int = 0,
    ) -> None:
        """Run one job on the next free worker (see WorkerPool and WorkerProcess.call): lower `priority` numbers
        first, owners in turn.

        Raises WorkerTimeout, WorkerDied or WorkerUnreachable after replacing the worker.
        """
        slot = await self._scheduler.acquire(owner, priority)
        try:
            await self._call_in(slot, request, time_limits, on_reply)
        finally:
            self._scheduler.release(slot)

    async def _call_in(
        self, slot: int, request: Header, time_limits: Sequence[float], on_reply: Callable[[Frame], None]
    ) -> None:
        self._raise_if_closed()
        worker = self._started(slot)
        try:
            await worker.call(request, time_limits, on_reply)
        except BaseException as exc:
            # Timed out, died, or the caller was cancelled mid-job: what the worker does next is unknown.
            worker.kill()
            logger.warning("PDF worker process %d stopped: %s", worker.pid, _STOPPED.get(type(exc), type(exc).__name__))
            if self._closed:
                self._workers[slot] = None
                if isinstance(exc, Exception):
                    raise RuntimeError("The PDF renderer is closed.") from exc
                raise
            restart = not isinstance(exc, WorkerStartFailed)
            self._workers[slot] = WorkerProcess(self._memory_limit_bytes) if restart else None
            raise

    def start(self) -> None:
        """Start every worker process now instead of on first use; they load PyMuPDF while the caller goes on."""
        self._raise_if_closed()
        for slot in range(self.size):
            self._started(slot)

    def _started(self, slot: int) -> WorkerProcess:
        worker = self._workers[slot]
        if worker is None or not worker.alive:
            if worker is not None:
                worker.kill()
            worker = self._workers[slot] = WorkerProcess(self._memory_limit_bytes)
        return worker

    def _raise_if_closed(self) -> None:
        if self._closed:
            raise RuntimeError("The PDF renderer is closed.")

    def close(self) -> None:
        """Kill every worker; jobs in flight fail with RuntimeError."""
        self._closed = True
        for slot, worker in enumerate(self._workers):
            if worker is not None:
                worker.kill()
            self._workers[slot] = None
