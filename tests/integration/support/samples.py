"""PDFs that behaviour tests need, generated here so that only the manifest-driven tests depend on the corpus.

The corpus beside the repository can be swapped for another set with its own manifest; these stay the same.
"""

# PyMuPDF ships py.typed but leaves much of its API unannotated.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import functools
import random
import zlib
from collections.abc import Callable
from pathlib import Path

import pymupdf
import pytest

__all__ = ["sample_files"]  # the fixture, for conftest

A4 = (595.28, 841.89)


def engraved_score(
    pages: int,
    *,
    title: str,
    author: str = "",
    subject: str = "",
    keywords: str = "",
    sizes: tuple[tuple[float, float], ...] = (A4,),
) -> bytes:
    """Pages of staves with note heads and stems; page n takes sizes[n % len(sizes)]."""
    document = pymupdf.open()
    for number in range(pages):
        width, height = sizes[number % len(sizes)]
        _draw_music(document.new_page(width=width, height=height), random.Random(number), title)
    document.set_metadata({"title": title, "author": author, "subject": subject, "keywords": keywords})
    data: bytes = document.tobytes(garbage=3, deflate=True)
    return data


def _draw_music(page: pymupdf.Page, rng: random.Random, title: str) -> None:
    # Music fills an A3 area at most: a huge page needs no more to show it is huge.
    width, height = min(page.rect.width, 842.0), min(page.rect.height, 1191.0)
    margin, spacing = width * 0.08, 6.0
    page.insert_text((margin, margin), title, fontsize=14)
    shape = page.new_shape()
    top = margin + 30
    while top + 4 * spacing < height - margin:
        for line in range(5):
            y = top + line * spacing
            shape.draw_line((margin, y), (width - margin, y))
        x = margin + 20
        while x < width - margin - 10:
            y = top + rng.randint(-2, 10) * spacing / 2
            shape.draw_oval(pymupdf.Rect(x, y - 2.5, x + 6.5, y + 2.5))
            shape.draw_line((x + 6.5, y), (x + 6.5, y - 3.5 * spacing))
            x += rng.choice((12, 18, 24))
        top += 12 * spacing
    shape.finish(color=(0, 0, 0), fill=(0, 0, 0), width=0.6)
    shape.commit()


@functools.cache
def ode() -> bytes:
    """One A4 page with every Info field a musician's app would use."""
    return engraved_score(
        1,
        title="Ode to Joy",
        author="Ludwig van Beethoven",
        subject="Piano arrangement",
        keywords="beethoven, symphony, piano, easy",
    )


@functools.cache
def etude() -> bytes:
    return engraved_score(8, title="Etude in All Keys", author="Anton Corpus", subject="Piano etude")


@functools.cache
def encrypted() -> bytes:
    """Opens only with its user password."""
    document = pymupdf.open(stream=ode())
    data: bytes = document.tobytes(encryption=pymupdf.mupdf.PDF_ENCRYPT_AES_256, user_pw="secret", owner_pw="owner")
    return data


@functools.cache
def mixed_sizes() -> bytes:
    """A4 portrait, Letter landscape, A5 portrait, A3 portrait."""
    sizes = (A4, (792.0, 612.0), (419.53, 595.28), (841.89, 1190.55))
    return engraved_score(4, title="Mixed Page Sizes Collection", sizes=sizes)


@functools.cache
def huge_first_page() -> bytes:
    """A 14,400 pt square page (the largest PDF 1.7 allows), then an A4 one."""
    return engraved_score(2, title="Huge MediaBox 14400pt", sizes=((14400.0, 14400.0), A4))


@functools.cache
def tiny_pages(count: int = 2000) -> bytes:
    document = pymupdf.open()
    for _ in range(count):
        document.new_page(width=36, height=36)
    document.set_metadata({"title": f"{count} blank pages"})
    data: bytes = document.tobytes(garbage=3, deflate=True)
    return data


@functools.cache
def scanned(megabytes: float = 1.5) -> bytes:
    """One A4 page holding a photo-like image that does not compress: a file of about `megabytes`."""
    side = int((megabytes * 1024 * 1024 / 3) ** 0.5)
    noise = random.Random(0).randbytes(side * side * 3)
    image = pymupdf.Pixmap(pymupdf.csRGB, side, side, noise, False)
    document = pymupdf.open()
    document.new_page(width=A4[0], height=A4[1]).insert_image(pymupdf.Rect(0, 0, *A4), pixmap=image)
    data: bytes = document.tobytes(deflate=True)
    return data


@functools.cache
def decompression_bomb() -> bytes:
    """One A4 page showing a 20000x20000 grey image: 400 MB once inflated, under 400 kB stored."""
    return _image_page(20_000, 20_000, b"/DeviceGray")


@functools.cache
def big_indexed_image() -> bytes:
    """One A4 page with a 4450x5948 indexed image, which MuPDF expands to about 80 MB of RGB to draw."""
    return _image_page(4450, 5948, b"[/Indexed /DeviceRGB 1 <000000FFFFFF>]")


def huge_indexed_image() -> bytes:
    """One A4 page with a 12000x12000 indexed image: 140 KB of file, over 400 MB for MuPDF to draw."""
    return _image_page(12000, 12000, b"[/Indexed /DeviceRGB 1 <000000FFFFFF>]")


def page_tree_cycle() -> bytes:
    """A page tree whose root lists itself among its kids, beside one real page."""
    return _one_square_page(b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>")


def page_count_lie() -> bytes:
    """One page in a tree that claims a billion."""
    return _one_square_page(b"<< /Type /Pages /Kids [3 0 R] /Count 1000000000 >>")


def _one_square_page(page_tree: bytes) -> bytes:
    """A PDF whose page tree (object 2) is `page_tree` and whose one page (object 3) shows a black square."""
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            page_tree,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
            _stream(b"0 0 0 rg 50 50 100 100 re f"),
        ]
    )


def exponential_forms(depth: int = 60) -> bytes:
    """A few kilobytes that draw a square 2**60 times: each form XObject draws the next one twice."""
    forms = []
    for level in range(depth):
        number = 5 + level
        if level + 1 < depth:
            body, resources = b"/F Do /F Do", b"<< /XObject << /F %d 0 R >> >>" % (number + 1)
        else:
            body, resources = b"0 0 1 1 re f", b"<< >>"
        forms.append(
            _stream(b"q " + body + b" Q", b"/Type /XObject /Subtype /Form /BBox [0 0 600 900] /Resources " + resources)
        )
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /F 5 0 R >> >> "
            b"/Contents 4 0 R >>",
            _stream(b"/F Do"),
            *forms,
        ]
    )


def _stream(data: bytes, dictionary: bytes = b"") -> bytes:
    return b"<< %s /Length %d >>\nstream\n%s\nendstream" % (dictionary, len(data), data)


def slow_page(images: int = 20) -> bytes:
    """One A4 page drawing `images` different 20000x20000 grey images: MuPDF inflates each, a second or so apiece."""
    return _image_page(20_000, 20_000, b"/DeviceGray", images)


def _image_page(width: int, height: int, colorspace: bytes, images: int = 1) -> bytes:
    compressor = zlib.compressobj(9)
    row_block = bytes(width * 256)
    stream = b"".join(compressor.compress(row_block) for _ in range(height // 256))
    stream += compressor.compress(bytes(width * (height % 256))) + compressor.flush()
    names = [b"/Im%d %d 0 R" % (number, 5 + number) for number in range(images)]
    drawing = b"".join(b"q 595.28 0 0 841.89 0 0 cm /Im%d Do Q\n" % number for number in range(images))
    image = b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s /BitsPerComponent 8 "
    image += b"/Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595.28 841.89] "
        b"/Resources << /XObject << %s >> >> /Contents 4 0 R >>" % b" ".join(names),
        _stream(drawing),
        *[image % (width, height, colorspace) for _ in range(images)],
    ]
    return _pdf(objects)


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF file of these objects (numbered from 1, the first the catalog) with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


class SampleFiles:
    """Samples written to files, each once."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def __call__(self, make: Callable[[], bytes]) -> Path:
        path = self._directory / f"{make.__name__}.pdf"
        if not path.exists():
            path.write_bytes(make())
        return path


@pytest.fixture(scope="session")
def sample_files(tmp_path_factory: pytest.TempPathFactory) -> SampleFiles:
    return SampleFiles(tmp_path_factory.mktemp("samples"))
