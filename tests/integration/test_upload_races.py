"""Confirm or create-score racing cancel on the same upload ends in a contract answer, never a 5xx (issue 18), and
counts the upload's bytes once whichever wins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.support import samples
from tests.integration.support.api import User, register
from tests.integration.support.stack import embedded_or_stack

ROUNDS = 12
PDF = samples.ode()


@pytest.fixture(params=["embedded", "stack"])
async def base_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    # Two API processes on the stack, so that the two calls of a round can meet in different processes.
    async with embedded_or_stack(request.param, tmp_path, request, api_processes=2) as url:
        yield url


async def _race(user: User, winner_path: str, body: dict[str, Any]) -> tuple[httpx.Response, httpx.Response]:
    ticket = await user.upload(PDF)
    cancel = user.post("/api/v1/files/upload-cancel", json={"upload_id": ticket["upload_id"]})
    other = user.post(winner_path, json={"upload_id": ticket["upload_id"], **body})
    cancelled, answered = await asyncio.gather(cancel, other)
    return cancelled, answered


@pytest.mark.parametrize(
    ("path", "body", "success"),
    [("/api/v1/files/upload-confirm", {}, 200), ("/api/v1/scores", {"title": "Race"}, 201)],
    ids=["confirm", "create-score"],
)
async def test_confirm_or_create_racing_cancel_ends_in_a_contract_answer(
    base_url: str, path: str, body: dict[str, Any], success: int
) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        user = await register(client)
        outcomes = []
        for _ in range(ROUNDS):
            cancelled, answered = await _race(user, path, body)
            pair = (cancelled.status_code, answered.status_code)
            # Cancel first: the other call finds no upload. The other first: cancel finds it confirmed.
            assert pair in {(200, 404), (409, success)}, (cancelled.text, answered.text)
            if answered.status_code == 404:
                assert answered.json()["code"] == "upload_not_found"
            else:
                assert cancelled.json()["code"] == "already_confirmed"
            outcomes.append(pair)
        scores = (await user.get("/api/v1/scores", params={"limit": 100})).json()
        kept = sum(1 for _, status in outcomes if status == success)
        quota = await user.quota()
    assert quota["used_bytes"] == kept * len(PDF)
    if path == "/api/v1/scores":
        assert scores["total"] == kept
