"""Every shared corpus file through the real upload flow and task path, on both deployments: `scoremate serve`
embedded (SQLite, local storage, tasks in-process), and production (an API and a `scoremate worker` on Postgres,
Redis and S3)."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from domain.pdf import PdfErrorKind
from entrypoints.settings import Settings
from tests.integration.support import samples
from tests.integration.support.api import User, corpus_file, register
from tests.integration.support.seaweed import S3ServerInfo
from tests.integration.support.server import CORPUS, RunningProcess, peak_rss_mb, render_processes, serve
from tests.integration.support.stack import production_stack

MANIFEST: list[dict[str, Any]] = json.loads((CORPUS / "manifest.json").read_text())["files"]
REJECTED_AT_CONFIRM = {"not_pdf"}  # bytes without a PDF signature never become a score
KIND_ALIASES = {"empty_file": PdfErrorKind.EMPTY.value}  # the manifest's names that differ from ours


@dataclass
class Deployment:
    base_url: str
    processes: list[RunningProcess]  # every scoremate process of it
    renderer: RunningProcess  # the one whose render processes make the thumbnails


@pytest.fixture(scope="module", params=["embedded", "production"])
async def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, s3_server: S3ServerInfo
) -> AsyncIterator[Deployment]:
    directory = tmp_path_factory.mktemp(f"corpus-{request.param}")
    quota = {"default_quota_bytes": 200 * 1024**2}
    if request.param == "embedded":
        with serve(directory, **quota) as server:
            yield Deployment(server.base_url, [server.process], server.process)
        return
    async with production_stack(directory, s3_server, **quota) as stack:
        worker = stack.worker()
        base_url = stack.api()
        yield Deployment(base_url, list(stack.processes), worker)


@pytest.fixture(scope="module")
async def musician(deployment: Deployment) -> AsyncIterator[User]:
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=60) as client:
        yield await register(client)


def _fits(size: tuple[int, int], expected: list[int], tolerance: int) -> bool:
    return abs(size[0] - expected[0]) <= tolerance and abs(size[1] - expected[1]) <= tolerance


@pytest.mark.parametrize("entry", [e for e in MANIFEST if e["expected"]["outcome"] == "ok"], ids=lambda e: e["file"])
async def test_real_scores_get_page_count_title_and_a_fitted_jpeg_cover(musician: User, entry: dict[str, Any]) -> None:
    expected = entry["expected"]
    created = await musician.create_score(corpus_file(entry["file"]), title="My copy")
    score = await musician.wait_for_score(created["id"], timeout=90)

    assert score["processing_status"] == "ready", score
    assert score["page_count"] == expected["page_count"]
    assert score["pdf_metadata"]["title"] == expected["title"]
    assert score["pdf_metadata"]["author"] == expected["author"]
    assert score["title"] == "My copy"  # the user's title is never replaced by metadata
    if expected["author"]:
        assert score["composer"] == expected["author"]  # prefilled because the user left it empty

    if not score["thumbnail_ready"]:
        assert "thumbnail_failed_timeout" in expected.get("also_acceptable", []), score
        assert score["processing_error"], score
        return
    thumbnail = await musician.download(score["id"], "thumbnail")
    assert thumbnail.status_code == 200
    image = Image.open(io.BytesIO(thumbnail.content))
    assert image.format == "JPEG"
    assert _fits(image.size, expected["thumbnail_page1_px"], expected["thumbnail_px_tolerance"])


@pytest.mark.parametrize(
    "entry",
    [e for e in MANIFEST if e["expected"]["outcome"] == "ok" and e["facts"].get("thumb_px_first_pages")],
    ids=lambda e: e["file"],
)
async def test_every_page_gets_its_own_fitted_thumbnail(musician: User, entry: dict[str, Any]) -> None:
    expected, sizes = entry["expected"], entry["facts"]["thumb_px_first_pages"]
    created = await musician.create_score(corpus_file(entry["file"]), title="All pages")
    processed = await musician.wait_for_score(created["id"], timeout=90)
    if not processed["thumbnail_ready"]:  # its first page cannot be rendered in time, which the manifest allows
        assert "thumbnail_failed_timeout" in expected.get("also_acceptable", []), processed
        return
    accepted = await musician.post(f"/api/v1/scores/{created['id']}/generate_all_thumbnails")
    assert accepted.status_code == 202, accepted.text
    thumbnails = min(expected["page_count"], Settings().max_page_thumbnails)  # a longer file stops at the cap
    score = await musician.wait_for_score(created["id"], timeout=120, page_thumbnails_ready=thumbnails)
    assert score["processing_status"] == "ready", score

    for page, size in enumerate(sizes, start=1):
        response = await musician.download(score["id"], "page_thumbnail", page=page)
        assert response.status_code == 200, response.text
        image = Image.open(io.BytesIO(response.content))
        assert image.format == "JPEG"
        assert _fits(image.size, size, expected["thumbnail_px_tolerance"]), (page, image.size)


@pytest.mark.parametrize("entry", [e for e in MANIFEST if e["expected"]["outcome"] == "error"], ids=lambda e: e["file"])
async def test_bad_files_fail_with_their_kind_and_a_clear_reason(musician: User, entry: dict[str, Any]) -> None:
    expected = entry["expected"]
    kinds = {expected["error_kind"], *expected.get("also_acceptable", [])}
    data = corpus_file(entry["file"])
    before = await musician.quota()

    if not data:
        response = await musician.post(
            "/api/v1/files/upload-url",
            json={"filename": entry["file"], "content_type": "application/pdf", "size_bytes": 0},
        )
        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"
        return

    ticket = await musician.upload(data, entry["file"])
    response = await musician.post("/api/v1/scores", json={"upload_id": ticket["upload_id"], "title": "Bad"})
    if kinds & REJECTED_AT_CONFIRM and response.status_code == 400:
        assert response.json()["code"] == "not_a_pdf"
        # Nothing used; the bytes stay reserved while the upload URL could still store a file (issue 18).
        after = await musician.quota()
        assert after["used_bytes"] == before["used_bytes"]
        assert after["reserved_bytes"] == before["reserved_bytes"] + len(data)
        return

    assert response.status_code == 201, response.text
    score = await musician.wait_for_score(response.json()["id"])
    assert score["processing_status"] == "failed"
    codes = {KIND_ALIASES.get(kind, kind) for kind in kinds}
    assert score["processing_error_code"] in codes, score
    assert score["processing_error"] == PdfErrorKind(score["processing_error_code"]).sentence
    assert score["thumbnail_ready"] is False
    quota = await musician.quota()
    assert quota["used_bytes"] == before["used_bytes"] + len(data)  # counted once, as the stored file
    assert quota["reserved_bytes"] == before["reserved_bytes"]

    # Reading it again starts over (pending at once: tests/unit) and ends the same way.
    assert (await musician.post(f"/api/v1/scores/{score['id']}/refresh_info")).status_code == 202
    for _ in range(100):
        again = await musician.wait_for_score(score["id"])
        if again["updated_at"] != score["updated_at"]:
            break
        await asyncio.sleep(0.1)
    assert (again["processing_status"], again["processing_error_code"]) == ("failed", score["processing_error_code"])
    assert again["updated_at"] > score["updated_at"]


async def test_all_page_thumbnails_of_mixed_sizes_are_each_fitted_to_their_page(musician: User) -> None:
    created = await musician.create_score(samples.mixed_sizes(), title="Mixed")
    await musician.wait_for_score(created["id"])
    accepted = await musician.post(f"/api/v1/scores/{created['id']}/generate_all_thumbnails")
    assert accepted.status_code == 202
    assert accepted.json()["task_id"]
    score = await musician.wait_for_score(created["id"], page_thumbnails_ready=4)

    sizes = []
    for page in range(1, score["page_count"] + 1):
        response = await musician.download(score["id"], "page_thumbnail", page=page)
        assert response.status_code == 200
        sizes.append(Image.open(io.BytesIO(response.content)).size)
    # A4 portrait, Letter landscape, A5 portrait, A3 portrait.
    assert _fits(sizes[0], [283, 400], 1)
    assert _fits(sizes[1], [300, 232], 1)
    assert _fits(sizes[2], [282, 400], 1)
    assert _fits(sizes[3], [283, 400], 1)


async def test_the_render_limits_are_the_operators_to_set(tmp_path: Path) -> None:
    with serve(tmp_path, render_max_page_points=1000) as limited:
        async with httpx.AsyncClient(base_url=limited.base_url, timeout=60) as client:
            musician = await register(client)
            huge = await musician.create_score(samples.huge_first_page(), title="Huge")
            score = await musician.wait_for_score(huge["id"])
    # The page count and metadata still come through; only the oversized cover is refused.
    assert score["processing_status"] == "ready"
    assert score["page_count"] == 2
    assert score["thumbnail_ready"] is False
    assert score["processing_error_code"] == "render_limit"


async def test_all_page_thumbnails_stop_at_the_time_limit_and_go_on_when_asked_again(tmp_path: Path) -> None:
    with serve(tmp_path, page_thumbnails_seconds=0.1) as hasty:
        async with httpx.AsyncClient(base_url=hasty.base_url, timeout=60) as client:
            musician = await register(client)
            created = await musician.create_score(samples.tiny_pages(), title="2000 blank pages")
            await musician.wait_for_score(created["id"])
            url = f"/api/v1/scores/{created['id']}/generate_all_thumbnails"

            assert (await musician.post(url)).status_code == 202
            first = await musician.wait_for_score(created["id"], processing_error_code="time_limit")
            assert 0 < first["page_thumbnails_ready"] < 2000
            assert first["processing_error"].startswith(f"Thumbnails stopped after {first['page_thumbnails_ready']} ")

            assert (await musician.post(url)).status_code == 202
            second = await _stopped_again(musician, created["id"], after=first["page_thumbnails_ready"])
            last = await musician.download(created["id"], "page_thumbnail", page=second["page_thumbnails_ready"])
            assert last.status_code == 200


async def _stopped_again(musician: User, score_id: str, after: int) -> dict[str, Any]:
    """The score once a later run went on past `after` pages and stopped at its time limit too."""
    for _ in range(600):
        score: dict[str, Any] = (await musician.get(f"/api/v1/scores/{score_id}")).json()
        ready = score["page_thumbnails_ready"]
        if ready > after and score["processing_error"].startswith(f"Thumbnails stopped after {ready} "):
            return score
        await asyncio.sleep(0.1)
    raise AssertionError(f"no second run stopped after more than {after} pages: {score}")


def test_corpus_is_present() -> None:
    assert Path(CORPUS, "manifest.json").is_file(), f"the shared corpus is missing at {CORPUS}"


def test_every_process_and_its_render_processes_stay_under_300_mb(deployment: Deployment) -> None:
    """Last in this module: by now every corpus file went through these processes, every page of the readable ones.

    They stream uploads and scratch copies instead of holding files; a render process replaced after a timeout
    (the bomb) starts its count again.
    """
    renderers = render_processes(deployment.renderer)
    assert len(renderers) == 2
    peaks = {pid: peak_rss_mb(pid) for pid in [*(p.process.pid for p in deployment.processes), *renderers]}
    assert max(peaks.values()) < 300, peaks
