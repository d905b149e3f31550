"""Thumbnail rendering benchmark: PymupdfRenderer against `mutool draw` and `pdftoppm` at the same output size.

Run from the repository: ``python bench/render.py [--rounds N]``. Needs the shared corpus beside the repository;
tools that are not installed (Debian: mupdf-tools, poppler-utils) are skipped with a note.

Every round measures every runner on every file one after the other, so a machine that speeds up or slows down
during the run moves all figures alike; each figure is the median over the rounds.
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
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
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
TARGET_FILE = "engraved_variations_quartet_a4_47p.pdf"
TARGET_SPEED_UP = 1.5
TARGET_SCALING = 1.8
ONE, TWO = "ours, 1 process", "ours, 2 processes"


@dataclass(frozen=True)
class Box:
    """The thumbnail size of page 1, which tells a tool without per-page fitting which side to scale to."""

    width: int
    height: int

    @property
    def height_bound(self) -> bool:
        return self.height >= THUMBNAIL_MAX_HEIGHT - 1


# --- external tools ----------------------------------------------------------------------------

ToolArgs = Callable[[Path, Path, Box, int | None], list[str]]


def mutool_draw(pdf: Path, out: Path, page: int | None, options: list[str], image_format: str) -> list[str]:
    # mutool fits each page inside -w x -h itself. This version (1.21) has no JPEG writer.
    argv = ["mutool", "draw", "-q", *options, "-w", str(THUMBNAIL_MAX_WIDTH), "-h", str(THUMBNAIL_MAX_HEIGHT)]
    argv += ["-F", image_format, "-o", str(out / f"page-%d.{image_format}"), str(pdf)]
    return argv + ([str(page)] if page else [])


def mutool_args(pdf: Path, out: Path, box: Box, page: int | None) -> list[str]:
    """mutool at its fastest: PNM is grey and raw, so it neither encodes nor writes colour."""
    return mutool_draw(pdf, out, page, [], "pnm")


def mutool_threaded_args(pdf: Path, out: Path, box: Box, page: int | None) -> list[str]:
    """mutool with its own two-thread pipeline (-P: one thread interprets while the other rasterises)."""
    return mutool_draw(pdf, out, page, ["-P"], "pnm")


def mutool_png_args(pdf: Path, out: Path, box: Box, page: int | None) -> list[str]:
    """mutool rendering and encoding, as ours does: PNG is its only compressed writer; grey, as sheet music is."""
    return mutool_draw(pdf, out, page, ["-c", "gray"], "png")


def pdftoppm_args(pdf: Path, out: Path, box: Box, page: int | None) -> list[str]:
    scale = ["-scale-to-x", "-1", "-scale-to-y", str(box.height)] if box.height_bound else []
    scale = scale or ["-scale-to-x", str(box.width), "-scale-to-y", "-1"]
    argv = ["pdftoppm", "-jpeg", "-jpegopt", f"quality={THUMBNAIL_JPEG_QUALITY}", *scale]
    argv += ["-f", str(page), "-l", str(page)] if page else []
    return [*argv, str(pdf), str(out / "page")]


TOOLS: dict[str, ToolArgs] = {
    "mutool": mutool_args,
    "mutool -P": mutool_threaded_args,
    "mutool PNG": mutool_png_args,
    "pdftoppm": pdftoppm_args,
}
TOOL_OUTPUTS = {"mutool": "grey PNM, no encoding", "mutool -P": "grey PNM, no encoding", "mutool PNG": "grey PNG"}
COVER_TOOLS = ["mutool", "pdftoppm"]  # -P cannot help a single page


def run_tool(args: ToolArgs, pdf: Path, box: Box, page: int | None) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one tool run, start-up included; wait4 gives the child's own peak RSS."""
    with tempfile.TemporaryDirectory() as out:
        argv = args(pdf, Path(out), box, page)
        started = time.perf_counter()
        quiet = [(os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)]  # mutool warns about ICC on every run
        pid = os.posix_spawnp(argv[0], argv, dict(os.environ), file_actions=quiet)
        _, status, usage = os.wait4(pid, 0)
        elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv)} failed")
    return elapsed, usage.ru_maxrss / 1024


def tool_version(name: str) -> str:
    done = subprocess.run([name, "-v"], capture_output=True, text=True, check=False)
    lines = (done.stdout + done.stderr).strip().splitlines()
    return lines[0] if lines else name


# --- our renderer ------------------------------------------------------------------------------


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def time_all_pages(renderer: PymupdfRenderer, name: str, pages: int) -> float:
    started = time.perf_counter()
    results = await renderer.render_thumbnails(CORPUS / name, range(1, pages + 1))
    elapsed = time.perf_counter() - started
    failed = {page: result for page, result in results.items() if isinstance(result, Exception)}
    if failed:
        raise RuntimeError(f"{name}: {failed}")
    return elapsed


async def time_all_files_at_once(renderer: PymupdfRenderer, pages: dict[str, int]) -> float:
    """All pages of every file asked for together, as a worker running several tasks asks."""
    started = time.perf_counter()
    await asyncio.gather(*(time_all_pages(renderer, name, count) for name, count in pages.items()))
    return time.perf_counter() - started


async def time_cover(renderer: PymupdfRenderer, name: str) -> tuple[float, Box]:
    started = time.perf_counter()
    jpeg = await renderer.render_thumbnail(CORPUS / name, 1)
    elapsed = time.perf_counter() - started
    with Image.open(io.BytesIO(jpeg)) as image:
        return elapsed, Box(*image.size)


@dataclass
class Figures:
    pages: dict[str, int]
    startup_ms: float
    # (runner, file) -> seconds for the cover, and seconds per page for all pages, one entry per round
    cover: defaultdict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    per_page: defaultdict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    # runner -> seconds for all pages of all files, one entry per round: file after file, and all at once
    round_seconds: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    at_once_seconds: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    peak_rss_mb: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    cpu_scaling: list[float] = field(default_factory=list)

    def add_tool_run(
        self,
        tool: str,
        run: tuple[float, float],
        figures: dict[tuple[str, str], list[float]],
        name: str,
        pages: int = 1,
    ) -> None:
        seconds, rss = run
        figures[tool, name].append(seconds / pages)
        self.peak_rss_mb[tool] = max(self.peak_rss_mb[tool], rss)


async def measure(rounds: int, tools: dict[str, ToolArgs]) -> Figures:
    # Each renderer keeps its last document open; going round the files means every run opens its document,
    # as a tool run does.
    renderers = PymupdfRenderer(processes=1), PymupdfRenderer(processes=1), PymupdfRenderer(processes=2)
    async with renderers[0] as covers, renderers[1] as one, renderers[2] as two:
        started = time.perf_counter()
        pages = {name: (await covers.inspect(CORPUS / name)).page_count for name in FILES}
        startup_ms = (time.perf_counter() - started) * 1000
        boxes = {name: (await time_cover(covers, name))[1] for name in FILES}
        await time_all_pages(one, FILES[0], 1)  # starts its process
        await time_all_pages(two, FILES[0], 2)  # starts both of its processes
        figures = Figures(pages, startup_ms)
        for _ in range(rounds):
            totals: defaultdict[str, float] = defaultdict(float)
            for name in FILES:
                figures.cover[ONE, name].append((await time_cover(covers, name))[0])
                for runner, renderer in ((ONE, one), (TWO, two)):
                    seconds = await time_all_pages(renderer, name, pages[name])
                    figures.per_page[runner, name].append(seconds / pages[name])
                    totals[runner] += seconds
                for tool, args in tools.items():
                    if tool in COVER_TOOLS:
                        cover = run_tool(args, CORPUS / name, boxes[name], 1)
                        figures.add_tool_run(tool, cover, figures.cover, name)
                    every_page = run_tool(args, CORPUS / name, boxes[name], None)
                    figures.add_tool_run(tool, every_page, figures.per_page, name, pages[name])
            for runner, seconds in totals.items():
                figures.round_seconds[runner].append(seconds)
            for runner, renderer in ((ONE, one), (TWO, two)):
                figures.at_once_seconds[runner].append(await time_all_files_at_once(renderer, pages))
            figures.cpu_scaling.append(cpu_scaling())
        for runner, renderer in ((ONE, one), (TWO, two)):
            figures.peak_rss_mb[runner] = max(peak_rss_mb(pid) for pid in renderer.worker_pids)
    return figures


def cpu_scaling() -> float:
    """How two CPU-bound processes scale on this machine right now: the best the renderer can do."""
    burn = "import time; t = time.perf_counter(); sum(range(30_000_000)); print(time.perf_counter() - t)"

    def slowest_of(count: int) -> float:
        children = [
            subprocess.Popen([sys.executable, "-c", burn], stdout=subprocess.PIPE, text=True) for _ in range(count)
        ]
        return max(float(child.communicate()[0]) for child in children)

    return 2 * slowest_of(1) / slowest_of(2)


# --- report ------------------------------------------------------------------------------------


def ms(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1000


def speed_up(theirs: list[float], ours: list[float]) -> float:
    """How many times faster ours is, round by round (both were measured in the same round), median."""
    return statistics.median(t / o for t, o in zip(theirs, ours, strict=True))


def print_table(header: list[str], rows: list[list[str]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|---|" + "---:|" * (len(header) - 1))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def report(figures: Figures, tools: list[str], rounds: int) -> None:
    print(
        f"Thumbnails fitted in {THUMBNAIL_MAX_WIDTH}x{THUMBNAIL_MAX_HEIGHT} px; median of {rounds} rounds; "
        f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}"
    )
    print(
        f"ours: PymupdfRenderer with warm worker processes, JPEG q{THUMBNAIL_JPEG_QUALITY} "
        f"(worker start-up and first inspect: {figures.startup_ms:.0f} ms, not counted)"
    )
    for tool in TOOLS:
        if tool in tools:
            output = TOOL_OUTPUTS.get(tool, f"JPEG q{THUMBNAIL_JPEG_QUALITY}")
            print(f"{tool}: {tool_version(tool.split()[0])}, {output}, one process per run, start-up included")
        else:
            print(f"{tool}: not installed, skipped (Debian: apt-get install mupdf-tools poppler-utils)")
    print("speed-up = tool time / our time, per round (above 1: ours is faster)\n")

    cover_tools = [tool for tool in COVER_TOOLS if tool in tools]
    print("Cover (page 1), ms:\n")
    rows = []
    for name in FILES:
        row = [name.removesuffix(".pdf"), str(figures.pages[name]), f"{ms(figures.cover[ONE, name]):.1f}"]
        for tool in cover_tools:
            theirs = figures.cover[tool, name]
            row.append(f"{ms(theirs):.1f} (x{speed_up(theirs, figures.cover[ONE, name]):.2f})")
        rows.append(row)
    print_table(["file", "pages", "ours", *cover_tools], rows)

    print("\nAll pages, ms per page (speed-up of ours with 1 / 2 processes):\n")
    rows = []
    for name in FILES:
        one, two = figures.per_page[ONE, name], figures.per_page[TWO, name]
        row = [name.removesuffix(".pdf"), str(figures.pages[name]), f"{ms(one):.2f}", f"{ms(two):.2f}"]
        for tool in tools:
            theirs = figures.per_page[tool, name]
            row.append(f"{ms(theirs):.2f} (x{speed_up(theirs, one):.2f} / x{speed_up(theirs, two):.2f})")
        rows.append(row)
    print_table(["file", "pages", ONE, TWO, *tools], rows)

    total = sum(figures.pages.values())
    scaling = speed_up(figures.round_seconds[ONE], figures.round_seconds[TWO])
    at_once_scaling = speed_up(figures.at_once_seconds[ONE], figures.at_once_seconds[TWO])
    print(f"\nAll {total} pages of the {len(FILES)} files, file after file:")
    for runner in (ONE, TWO):
        print(f"  {runner + ':':19s} {total / statistics.median(figures.round_seconds[runner]):7.1f} pages/s")
    print(f"  scaling x{scaling:.2f}")
    print("The same pages with all files asked for at once (a worker running several tasks):")
    for runner in (ONE, TWO):
        print(f"  {runner + ':':19s} {total / statistics.median(figures.at_once_seconds[runner]):7.1f} pages/s")
    print(f"  scaling x{at_once_scaling:.2f}")
    print(f"  (two CPU-bound Python processes scale x{statistics.median(figures.cpu_scaling):.2f} on this machine)")
    for runner, rss in figures.peak_rss_mb.items():
        print(f"Peak RSS of {'a worker process of ' if runner.startswith('ours') else ''}{runner}: {rss:.0f} MB")

    print("\nTargets:")
    for how, figure in (("file after file", scaling), ("all files at once", at_once_scaling)):
        met = verdict(figure >= TARGET_SCALING)
        print(f"  2-process scaling, {how}, x{figure:.2f} (target x{TARGET_SCALING}): {met}")
    for tool in ("mutool", "mutool PNG"):
        if tool not in tools:
            continue
        theirs = figures.per_page[tool, TARGET_FILE]
        for runner in (ONE, TWO):
            faster = speed_up(theirs, figures.per_page[runner, TARGET_FILE])
            print(
                f"  {TARGET_FILE}, {runner} vs {tool}: x{faster:.2f} "
                f"(target x{TARGET_SPEED_UP}): {verdict(faster >= TARGET_SPEED_UP)}"
            )


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of measurements; medians are shown")
    rounds = parser.parse_args().rounds
    if not CORPUS.is_dir():
        sys.exit(f"The shared corpus is missing: {CORPUS}")
    tools = {name: args for name, args in TOOLS.items() if shutil.which(name.split()[0])}
    report(asyncio.run(measure(rounds, tools)), list(tools), rounds)


if __name__ == "__main__":
    main()
