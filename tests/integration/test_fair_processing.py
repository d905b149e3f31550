"""One user flooding the render processes cannot keep another's new score waiting (issue 18): the target is a
cover within 15 s while the flood runs, on the embedded default and on the production stack."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.integration.support import samples
from tests.integration.support.api import User, register
from tests.integration.support.stack import embedded_or_stack

COVER_WITHIN_SECONDS = 15
FLOOD_COVERS, FLOOD_REFRESHES = 60, 20


@pytest.fixture(params=["embedded", "stack"])
async def base_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    # Every slow render runs into the default limit of 10 s, so each holds a render process that long.
    async with embedded_or_stack(request.param, tmp_path, request) as url:
        yield url


async def _flood(flooder: User, score_id: str) -> Counter[int]:
    """Every cover request and info refresh at once, as a script would send them."""
    covers = [
        flooder.post(f"/api/v1/scores/{score_id}/regenerate_thumbnail", json={"page": 1}) for _ in range(FLOOD_COVERS)
    ]
    refreshes = [flooder.post(f"/api/v1/scores/{score_id}/refresh_info") for _ in range(FLOOD_REFRESHES)]
    responses = await asyncio.gather(*covers, *refreshes)
    return Counter(response.status_code for response in responses)


async def test_a_flood_of_actions_on_a_slow_page_leaves_another_users_cover_within_15_s(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        flooder = await register(client)
        slow = await flooder.create_score(samples.slow_page(), title="Slow")
        answers = await _flood(flooder, slow["id"])
        # The per-user limit of score actions (30 a minute) answers the rest 429; nothing fails.
        assert set(answers) == {202, 429}, answers
        assert answers[202] == 30, answers

        musician = await register(client)
        score = await musician.create_score(samples.ode(), title="Ode")
        cover = await musician.wait_for_score(score["id"], timeout=COVER_WITHIN_SECONDS, thumbnail_ready=True)
        assert (cover["processing_status"], cover["page_count"]) == ("ready", 1)
        assert (await musician.download(score["id"], "thumbnail")).content[:3] == b"\xff\xd8\xff"
