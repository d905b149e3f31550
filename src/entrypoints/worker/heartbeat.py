"""A worker shows its event loop alive by touching a file; `scoremate worker-health` (compose's health check of a
worker container) reads its age. Kept apart from the worker so the check starts in a moment."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from entrypoints.settings import Settings

HEARTBEAT_SECONDS = 10.0
MAX_AGE_SECONDS = 60.0


def heartbeat_path(settings: Settings) -> Path:
    return settings.data_dir / "worker.heartbeat"


def heartbeat_age(settings: Settings) -> float | None:
    """Seconds since a worker with this data dir last showed its event loop alive; None if none runs."""
    try:
        return time.time() - heartbeat_path(settings).stat().st_mtime
    except FileNotFoundError:
        return None


async def beat(path: Path, stop: asyncio.Event) -> None:
    """Touch `path` every HEARTBEAT_SECONDS until `stop`, then remove it (a stopped worker is no live one)."""
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    while not stop.is_set():
        await asyncio.to_thread(path.touch)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), HEARTBEAT_SECONDS)
    await asyncio.to_thread(path.unlink, missing_ok=True)
