"""How fast one process can render the 47-page score at all, against `mutool draw` on the same engine.

    python bench/render_floor.py [--rounds 7]

Renders every page of the benchmark score in this process, as a render process does but without the pipe
to it, with MuPDF's anti-aliasing as shipped (8 bits) and switched off (0: jagged staff lines, only a
bound), and times `mutool draw` at its fastest (raw grey PNM) in the same rounds. Prints ms per page
(medians) with mutool's time over ours, and the time per page that the issue's x1.5 would need.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

import pymupdf
from render import CORPUS, TARGET_FILE, TARGET_SPEED_UP, Box, mutool_args, run_tool

from adapters.pdf.document import open_pdf
from adapters.pdf.thumbnail import RenderLimits, render_thumbnail
from domain.pdf import THUMBNAIL_MAX_HEIGHT, THUMBNAIL_MAX_WIDTH
from entrypoints.settings import Settings

DEFAULTS = Settings()
LIMITS = RenderLimits(DEFAULTS.render_max_output_pixels, DEFAULTS.render_max_page_points)
SHIPPED_AA, NO_AA = 8, 0


def ours_per_page(path: Path, aa_level: int) -> float:
    """Seconds per page for every page, the document opened afresh as a tool run opens it."""
    pymupdf.TOOLS.set_aa_level(aa_level)
    started = time.perf_counter()
    document = open_pdf(str(path))
    try:
        for page in range(1, document.page_count + 1):
            render_thumbnail(document, page, LIMITS)
        return (time.perf_counter() - started) / document.page_count
    finally:
        document.close()
        pymupdf.TOOLS.store_shrink(100)
        pymupdf.TOOLS.set_aa_level(SHIPPED_AA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    if not shutil.which("mutool"):
        sys.exit("mutool is not installed (Debian: apt-get install mupdf-tools)")
    path = CORPUS / TARGET_FILE
    pymupdf.TOOLS.mupdf_display_warnings(False)
    with pymupdf.open(path) as document:
        pages = document.page_count
    ours_per_page(path, SHIPPED_AA)  # warms the imports and the file cache
    figures: dict[str, list[float]] = {"mutool": [], "shipped": [], "off": []}
    box = Box(THUMBNAIL_MAX_WIDTH, THUMBNAIL_MAX_HEIGHT)  # mutool fits each page itself
    for _ in range(rounds):
        figures["mutool"].append(run_tool(mutool_args, path, box, None)[0] / pages)
        figures["shipped"].append(ours_per_page(path, SHIPPED_AA))
        figures["off"].append(ours_per_page(path, NO_AA))
    mutool = statistics.median(figures["mutool"])

    def line(label: str, seconds: list[float]) -> str:
        median = statistics.median(seconds)
        return f"  {label:48s} {median * 1000:5.2f} (x{mutool / median:.2f})"

    print(f"{TARGET_FILE}, {pages} pages, ms per page, median of {rounds} rounds (x: mutool's time / ours):")
    print(f"  {'mutool draw, raw grey PNM':48s} {mutool * 1000:5.2f}")
    print(line(f"ours in this process, anti-aliasing {SHIPPED_AA} (shipped)", figures["shipped"]))
    print(line("ours in this process, anti-aliasing off", figures["off"]))
    print(f"  x{TARGET_SPEED_UP} would need {mutool / TARGET_SPEED_UP * 1000:.2f} ms per page in one process")


if __name__ == "__main__":
    main()
