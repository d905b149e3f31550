"""PymupdfRenderer against the shared corpus of real and hostile PDFs, plus its worker-process failure modes."""

# PyMuPDF ships py.typed but leaves much of its API unannotated.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pymupdf
import pytest
import pytest_asyncio
from PIL import Image

from adapters.pdf import PymupdfRenderer
from adapters.pdf.process import WorkerProcess, WorkerUnreachable
from adapters.pdf.protocol import encode_frame
from domain.pdf import PdfError, PdfErrorKind
from tests.integration.support import samples
from tests.integration.support.samples import SampleFiles
from tests.integration.support.server import CORPUS, peak_rss_mb

# The manifest's names that differ from PdfErrorKind values.
KIND_ALIASES = {"empty_file": PdfErrorKind.EMPTY.value}


def _manifest() -> list[dict[str, Any]]:
    manifest = CORPUS / "manifest.json"
    if not manifest.is_file():
        return []
    entries: list[dict[str, Any]] = json.loads(manifest.read_text())["files"]
    return entries


ENTRIES = _manifest()
OK = [entry for entry in ENTRIES if entry["expected"]["outcome"] == "ok"]
BAD = [entry for entry in ENTRIES if entry["expected"]["outcome"] == "error"]


def _name(entry: dict[str, Any]) -> str:
    return str(entry["file"])


def _accepted_kinds(expected: dict[str, Any]) -> set[str]:
    kinds = [expected.get("error_kind"), *expected.get("also_acceptable", [])]
    return {KIND_ALIASES.get(kind, kind) for kind in kinds if kind}


def _jpeg_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        return image.size


def _assert_size(data: bytes, expected: list[int], tolerance: int = 1) -> None:
    width, height = _jpeg_size(data)
    assert abs(width - expected[0]) <= tolerance, (width, height, expected)
    assert abs(height - expected[1]) <= tolerance, (width, height, expected)


def _is_running(pid: int) -> bool:
    """A killed worker stays a zombie until its parent (this process) collects it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in {"Z", "X"}


async def _wait_until_gone(pid: int) -> None:
    for _ in range(200):
        if not _is_running(pid):
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"worker {pid} did not die")


@pytest.fixture(scope="session", autouse=True)
def corpus() -> Path:
    if not (CORPUS / "manifest.json").is_file():
        pytest.fail(f"The shared PDF corpus is missing: expected {CORPUS}/manifest.json beside the repository.")
    return CORPUS


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def renderer() -> AsyncIterator[PymupdfRenderer]:
    async with PymupdfRenderer() as shared:
        yield shared


@pytest_asyncio.fixture(loop_scope="session")
async def single() -> AsyncIterator[PymupdfRenderer]:
    """A fresh one-process renderer, so tests can tell which worker does the job."""
    async with PymupdfRenderer(processes=1) as fresh:
        yield fresh


def test_corpus_is_complete() -> None:
    assert OK and BAD
    assert all((CORPUS / entry["file"]).is_file() for entry in ENTRIES)


# --- the corpus --------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", OK, ids=_name)
async def test_inspect_reads_page_count_and_title(renderer: PymupdfRenderer, entry: dict[str, Any]) -> None:
    info = await renderer.inspect(CORPUS / entry["file"])

    assert info.page_count == entry["expected"]["page_count"]
    assert info.metadata.title == entry["expected"]["title"]
    assert info.metadata.author == entry["expected"]["author"]


@pytest.mark.parametrize("entry", BAD, ids=_name)
async def test_inspect_rejects_bad_files_with_their_kind(renderer: PymupdfRenderer, entry: dict[str, Any]) -> None:
    with pytest.raises(PdfError) as raised:
        await renderer.inspect(CORPUS / entry["file"])

    assert raised.value.kind.value in _accepted_kinds(entry["expected"])
    assert str(raised.value)


@pytest.mark.parametrize("entry", BAD, ids=_name)
async def test_render_rejects_bad_files_with_their_kind(renderer: PymupdfRenderer, entry: dict[str, Any]) -> None:
    with pytest.raises(PdfError) as raised:
        await renderer.render_thumbnail(CORPUS / entry["file"], 1)

    assert raised.value.kind.value in _accepted_kinds(entry["expected"])


@pytest.mark.parametrize("entry", OK, ids=_name)
async def test_page1_thumbnail_is_a_fitted_jpeg(renderer: PymupdfRenderer, entry: dict[str, Any]) -> None:
    expected = entry["expected"]

    jpeg = await renderer.render_thumbnail(CORPUS / entry["file"], 1)

    _assert_size(jpeg, expected["thumbnail_page1_px"], expected["thumbnail_px_tolerance"])


@pytest.mark.parametrize("entry", OK, ids=_name)
async def test_each_page_is_fitted_on_its_own(renderer: PymupdfRenderer, entry: dict[str, Any]) -> None:
    sizes = entry["facts"]["thumb_px_first_pages"]

    thumbnails = await renderer.render_thumbnails(CORPUS / entry["file"], range(1, len(sizes) + 1))

    assert list(thumbnails) == list(range(1, len(sizes) + 1))
    for page, size in enumerate(sizes, start=1):
        result = thumbnails[page]
        assert isinstance(result, bytes), result
        _assert_size(result, size)


async def test_colour_survives_and_colourless_pages_become_grey_jpegs(
    renderer: PymupdfRenderer, tmp_path: Path
) -> None:
    document = pymupdf.open()
    document.new_page().draw_rect(pymupdf.Rect(0, 0, 595, 842), color=(1, 0, 0), fill=(1, 0, 0))
    document.new_page().draw_rect(pymupdf.Rect(0, 0, 595, 842), color=(0, 0, 0), fill=(0.5, 0.5, 0.5))
    document.save(tmp_path / "colours.pdf")

    red, grey = (await renderer.render_thumbnails(tmp_path / "colours.pdf", [1, 2])).values()

    assert isinstance(red, bytes) and isinstance(grey, bytes)
    with Image.open(io.BytesIO(red)) as image:
        assert image.mode == "RGB"
        r, g, b = image.getpixel((image.width // 2, image.height // 2))  # type: ignore[misc]
        assert r > 200 and g < 60 and b < 60
    with Image.open(io.BytesIO(grey)) as image:
        assert image.mode == "L"
        assert abs(image.getpixel((image.width // 2, image.height // 2)) - 128) < 8  # type: ignore[operator]


# --- the protocol's details ---------------------------------------------------------------------


async def test_render_thumbnails_returns_every_page_of_the_8_page_file(
    renderer: PymupdfRenderer, sample_files: SampleFiles
) -> None:
    thumbnails = await renderer.render_thumbnails(sample_files(samples.etude), [3, *range(1, 9), 3])

    assert sorted(thumbnails) == list(range(1, 9))
    for jpeg in thumbnails.values():
        assert isinstance(jpeg, bytes)
        _assert_size(jpeg, [283, 400])


async def test_render_thumbnails_reports_a_missing_page_without_losing_the_others(
    renderer: PymupdfRenderer, sample_files: SampleFiles
) -> None:
    thumbnails = await renderer.render_thumbnails(sample_files(samples.mixed_sizes), [1, 4, 5])

    assert isinstance(thumbnails[1], bytes)
    assert isinstance(thumbnails[4], bytes)
    assert isinstance(thumbnails[5], ValueError)


@pytest.mark.parametrize("page", [0, -1, 2])
async def test_a_page_outside_the_document_is_a_value_error(
    renderer: PymupdfRenderer, page: int, sample_files: SampleFiles
) -> None:
    with pytest.raises(ValueError, match=r"[Pp]age"):
        await renderer.render_thumbnail(sample_files(samples.ode), page)


async def test_a_missing_file_is_an_os_error(renderer: PymupdfRenderer, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        await renderer.inspect(tmp_path / "gone.pdf")


def _generated_pdf(path: Path, metadata: dict[str, str], **save_options: Any) -> Path:
    document = pymupdf.open()
    document.new_page(width=200, height=300)
    document.set_metadata(metadata)
    document.save(path, **save_options)
    return path


async def test_metadata_is_unicode_with_iso_dates_and_no_empty_strings(
    renderer: PymupdfRenderer, tmp_path: Path
) -> None:
    path = _generated_pdf(
        tmp_path / "meta.pdf",
        {
            "title": "Études für Klavier — 第1番 🎵",
            "author": "   ",
            "keywords": "piano; etude",
            "creationDate": "D:20240101120000+01'00'",
            "modDate": "D:2024garbage",
        },
    )

    metadata = (await renderer.inspect(path)).metadata

    assert metadata.title == "Études für Klavier — 第1番 🎵"
    assert metadata.author is None
    assert metadata.subject is None
    assert metadata.keywords == "piano; etude"
    assert metadata.creation_date == "2024-01-01T11:00:00+00:00"
    assert metadata.modification_date is None


async def test_owner_password_only_files_are_processed(renderer: PymupdfRenderer, tmp_path: Path) -> None:
    path = _generated_pdf(
        tmp_path / "owner.pdf",
        {"title": "Locked for editing"},
        encryption=pymupdf.mupdf.PDF_ENCRYPT_AES_256,
        owner_pw="owner",
        user_pw="",
        permissions=pymupdf.mupdf.PDF_PERM_PRINT,
    )

    info = await renderer.inspect(path)
    jpeg = await renderer.render_thumbnail(path, 1)

    assert (info.page_count, info.metadata.title) == (1, "Locked for editing")
    _assert_size(jpeg, [267, 400])


async def test_concurrent_callers_each_get_their_own_answer(renderer: PymupdfRenderer) -> None:
    files = [entry["file"] for entry in OK]

    infos = await asyncio.gather(*(renderer.inspect(CORPUS / name) for name in files))

    assert [info.page_count for info in infos] == [entry["expected"]["page_count"] for entry in OK]


# --- limits and worker failures ---------------------------------------------------------------


async def test_a_page_larger_than_the_limit_is_refused_before_rendering(sample_files: SampleFiles) -> None:
    async with PymupdfRenderer(processes=1, max_page_points=1000) as limited:
        with pytest.raises(PdfError) as raised:
            await limited.render_thumbnail(sample_files(samples.huge_first_page), 1)
        assert raised.value.kind is PdfErrorKind.RENDER_LIMIT
        _assert_size(await limited.render_thumbnail(sample_files(samples.huge_first_page), 2), [283, 400])


async def test_pages_far_larger_than_pdf_allows_get_fitted_thumbnails_by_default(
    renderer: PymupdfRenderer, tmp_path: Path
) -> None:
    document = pymupdf.open()
    for width, height in ((100_000, 100_000), (14_400, 10_000)):
        page = document.new_page(width=width, height=height)
        page.draw_rect(pymupdf.Rect(0, 0, width / 2, height / 2), color=(0, 0, 0), fill=(0, 0, 0))
    document.xref_set_key(document.page_xref(1), "UserUnit", "10")  # 144,000 x 100,000 pt as displayed
    path = tmp_path / "enormous.pdf"
    document.save(path)
    document.close()

    covers = await renderer.render_thumbnails(path, [1, 2])

    _assert_size(covers[1], [300, 300])
    _assert_size(covers[2], [300, 208])


async def test_the_pixel_cap_is_enforced(sample_files: SampleFiles) -> None:
    async with PymupdfRenderer(processes=1, max_output_pixels=100 * 100) as limited:
        with pytest.raises(PdfError) as raised:
            await limited.render_thumbnail(sample_files(samples.ode), 1)
        assert raised.value.kind is PdfErrorKind.RENDER_LIMIT


async def test_a_worker_out_of_memory_fails_the_page_and_keeps_serving(sample_files: SampleFiles) -> None:
    # Page 4 of the essay holds images MuPDF wants ~80 MB for; the worker's baseline address space is ~100 MB.
    async with PymupdfRenderer(processes=1, memory_limit_bytes=140 << 20) as starved:
        with pytest.raises(PdfError) as raised:
            await starved.render_thumbnail(sample_files(samples.big_indexed_image), 1)
        assert raised.value.kind is PdfErrorKind.RENDER_LIMIT
        _assert_size(await starved.render_thumbnail(sample_files(samples.ode), 1), [283, 400])


async def test_by_default_a_page_that_needs_too_much_memory_fails_under_300_mb(
    single: PymupdfRenderer, sample_files: SampleFiles
) -> None:
    with pytest.raises(PdfError) as raised:
        await single.render_thumbnail(sample_files(samples.huge_indexed_image), 1)
    assert raised.value.kind is PdfErrorKind.RENDER_LIMIT
    [pid] = single.worker_pids

    assert peak_rss_mb(pid) < 300
    _assert_size(await single.render_thumbnail(sample_files(samples.ode), 1), [283, 400])
    assert single.worker_pids == [pid]  # a failed allocation is a MuPDF error, not a crash


async def test_a_render_timeout_kills_the_worker_and_the_next_job_works(sample_files: SampleFiles) -> None:
    async with PymupdfRenderer(processes=1, render_timeout_seconds=0.1) as hasty:
        await hasty.inspect(sample_files(samples.decompression_bomb))  # starts the worker; metadata survives the bomb
        [slow_pid] = hasty.worker_pids

        with pytest.raises(PdfError) as raised:
            await hasty.render_thumbnail(sample_files(samples.decompression_bomb), 1)

        assert raised.value.kind is PdfErrorKind.RENDER_TIMEOUT
        await _wait_until_gone(slow_pid)
        _assert_size(await hasty.render_thumbnail(sample_files(samples.ode), 1), [283, 400])
        assert slow_pid not in hasty.worker_pids


async def test_a_page_tree_with_a_cycle_fails_its_pages_and_the_worker_serves_on(
    single: PymupdfRenderer, sample_files: SampleFiles
) -> None:
    path = sample_files(samples.page_tree_cycle)
    info = await single.inspect(path)
    [pid] = single.worker_pids

    results = await single.render_thumbnails(path, range(1, info.page_count + 1))

    assert info.page_count >= 1
    assert all(isinstance(r, PdfError) and r.kind is PdfErrorKind.RENDER_LIMIT for r in results.values()), results
    _assert_size(await single.render_thumbnail(sample_files(samples.ode), 1), [283, 400])
    assert single.worker_pids == [pid]


async def test_a_page_tree_claiming_a_billion_pages_is_corrupt(
    single: PymupdfRenderer, sample_files: SampleFiles
) -> None:
    with pytest.raises(PdfError) as raised:
        await single.inspect(sample_files(samples.page_count_lie))
    assert raised.value.kind is PdfErrorKind.CORRUPT


async def test_forms_drawing_each_other_exponentially_time_out_and_the_next_job_works(
    sample_files: SampleFiles,
) -> None:
    async with PymupdfRenderer(processes=1, render_timeout_seconds=0.5) as hasty:
        path = sample_files(samples.exponential_forms)
        assert (await hasty.inspect(path)).page_count == 1
        [slow_pid] = hasty.worker_pids

        with pytest.raises(PdfError) as raised:
            await hasty.render_thumbnail(path, 1)

        assert raised.value.kind is PdfErrorKind.RENDER_TIMEOUT
        await _wait_until_gone(slow_pid)
        _assert_size(await hasty.render_thumbnail(sample_files(samples.ode), 1), [283, 400])


async def test_a_page_timing_out_among_others_fails_alone(tmp_path: Path, sample_files: SampleFiles) -> None:
    # Twelve pages make jobs of four for one worker: the slow page is second in the first job.
    document = pymupdf.open()
    small, bomb = sample_files(samples.ode), sample_files(samples.decompression_bomb)
    for path in (small, bomb, *[small] * 10):
        with pymupdf.open(path) as source:
            document.insert_pdf(source, from_page=0, to_page=0)
    document.save(tmp_path / "one_slow_page.pdf")

    async with PymupdfRenderer(processes=1, render_timeout_seconds=0.3) as hasty:
        results = await hasty.render_thumbnails(tmp_path / "one_slow_page.pdf", range(1, 13))

    slow = results.pop(2)
    assert isinstance(slow, PdfError) and slow.kind is PdfErrorKind.RENDER_TIMEOUT
    for jpeg in results.values():
        assert isinstance(jpeg, bytes)
        _assert_size(jpeg, [283, 400])


def _slow_to_open_pdf(path: Path, first_page_points: int = 842, pages: int = 150_000) -> tuple[Path, float]:
    """Pages without content and no cross-reference table: MuPDF scans the whole file to open it.

    Returns the file and how long opening it takes here, so time limits can be set below that.
    """
    kids = " ".join(f"{3 + n} 0 R" for n in range(pages))
    boxes = [first_page_points, *[842] * (pages - 1)]
    objects = [
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n",
        f"2 0 obj << /Type /Pages /Kids [{kids}] /Count {pages} >> endobj\n".encode(),
        *(
            f"{3 + n} 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 {box}] >> endobj\n".encode()
            for n, box in enumerate(boxes)
        ),
        b"trailer << /Root 1 0 R >>\n%%EOF\n",
    ]
    path.write_bytes(b"".join(objects))
    started = time.monotonic()
    with pymupdf.open(path) as document:
        assert document.page_count == pages
    return path, time.monotonic() - started


async def test_the_page_time_limit_starts_once_the_document_is_open(tmp_path: Path) -> None:
    slow, opening = _slow_to_open_pdf(tmp_path / "slow_to_open.pdf")
    async with PymupdfRenderer(processes=1, render_timeout_seconds=opening / 3) as hasty:
        cover = await hasty.render_thumbnail(slow, 1)
    _assert_size(cover, [283, 400])


async def test_a_failed_page_does_not_make_the_next_one_reopen_the_document(tmp_path: Path) -> None:
    slow, opening = _slow_to_open_pdf(tmp_path / "slow_to_open.pdf", first_page_points=100_000)
    async with PymupdfRenderer(processes=1, render_timeout_seconds=opening / 3, max_page_points=50_000) as hasty:
        results = await hasty.render_thumbnails(slow, range(1, 9))
    oversized = results.pop(1)
    assert isinstance(oversized, PdfError) and oversized.kind is PdfErrorKind.RENDER_LIMIT
    for jpeg in results.values():
        assert isinstance(jpeg, bytes)
        _assert_size(jpeg, [283, 400])


async def test_a_document_too_slow_to_open_fails_the_whole_call_after_one_timeout(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, sample_files: SampleFiles
) -> None:
    slow, opening = _slow_to_open_pdf(tmp_path / "slow_to_open.pdf")
    async with PymupdfRenderer(processes=1, inspect_timeout_seconds=opening / 3) as hasty:
        await hasty.inspect(sample_files(samples.ode))  # the worker is up
        with caplog.at_level(logging.WARNING, logger="adapters.pdf.pool"), pytest.raises(PdfError) as raised:
            await hasty.render_thumbnails(slow, range(1, 13))  # three jobs of four pages
        assert raised.value.kind is PdfErrorKind.RENDER_TIMEOUT and "open" in str(raised.value.detail)
        # One timeout for the document, not one per job.
        [stopped] = caplog.records
        assert stopped.getMessage().endswith("stopped: it ran past its time limit")
        _assert_size(await hasty.render_thumbnail(sample_files(samples.ode), 1), [283, 400])


async def test_a_worker_killed_while_idle_is_replaced_for_the_next_job(
    single: PymupdfRenderer, sample_files: SampleFiles
) -> None:
    await single.inspect(sample_files(samples.ode))
    [pid] = single.worker_pids

    os.kill(pid, signal.SIGKILL)
    await _wait_until_gone(pid)

    _assert_size(await single.render_thumbnail(sample_files(samples.ode), 1), [283, 400])
    assert single.worker_pids
    assert pid not in single.worker_pids


async def test_a_worker_dying_mid_job_fails_that_job_only(single: PymupdfRenderer, sample_files: SampleFiles) -> None:
    await single.inspect(sample_files(samples.decompression_bomb))
    [pid] = single.worker_pids
    job = asyncio.create_task(single.render_thumbnail(sample_files(samples.decompression_bomb), 1))
    await asyncio.sleep(0.05)  # the document is open already (inspected above): the page is rendering

    os.kill(pid, signal.SIGKILL)

    with pytest.raises(PdfError) as raised:
        await job
    assert raised.value.kind is PdfErrorKind.RENDER_LIMIT
    assert str(raised.value) == "The page crashed the renderer."  # not the document, while opening
    assert (await single.inspect(sample_files(samples.ode))).page_count == 1


async def test_a_job_for_a_worker_that_already_ended_is_not_blamed_on_the_document(
    sample_files: SampleFiles,
) -> None:
    worker = WorkerProcess(memory_limit_bytes=None)
    request = {"op": "inspect", "path": str(sample_files(samples.ode))}
    await worker.call(request, [30], lambda reply: None)
    os.kill(worker.pid, signal.SIGKILL)
    await _wait_until_gone(worker.pid)

    # Unlike WorkerDied, which the renderer reads as the document's fault, this is retried as an outage.
    with pytest.raises(WorkerUnreachable):
        await worker.call(request, [30], lambda reply: None)
    worker.kill()


async def test_a_cancelled_job_does_not_leave_its_reply_for_the_next(
    single: PymupdfRenderer, sample_files: SampleFiles
) -> None:
    await single.inspect(sample_files(samples.decompression_bomb))
    job = asyncio.create_task(single.render_thumbnail(sample_files(samples.decompression_bomb), 1))
    await asyncio.sleep(0.1)  # into the render, which takes about 0.5 s
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job

    info = await single.inspect(sample_files(samples.etude))

    assert info.page_count == 8


async def test_rendering_does_not_block_the_event_loop(single: PymupdfRenderer, sample_files: SampleFiles) -> None:
    await single.inspect(sample_files(samples.decompression_bomb))
    gaps: list[float] = []

    async def tick() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await single.render_thumbnail(sample_files(samples.decompression_bomb), 1)
    ticker.cancel()

    assert len(gaps) > 10
    assert max(gaps) < 0.2


async def test_render_thumbnails_uses_every_process(sample_files: SampleFiles) -> None:
    async with PymupdfRenderer(processes=2) as pair:
        thumbnails = await pair.render_thumbnails(sample_files(samples.etude), range(1, 9))

        assert all(isinstance(jpeg, bytes) for jpeg in thumbnails.values())
        assert len(pair.worker_pids) == 2


async def test_workers_stay_under_300_mb_on_the_whole_corpus(single: PymupdfRenderer) -> None:
    for entry in ENTRIES:
        path = CORPUS / entry["file"]
        for job in (single.inspect(path), single.render_thumbnail(path, 1)):
            with contextlib.suppress(PdfError):
                await job
    [pid] = single.worker_pids

    assert peak_rss_mb(pid) < 300


async def test_a_closed_renderer_refuses_work(sample_files: SampleFiles) -> None:
    renderer = PymupdfRenderer(processes=1)
    await renderer.inspect(sample_files(samples.ode))
    [pid] = renderer.worker_pids

    await renderer.close()

    await _wait_until_gone(pid)
    with pytest.raises(RuntimeError):
        await renderer.inspect(sample_files(samples.ode))


_RENDER_IN_A_CHILD = """
import asyncio, sys
from pathlib import Path
from adapters.pdf import PymupdfRenderer

async def main() -> None:
    async with PymupdfRenderer(processes=1, render_timeout_seconds=600) as renderer:
        await renderer.inspect(Path(sys.argv[1]))  # the worker is up, with the document open
        print(renderer.worker_pids[0], flush=True)
        await renderer.render_thumbnail(Path(sys.argv[1]), 1)

asyncio.run(main())
"""


async def test_a_worker_dies_with_its_renderer_even_in_the_middle_of_a_page(sample_files: SampleFiles) -> None:
    """Killed with its server (SIGKILL, OOM), the renderer leaves nobody to enforce the page's time limit."""
    slow = sample_files(samples.slow_page)  # some 20 s to render
    owner = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _RENDER_IN_A_CHILD, str(slow), stdout=asyncio.subprocess.PIPE
    )
    assert owner.stdout is not None
    worker = int(await owner.stdout.readline())
    await asyncio.sleep(1)  # the page is being rendered
    assert _is_running(worker)

    owner.kill()
    await owner.wait()

    await _wait_until_gone(worker)


def test_a_worker_whose_renderer_is_gone_exits_quietly(tmp_path: Path) -> None:
    """Killed with its server, the renderer leaves the worker a pipe nobody reads: no traceback in the log."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "adapters.pdf.worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert worker.stdout is not None and worker.stdin is not None
    worker.stdout.read(8)  # the start of its "ready" frame
    worker.stdout.close()  # the renderer is gone
    request = {"op": "inspect", "path": str(CORPUS / "engraved_ode_to_joy_a4_1p.pdf")}
    _, errors = worker.communicate(encode_frame(request), timeout=60)
    assert worker.returncode == 0
    assert b"Traceback" not in errors, errors.decode(errors="replace")
