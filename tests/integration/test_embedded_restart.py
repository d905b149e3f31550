"""The embedded default keeps its task queue in memory: a server killed mid-processing loses it, and the next start
on the same data dir queues the unfinished work again, so no score stays `processing`."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx

from tests.integration.support import samples
from tests.integration.support.api import register
from tests.integration.support.server import serve


async def test_a_server_killed_mid_processing_finishes_the_score_after_a_restart(tmp_path: Path) -> None:
    slow = {"render_timeout_seconds": 300}  # the cover takes some seconds: time to kill the server mid-render
    with serve(tmp_path, **slow) as first:
        async with httpx.AsyncClient(base_url=first.base_url, timeout=30) as client:
            musician = await register(client)
            created = await musician.create_score(samples.slow_page(images=6), title="Slow")
            deadline = time.monotonic() + 60
            while True:
                score = (await musician.get(f"/api/v1/scores/{created['id']}")).json()
                if (score["processing_status"], score["page_count"]) == ("processing", 1):
                    break  # read, and rendering its cover
                assert time.monotonic() < deadline, f"processing did not reach the cover: {score}"
                await asyncio.sleep(0.05)
        os.killpg(first.process.process.pid, signal.SIGKILL)  # the server and its render processes, as an OOM kill
        first.process.process.wait(10)

    with serve(tmp_path, **slow) as second:
        async with httpx.AsyncClient(base_url=second.base_url, timeout=30) as client:
            musician.client = client
            done = await musician.wait_for_score(created["id"], timeout=120)
            library = (await musician.get("/api/v1/scores")).json()
    assert (done["processing_status"], done["page_count"], done["thumbnail_ready"]) == ("ready", 1, True)
    assert done["processing_error"] is None
    assert [s["processing_status"] for s in library["items"]] == ["ready"]
