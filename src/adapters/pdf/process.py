"""The renderer's handle on one worker process: start it, send it a job, await the reply, kill it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from .protocol import Frame, FrameBuffer, Header, ProtocolError, write_frame

_STARTUP_TIMEOUT_SECONDS = 60.0
# The directory holding the top-level packages, for workers started from an uninstalled checkout.
_SOURCE_ROOT = str(Path(__file__).resolve().parents[2])


class WorkerDied(Exception):
    """The process ended (crash, OOM kill, kill from outside) or garbled its reply."""


class WorkerTimeout(Exception):
    """The job ran past its timeout."""


class WorkerUnreachable(RuntimeError):
    """The job could not be sent: the worker had ended before it got it, so the job says nothing of the document."""


class WorkerStartFailed(RuntimeError):
    """A new worker did not report ready: the environment is broken, not the document."""


class WorkerProcess:
    """One long-lived worker; serves one job at a time. After a failed job its state is unknown: kill it.

    Start it on the thread that runs the event loop: Linux kills the worker when the thread that started it
    ends (see worker.die_with), so one started from a short-lived executor thread would die with that thread.
    """

    def __init__(self, memory_limit_bytes: int | None) -> None:
        command = [sys.executable, "-m", "adapters.pdf.worker", "--parent", str(os.getpid())]
        if memory_limit_bytes is not None:
            command += ["--memory-limit", str(memory_limit_bytes)]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_SOURCE_ROOT, env.get("PYTHONPATH")]))
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._requests = self._process.stdin.fileno()
        self._replies = self._process.stdout.fileno()
        os.set_blocking(self._replies, False)
        self._frames = FrameBuffer()
        self._ready = False
        self._pending: asyncio.Future[Frame] | None = None

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    async def call(self, request: Header, time_limits: Sequence[float], on_reply: Callable[[Frame], None]) -> None:
        """Send one job and hand each of its replies, one per time limit, to `on_reply` as it arrives.

        A reply's time limit counts from the reply before (the first: from once the worker is ready).
        """
        if not self._ready:
            try:
                await self._receive(_STARTUP_TIMEOUT_SECONDS)
            except (WorkerDied, WorkerTimeout) as exc:
                raise WorkerStartFailed("The PDF worker process did not start.") from exc
            self._ready = True
        try:
            write_frame(self._requests, request)
        except OSError as exc:
            raise WorkerUnreachable("The PDF worker process ended before it got the job.") from exc
        for time_limit in time_limits:
            on_reply(await self._receive(time_limit))

    async def _receive(self, time_limit: float) -> Frame:
        try:
            frame = self._frames.pop()  # replies can arrive together in one read
        except ProtocolError as exc:
            raise WorkerDied(str(exc)) from exc
        if frame is not None:
            return frame
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Frame] = loop.create_future()
        self._pending = reply

        def on_readable() -> None:
            try:
                chunk = os.read(self._replies, 1 << 16)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if reply.done():
                return
            if not chunk:
                reply.set_exception(WorkerDied())
                return
            self._frames.feed(chunk)
            try:
                frame = self._frames.pop()
            except ProtocolError as exc:
                reply.set_exception(WorkerDied(str(exc)))
                return
            if frame is not None:
                reply.set_result(frame)

        loop.add_reader(self._replies, on_readable)
        try:
            async with asyncio.timeout(time_limit):
                return await reply
        except TimeoutError:
            raise WorkerTimeout from None
        finally:
            self._pending = None
            loop.remove_reader(self._replies)

    def kill(self) -> None:
        """SIGKILL now and fail the job in flight; the exit is collected on a thread so no zombie is left."""
        if self.alive:
            self._process.kill()
        if self._pending is not None and not self._pending.done():
            self._pending.set_exception(WorkerDied())
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None:
                pipe.close()
        threading.Thread(target=self._process.wait, daemon=True).start()
