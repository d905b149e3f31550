"""Thumbnail rendering benchmark: PymupdfRenderer against `mutool draw` and `pdftoppm` at the same output size.

Run from the repository: ``python bench/render.py [--repeat N]``. Needs the shared corpus beside the repository;
tools that are not installed (Debian: mupdf-tools, poppler-utils) are skipped with a note.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from adapters.pdf import PymupdfRenderer
from domain.pdf import THUMBNAIL_JPEG_QUALITY, THUMBNAIL_MAX_HEIGHT, THUMBNAIL_MAX_WIDTH

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
FILES = [
    "engraved_etude_a4_8p.pdf",
    "engraved_variations_quartet_a4_47p.pdf",
    "real_lilypond_essay_manual_40p.pdf",
    "scanned_etude_a4_3p.pdf",
    "stress_huge_mediabox_14400.pdf",
]
WARM_UP = "engraved_etude_a4_8p.pdf"


@dataclass(frozen=True)
class Box:
    """The thumbnail size of page 1, which tells a tool without per-page fitting which side to scale to."""

    width: int
    height: int

    @property
    def height_bound(self) -> bool:
        return self.height >= THUMBNAIL_MAX_HEIGHT - 1


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mb: float


# --- external tools ----------------------------------------------------------------------------

ToolArgs = Callable[[Path, Path, Box, int | None], list[str]]


def mutool_args(pdf: Path, out: Path, box: Box, page: int | None) -> list[str]:
    # mutool fits each page inside -w x -h itself. This version (1.21) has no JPEG writer: PNM, no encoding.
    argv = ["mutool", "draw", "-q", "-w", str(THUMBNAIL_MAX_WIDTH), "-h", str(THUMBNAIL_MAX_HEIGHT)]
    argv += ["-F", "pnm", "-o", str(out / "page-%d.pnm"), str(pdf)]
    return argv + ([str(page)] if page else [])


def pdftoppm_args(pdf: Path, out: Path, box: Box, page: int | None) -> list[str]:
    scale = ["-scale-to-x", "-1", "-scale-to-y", str(box.height)] if box.height_bound else []
    scale = scale or ["-scale-to-x", str(box.width), "-scale-to-y", "-1"]
    argv = ["pdftoppm", "-jpeg", "-jpegopt", f"quality={THUMBNAIL_JPEG_QUALITY}", *scale]
    argv += ["-f", str(page), "-l", str(page)] if page else []
    return [*argv, str(pdf), str(out / "page")]


TOOLS: dict[str, ToolArgs] = {"mutool": mutool_args, "pdftoppm": pdftoppm_args}


def run_tool(args: ToolArgs, pdf: Path, box: Box, page: int | None) -> Run:
    """Time one tool run, start-up included; wait4 gives the child's own peak RSS."""
    with tempfile.TemporaryDirectory() as out:
        argv = args(pdf, Path(out), box, page)
        started = time.perf_counter()
        quiet = [(os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)]  # mutool warns about ICC on every run
        pid = os.posix_spawnp(argv[0], argv, dict(os.environ), file_actions=quiet)
        _, status, usage = os.wait4(pid, 0)
        elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv)} failed")
    return Run(elapsed, usage.ru_maxrss / 1024)


def tool_version(name: str) -> str:
    done = subprocess.run([name, "-v"], capture_output=True, text=True, check=False)
    lines = (done.stdout + done.stderr).strip().splitlines()
    return lines[0] if lines else name


# --- our renderer ------------------------------------------------------------------------------


async def page_count(renderer: PymupdfRenderer, name: str) -> int:
    return (await renderer.inspect(CORPUS / name)).page_count


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def render_all(renderer: PymupdfRenderer, name: str, pages: int) -> None:
    results = await renderer.render_thumbnails(CORPUS / name, range(1, pages + 1))
    failed = {page: result for page, result in results.items() if isinstance(result, Exception)}
    if failed:
        raise RuntimeError(f"{name}: {failed}")


@dataclass
class Ours:
    startup_ms: float
    boxes: dict[str, Box]
    pages: dict[str, int]
    cover: dict[str, list[float]]
    all_pages: dict[str, list[float]]
    peak_rss_mb: float


async def measure_ours(repeat: int) -> Ours:
    async with PymupdfRenderer(processes=1) as renderer:
        started = time.perf_counter()
        await renderer.inspect(CORPUS / WARM_UP)
        startup = time.perf_counter() - started
        pages = {name: await page_count(renderer, name) for name in FILES}
        boxes: dict[str, Box] = {}
        cover: dict[str, list[float]] = {name: [] for name in FILES}
        all_pages: dict[str, list[float]] = {name: [] for name in FILES}
        for _ in range(repeat):
            # Going round the files means every cover opens its document, as a tool run does.
            for name in FILES:
                started = time.perf_counter()
                jpeg = await renderer.render_thumbnail(CORPUS / name, 1)
                cover[name].append(time.perf_counter() - started)
                with Image.open(io.BytesIO(jpeg)) as image:
                    boxes[name] = Box(*image.size)
            for name in FILES:
                started = time.perf_counter()
                await render_all(renderer, name, pages[name])
                all_pages[name].append((time.perf_counter() - started) / pages[name])
        rss = max(peak_rss_mb(pid) for pid in renderer.worker_pids)
    return Ours(startup * 1000, boxes, pages, cover, all_pages, rss)


async def throughput(processes: int, pages: dict[str, int], repeat: int) -> tuple[float, float]:
    """(pages per second over all pages of all files, peak worker RSS in MB)."""
    async with PymupdfRenderer(processes=processes) as renderer:
        await render_all(renderer, WARM_UP, processes)  # starts every worker
        runs = []
        for _ in range(repeat):
            started = time.perf_counter()
            for name in FILES:
                await render_all(renderer, name, pages[name])
            runs.append(sum(pages.values()) / (time.perf_counter() - started))
        rss = max(peak_rss_mb(pid) for pid in renderer.worker_pids)
    return statistics.median(runs), rss


def cpu_ceiling(repeat: int) -> float:
    """How two CPU-bound processes scale on this machine at all: the best the renderer can do."""
    burn = "import time; t = time.perf_counter(); sum(range(30_000_000)); print(time.perf_counter() - t)"

    def slowest_of(count: int) -> float:
        children = [
            subprocess.Popen([sys.executable, "-c", burn], stdout=subprocess.PIPE, text=True) for _ in range(count)
        ]
        return max(float(child.communicate()[0]) for child in children)

    return statistics.median(2 * slowest_of(1) / slowest_of(2) for _ in range(repeat))


# --- report ------------------------------------------------------------------------------------


def ms(seconds: Sequence[float]) -> float:
    return statistics.median(seconds) * 1000


def cell(value: float, digits: int = 1) -> str:
    return f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is shown")
    repeat = parser.parse_args().repeat
    if not CORPUS.is_dir():
        sys.exit(f"The shared corpus is missing: {CORPUS}")

    ours = asyncio.run(measure_ours(repeat))
    tools = {name: args for name, args in TOOLS.items() if shutil.which(name)}
    tool_cover: dict[tuple[str, str], list[Run]] = {}
    tool_all: dict[tuple[str, str], list[Run]] = {}
    for tool, args in tools.items():
        for name in FILES:
            box = ours.boxes[name]
            tool_cover[tool, name] = [run_tool(args, CORPUS / name, box, 1) for _ in range(repeat)]
            tool_all[tool, name] = [run_tool(args, CORPUS / name, box, None) for _ in range(repeat)]
    scaling = {processes: asyncio.run(throughput(processes, ours.pages, repeat)) for processes in (1, 2)}

    print(
        f"Thumbnails fitted in {THUMBNAIL_MAX_WIDTH}x{THUMBNAIL_MAX_HEIGHT} px; median of {repeat} runs; "
        f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}"
    )
    print(
        f"ours: PymupdfRenderer, 1 warm worker process, JPEG q{THUMBNAIL_JPEG_QUALITY}, "
        f"worker start-up (first job) {ours.startup_ms:.0f} ms"
    )
    for tool in TOOLS:
        if tool in tools:
            output = "PNM (no JPEG writer)" if tool == "mutool" else f"JPEG q{THUMBNAIL_JPEG_QUALITY}"
            print(f"{tool}: {tool_version(tool)}, {output}, one process per run, start-up included")
        else:
            print(f"{tool}: not installed, skipped (Debian: apt-get install mupdf-tools poppler-utils)")
    print("ratio = ours / tool time (below 1: ours is faster)\n")

    header = ["file", "pages", "cover ms ours"]
    header += [f"cover {tool} ms (ratio)" for tool in tools]
    header += ["all pages ms/page ours"] + [f"all {tool} ms/page (ratio)" for tool in tools]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name in FILES:
        row = [name.removesuffix(".pdf"), str(ours.pages[name]), cell(ms(ours.cover[name]))]
        for tool in tools:
            theirs = ms([run.seconds for run in tool_cover[tool, name]])
            row.append(f"{cell(theirs)} ({ms(ours.cover[name]) / theirs:.2f})")
        row.append(cell(ms(ours.all_pages[name]), 2))
        for tool in tools:
            theirs = ms([run.seconds for run in tool_all[tool, name]]) / ours.pages[name]
            row.append(f"{cell(theirs, 2)} ({ms(ours.all_pages[name]) / theirs:.2f})")
        print("| " + " | ".join(row) + " |")

    (one, rss_one), (two, rss_two) = scaling[1], scaling[2]
    total = sum(ours.pages.values())
    print(f"\nAll {total} pages of the {len(FILES)} files:")
    print(f"  1 process:   {one:7.1f} pages/s")
    print(f"  2 processes: {two:7.1f} pages/s   scaling x{two / one:.2f}")
    print(f"  (two CPU-bound Python processes scale x{cpu_ceiling(repeat):.2f} on this machine)")
    print(f"Peak RSS of a worker process: {max(ours.peak_rss_mb, rss_one, rss_two):.0f} MB")
    for tool in tools:
        runs = [run for name in FILES for run in (*tool_cover[tool, name], *tool_all[tool, name])]
        print(f"Peak RSS of {tool}: {max(run.peak_rss_mb for run in runs):.0f} MB")


if __name__ == "__main__":
    main()
