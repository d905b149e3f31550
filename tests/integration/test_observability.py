"""Logs an operator can follow and metrics Prometheus can scrape, from a real `scoremate serve`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.support import samples
from tests.integration.support.api import register
from tests.integration.support.server import TEST_SECRET, Server, serve

ODE = samples.ode()
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("observed"), log_format="json", default_quota_bytes=500_000) as running:
        yield running


def _log_entries(server: Server) -> list[dict[str, Any]]:
    entries = []
    for line in server.process.log_path.read_text().splitlines():
        if line.startswith("{"):
            entries.append(json.loads(line))
    return entries


async def test_request_ids_are_echoed_and_on_every_line_of_the_request(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        given = await client.get("/health", headers={"X-Request-ID": "trace-42"})
        made = await client.get("/api/v1/nothing", headers={"X-Request-ID": "bad id with spaces"})
    assert given.headers["x-request-id"] == "trace-42"
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 32
    access = await _access_lines_once_written(server, {"trace-42", made.headers["x-request-id"]})
    assert {"path": "/health", "status": 200, "request_id": "trace-42"}.items() <= next(
        e for e in access if e.get("request_id") == "trace-42"
    ).items()
    assert any(e["status"] == 404 and e["request_id"] == made.headers["x-request-id"] for e in access)


async def _access_lines_once_written(server: Server, request_ids: set[str]) -> list[dict[str, Any]]:
    """Access lines are written as responses complete, which the client may see first."""
    for _ in range(100):
        access = [e for e in _log_entries(server) if e["logger"] == "scoremate.access"]
        if request_ids <= {e.get("request_id") for e in access}:
            return access
        await asyncio.sleep(0.05)
    return access


async def test_task_lines_name_the_task_and_score_and_no_secret_is_ever_logged(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        user = await register(client, PASSWORD)
        score = await user.create_score(ODE, title="Ode")
        await user.wait_for_score(score["id"], thumbnail_ready=True)
        refused = await user.post(
            "/api/v1/files/upload-url",
            json={"filename": "big.pdf", "content_type": "application/pdf", "size_bytes": 1_000_000},
        )
        assert refused.status_code == 409
    entries = _log_entries(server)
    task_lines = [e for e in entries if e.get("score_id") == score["id"]]
    assert {e["task_name"] for e in task_lines} >= {"scoremate.process_pdf_info"}
    assert all(e.get("task_id") for e in task_lines)
    assert any(e["message"].startswith("task succeeded") for e in task_lines)
    assert not any(e["message"].startswith("Executing task") for e in entries)  # taskiq's duplicate of ours
    assert not any("color_message" in e for e in entries)

    text = server.process.log_path.read_text()
    assert "signature=" not in text
    assert PASSWORD not in text
    assert user.token not in text
    assert TEST_SECRET not in text


async def test_metrics_count_requests_tasks_and_reservations(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        user = await register(client)
        score = await user.create_score(ODE, title="Ode")
        await user.wait_for_score(score["id"], thumbnail_ready=True)
        metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    body = metrics.text
    assert 'scoremate_tasks_total{outcome="succeeded",task="scoremate.process_pdf_info"}' in body
    assert "scoremate_task_duration_seconds_bucket" in body
    assert 'scoremate_quota_reservations_total{result="granted"}' in body
    assert "scoremate_requests_total" in body
    assert 'path="/api/v1/scores/{score_id}"' in body  # grouped by route, not by id


async def test_metrics_need_the_metrics_token_once_one_is_set(tmp_path: Path) -> None:
    token = "scrape-" + "x" * 40
    with serve(tmp_path, metrics_token=token) as guarded:
        async with httpx.AsyncClient(base_url=guarded.base_url) as client:
            anonymous = await client.get("/metrics")
            wrong = await client.get("/metrics", headers={"Authorization": "Bearer scrape-wrong"})
            scraper = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
            health = await client.get("/health")
    for refused in (anonymous, wrong):
        assert (refused.status_code, refused.json()["code"]) == (401, "not_authenticated")
    assert scraper.status_code == 200
    assert "scoremate_requests_total" in scraper.text
    assert health.status_code == 200
    assert token not in guarded.process.log_path.read_text()
