"""The PDF adapter's pieces on files generated here: which files open, their metadata and dates, thumbnail geometry.

Nothing here reads the shared corpus; every file is written into tmp_path.
"""

# PyMuPDF ships py.typed but leaves much of its API unannotated.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pymupdf
import pytest
import pytest_asyncio
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from adapters.pdf import PymupdfRenderer
from adapters.pdf.dates import pdf_date_to_iso
from adapters.pdf.document import open_pdf, read_info
from domain.pdf import PdfError, PdfErrorKind, fitted_zoom

A4 = (595, 842)

# --- helpers ------------------------------------------------------------------------------------


def _pdf_bytes(pages: int = 1, size: tuple[float, float] = A4) -> bytes:
    document = pymupdf.open()
    for _ in range(pages):
        document.new_page(width=size[0], height=size[1])
    data: bytes = document.tobytes()
    document.close()
    return data


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _png_with_pdf_magic_in_text_chunk(path: Path) -> Path:
    info = PngInfo()
    info.add_text("Comment", "%PDF-1.7 written by a scanner app")
    Image.new("RGB", (64, 64), "white").save(path, "PNG", pnginfo=info)
    return path


def _epub_with_pdf_magic(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        archive.writestr(
            zipfile.ZipInfo("META-INF/container.xml"),
            '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
            '<rootfiles><rootfile full-path="content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>",
        )
        archive.writestr(zipfile.ZipInfo("notes.txt"), "%PDF-1.7 quoted in a note", compress_type=zipfile.ZIP_STORED)
    return path


def _comic_zip_with_pdf_magic(path: Path) -> Path:
    """A ZIP of images, which MuPDF otherwise opens as a comic book (one page per image)."""
    image = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(image, "PNG")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("%PDF-1.7.txt"), "x", compress_type=zipfile.ZIP_STORED)
        archive.writestr(zipfile.ZipInfo("page1.png"), image.getvalue(), compress_type=zipfile.ZIP_STORED)
    return path


def _encrypted(path: Path, user_pw: str) -> Path:
    document = pymupdf.open(stream=_pdf_bytes(), filetype="pdf")
    document.save(path, encryption=pymupdf.mupdf.PDF_ENCRYPT_AES_256, owner_pw="owner-secret", user_pw=user_pw)
    document.close()
    return path


def _well_formed_pdf(objects: list[bytes]) -> bytes:
    """Objects 1..n with a correct cross-reference table: MuPDF opens it without repairing it."""
    data = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(data))
        data += b"%d 0 obj%s endobj\n" % (number, body)
    table = b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    xref = b"xref\n0 %d\n0000000000 65535 f \n%s" % (len(objects) + 1, table)
    trailer = b"trailer<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, len(data))
    return data + xref + trailer


def _kind(path: Path) -> PdfErrorKind:
    with pytest.raises(PdfError) as raised:
        open_pdf(str(path)).close()
    return raised.value.kind


def _opens_with_pages(path: Path) -> int:
    document = open_pdf(str(path))
    try:
        assert document.is_pdf
        return int(document.page_count)
    finally:
        document.close()


# --- which files open ---------------------------------------------------------------------------


# MuPDF picks its parser from the file's content, with the name's extension as a hint; open_pdf must not care
# about the name (scratch copies end in .pdf, but the function takes any path).
NAMES = ["upload.pdf", "upload.png", "upload"]


@pytest.mark.parametrize("name", NAMES)
def test_a_png_with_the_pdf_magic_in_a_text_chunk_is_refused(tmp_path: Path, name: str) -> None:
    path = _png_with_pdf_magic_in_text_chunk(tmp_path / name)
    assert b"%PDF-" in path.read_bytes()[:1024]  # it passes the magic-bytes check

    # Only the PDF parser may read it, and it finds no PDF; the file begins as a PNG. Were MuPDF allowed to sniff
    # the content, it would open the image as a one-page document and the score could end up `ready`.
    assert _kind(path) is PdfErrorKind.NOT_PDF


@pytest.mark.parametrize("name", [*NAMES, "upload.epub", "upload.cbz"])
@pytest.mark.parametrize("make", [_epub_with_pdf_magic, _comic_zip_with_pdf_magic], ids=["epub", "comic_zip"])
def test_a_zip_with_the_pdf_magic_in_its_first_kilobyte_is_refused(
    tmp_path: Path, make: Callable[[Path], Path], name: str
) -> None:
    path = make(tmp_path / name)
    assert b"%PDF-" in path.read_bytes()[:1024]

    assert _kind(path) is PdfErrorKind.NOT_PDF


@pytest.mark.parametrize("name", NAMES)
def test_a_generated_pdf_opens(tmp_path: Path, name: str) -> None:
    assert _opens_with_pages(_write(tmp_path / name, _pdf_bytes(pages=3))) == 3


def test_a_pdf_whose_header_follows_junk_within_the_first_kilobyte_opens(tmp_path: Path) -> None:
    path = _write(tmp_path / "junk_first.pdf", b"\x00JUNK" * 100 + _pdf_bytes(pages=2))
    assert path.read_bytes().index(b"%PDF-") == 500

    assert _opens_with_pages(path) == 2


def test_a_pdf_whose_header_comes_after_the_first_kilobyte_is_not_a_pdf(tmp_path: Path) -> None:
    path = _write(tmp_path / "junk_first.pdf", b"\x00" * 1024 + _pdf_bytes())

    assert _kind(path) is PdfErrorKind.NOT_PDF


def test_a_truncated_pdf_is_repaired_and_opens(tmp_path: Path) -> None:
    data = _pdf_bytes(pages=2)
    path = _write(tmp_path / "no_xref.pdf", data[: data.rindex(b"xref")])

    assert _opens_with_pages(path) == 2


def _score_pages(pages: int) -> bytes:
    """Pages with content, written as PyMuPDF writes: page objects first, their content streams after them."""
    document = pymupdf.open()
    for number in range(pages):
        document.new_page(width=A4[0], height=A4[1]).insert_text((72, 72), f"Page {number + 1}")
    data: bytes = document.tobytes()
    document.close()
    return data


def test_a_pdf_cut_short_whose_pages_lost_their_content_is_corrupt(tmp_path: Path) -> None:
    data = _score_pages(8)
    path = _write(tmp_path / "cut_short.pdf", data[: len(data) // 2])
    with pymupdf.open(path) as repaired:  # MuPDF alone would show 8 pages, the later ones blank
        assert repaired.is_repaired and repaired.page_count == 8

    assert _kind(path) is PdfErrorKind.CORRUPT


def test_a_pdf_cut_short_after_its_last_page_content_opens(tmp_path: Path) -> None:
    data = _score_pages(3)
    path = _write(tmp_path / "no_trailer.pdf", data[: data.rindex(b"trailer")])

    assert _opens_with_pages(path) == 3


def test_every_cut_of_a_pdf_with_object_streams_opens_or_is_corrupt(tmp_path: Path) -> None:
    document = pymupdf.open()
    for number in range(12):
        document.new_page().insert_text((72, 72), f"Page {number + 1}")
    data = document.tobytes(deflate=True, garbage=4)  # objects packed in compressed object streams
    document.close()
    kinds = set()

    for cut in range(200, len(data), 37):
        try:
            open_pdf(str(_write(tmp_path / "cut.pdf", data[:cut]))).close()
        except PdfError as error:
            kinds.add(error.kind)

    assert kinds == {PdfErrorKind.CORRUPT}


def test_a_whole_pdf_with_a_broken_xref_and_a_page_without_its_content_opens(tmp_path: Path) -> None:
    """Damaged where it was written, not cut short (it ends with %%EOF): the page shows what there is."""
    data = _well_formed_pdf(
        [
            b"<</Type/Catalog/Pages 2 0 R>>",
            b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
            b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 9 0 R>>",
        ]
    )
    path = _write(tmp_path / "dangling.pdf", data.replace(b"startxref\n", b"startxref\n9"))
    with pymupdf.open(path) as repaired:
        assert repaired.is_repaired

    assert _opens_with_pages(path) == 1


def test_a_pdf_cut_short_before_its_page_tree_is_corrupt(tmp_path: Path) -> None:
    data = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n3 0 obj<</Length 5>>stream\nnotes\nendstream"
    path = _write(tmp_path / "no_page_tree.pdf", data)
    with pymupdf.open(path) as repaired:
        assert repaired.is_repaired and repaired.page_count == 0

    assert _kind(path) is PdfErrorKind.CORRUPT


def test_a_pdf_that_needs_a_password_is_encrypted(tmp_path: Path) -> None:
    assert _kind(_encrypted(tmp_path / "locked.pdf", user_pw="user-secret")) is PdfErrorKind.ENCRYPTED


def test_a_pdf_encrypted_for_certificate_holders_is_encrypted(tmp_path: Path) -> None:
    data = _pdf_bytes()
    trailer = data.rindex(b"trailer")
    data = data[:trailer] + data[trailer:].replace(
        b"/Root", b"/Encrypt << /Filter /Adobe.PubSec /SubFilter /adbe.pkcs7.s5 /V 4 /R 4 >> /Root", 1
    )

    assert _kind(_write(tmp_path / "certificate.pdf", data)) is PdfErrorKind.ENCRYPTED


def test_a_pdf_with_only_an_owner_password_opens(tmp_path: Path) -> None:
    path = _encrypted(tmp_path / "owner_only.pdf", user_pw="")

    assert _opens_with_pages(path) == 1


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"", PdfErrorKind.EMPTY),
        (b"<!DOCTYPE html><html><body><p>Not a score</p></body></html>", PdfErrorKind.NOT_PDF),
        (b"<!DOCTYPE html><html><head><title>%PDF-1.7 manual</title></head></html>", PdfErrorKind.NOT_PDF),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><!-- %PDF-1.7 --></svg>', PdfErrorKind.NOT_PDF),
        (b"\xff\xd8\xff\xfe\x00\x0c%PDF-1.7 \xff\xd9", PdfErrorKind.NOT_PDF),
        (b"%PDF-1.7\nnothing but a header\n", PdfErrorKind.CORRUPT),
        (b"notes %PDF-1.7 no objects\n", PdfErrorKind.CORRUPT),
        (
            _well_formed_pdf([b"<</Type/Catalog/Pages 2 0 R>>", b"<</Type/Pages/Kids[]/Count 0>>"]),
            PdfErrorKind.NO_PAGES,
        ),
    ],
    ids=[
        "zero_bytes",
        "html",
        "html_with_magic",
        "svg_with_magic",
        "jpeg_with_magic",
        "header_only",
        "text_with_magic",
        "no_pages",
    ],
)
def test_files_that_are_not_readable_pdfs_keep_their_kind(tmp_path: Path, data: bytes, kind: PdfErrorKind) -> None:
    assert _kind(_write(tmp_path / "file.pdf", data)) is kind


@pytest.mark.parametrize("name", NAMES)
def test_a_plain_png_is_not_a_pdf(tmp_path: Path, name: str) -> None:
    Image.new("RGB", (64, 64), "white").save(tmp_path / name, "PNG")

    assert _kind(tmp_path / name) is PdfErrorKind.NOT_PDF


def test_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        open_pdf(str(tmp_path / "gone.pdf"))


# --- metadata -----------------------------------------------------------------------------------


def test_read_info_puts_every_metadata_field_in_its_place(tmp_path: Path) -> None:
    document = pymupdf.open()
    for _ in range(2):
        document.new_page(width=A4[0], height=A4[1])
    document.set_metadata(
        {
            "title": "Dvořák – Humoreske 𝄞",
            "author": "Antonín Dvořák",
            "subject": "Humoresques, Op. 101 No. 7",
            "keywords": "piano; romantic",
            "creator": "LilyPond 2.24.3",
            "producer": "Ghostscript 10.02",
            "creationDate": "D:20240102030405+01'00'",
            "modDate": "D:20240607080910Z",
        }
    )
    document.save(tmp_path / "meta.pdf")
    document.close()
    # A title outside Latin-1 is stored as UTF-16 with a byte-order mark, the astral 𝄞 as a surrogate pair.
    assert b"/Title<FEFF" in (tmp_path / "meta.pdf").read_bytes()

    opened = open_pdf(str(tmp_path / "meta.pdf"))
    try:
        info = read_info(opened)
    finally:
        opened.close()

    assert info.page_count == 2
    metadata = info.metadata
    assert metadata.title == "Dvořák – Humoreske 𝄞"
    assert metadata.author == "Antonín Dvořák"
    assert metadata.subject == "Humoresques, Op. 101 No. 7"
    assert metadata.keywords == "piano; romantic"
    assert metadata.creator == "LilyPond 2.24.3"
    assert metadata.producer == "Ghostscript 10.02"
    assert metadata.creation_date == "2024-01-02T02:04:05+00:00"
    assert metadata.modification_date == "2024-06-07T08:09:10+00:00"


# --- PDF dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        ("D:20240102030405Z", "2024-01-02T03:04:05+00:00"),
        ("D:20240102030405z", "2024-01-02T03:04:05+00:00"),
        ("D:20240102030405Z00'00'", "2024-01-02T03:04:05+00:00"),
        ("D:20240102030405+01'00'", "2024-01-02T02:04:05+00:00"),
        ("D:20240102030405-05'30'", "2024-01-02T08:34:05+00:00"),
        ("D:20240101003000+01'00'", "2023-12-31T23:30:00+00:00"),  # the offset moves it into the previous year
        ("D:20240102030405+0100", "2024-01-02T02:04:05+00:00"),  # writers that drop the apostrophes
        ("D:20240102030405+01'", "2024-01-02T02:04:05+00:00"),
        ("D:20240102030405+01", "2024-01-02T02:04:05+00:00"),
        ("D:20240102030405", "2024-01-02T03:04:05"),  # no offset: naive
        ("D:2024", "2024-01-01T00:00:00"),
        ("D:202403", "2024-03-01T00:00:00"),
        ("D:20240315", "2024-03-15T00:00:00"),
        ("D:2024031513", "2024-03-15T13:00:00"),
        ("20240102030405Z", "2024-01-02T03:04:05+00:00"),  # no D: prefix
        ("2024", "2024-01-01T00:00:00"),
        ("  D:20240102030405Z  ", "2024-01-02T03:04:05+00:00"),
    ],
)
def test_pdf_dates_become_iso_8601(value: str, iso: str) -> None:
    assert pdf_date_to_iso(value) == iso


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "garbage",
        "D:",
        "D:24",
        "D:2024garbage",
        "D:20241301",  # month 13
        "D:20240230",  # 30 February
        "D:20240102250000",  # hour 25
        "D:20240102030405+24'00'",  # offset of a whole day
        "D:00000101",  # year 0
        "D:00010101000000+01'00'",  # before year 1 in UTC
        "Tue Jan  2 03:04:05 2024",
        "2024-01-02T03:04:05",
    ],
)
def test_unreadable_pdf_dates_are_none(value: str | None) -> None:
    assert pdf_date_to_iso(value) is None


# --- thumbnails through the renderer ------------------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def renderer() -> AsyncIterator[PymupdfRenderer]:
    async with PymupdfRenderer(processes=1) as shared:
        yield shared


MARK = 40  # points: a black square in the top-left corner of the visible (cropped, unrotated) page


def _marked_page(path: Path, rotation: int = 0, cropbox: pymupdf.Rect | None = None) -> Path:
    document = pymupdf.open()
    page = document.new_page(width=A4[0], height=A4[1])
    visible = cropbox or page.rect
    page.draw_rect(pymupdf.Rect(visible.x0, visible.y0, visible.x0 + MARK, visible.y0 + MARK), fill=(0, 0, 0))
    if cropbox is not None:
        page.set_cropbox(cropbox)
    page.set_rotation(rotation)
    document.save(path)
    document.close()
    return path


def _expected_size(width: float, height: float) -> tuple[int, int]:
    zoom = fitted_zoom(width, height)
    return round(width * zoom), round(height * zoom)


def _dark_corner(image: Image.Image) -> str:
    """Which corner holds the marker: the only one of the four that is dark."""
    grey = image.convert("L")
    inset = 4
    corners = {
        "top-left": (inset, inset),
        "top-right": (grey.width - 1 - inset, inset),
        "bottom-left": (inset, grey.height - 1 - inset),
        "bottom-right": (grey.width - 1 - inset, grey.height - 1 - inset),
    }
    dark = [name for name, xy in corners.items() if grey.getpixel(xy) < 64]  # type: ignore[operator]
    assert len(dark) == 1, dark
    return dark[0]


async def _thumbnail(renderer: PymupdfRenderer, path: Path) -> Image.Image:
    jpeg = await renderer.render_thumbnail(path, 1)
    image = Image.open(io.BytesIO(jpeg))
    assert image.format == "JPEG"
    return image


def _assert_size(image: Image.Image, expected: tuple[int, int]) -> None:
    assert abs(image.width - expected[0]) <= 1, (image.size, expected)
    assert abs(image.height - expected[1]) <= 1, (image.size, expected)


async def test_a_page_rotated_90_degrees_is_a_landscape_thumbnail(renderer: PymupdfRenderer, tmp_path: Path) -> None:
    path = _marked_page(tmp_path / "rotated.pdf", rotation=90)

    image = await _thumbnail(renderer, path)

    # Displayed, the A4 portrait page is 842 x 595 points.
    assert _expected_size(A4[1], A4[0]) == (300, 212)
    _assert_size(image, (300, 212))
    assert _dark_corner(image) == "top-right"  # /Rotate turns the page clockwise


async def test_a_cropbox_of_half_the_page_sets_the_thumbnail(renderer: PymupdfRenderer, tmp_path: Path) -> None:
    cropbox = pymupdf.Rect(0, A4[1] / 2, A4[0], A4[1])  # the lower half
    path = _marked_page(tmp_path / "cropped.pdf", cropbox=cropbox)

    image = await _thumbnail(renderer, path)

    expected = _expected_size(cropbox.width, cropbox.height)
    assert expected != _expected_size(*A4)
    _assert_size(image, expected)
    assert _dark_corner(image) == "top-left"


async def test_a_page_rotated_270_degrees_with_a_cropbox(renderer: PymupdfRenderer, tmp_path: Path) -> None:
    cropbox = pymupdf.Rect(50, 100, 350, 700)  # 300 x 600 points, portrait
    path = _marked_page(tmp_path / "rotated_cropped.pdf", rotation=270, cropbox=cropbox)

    image = await _thumbnail(renderer, path)

    # Displayed, the cropbox is 600 x 300 points: 300 x 150 pixels (unrotated: 200 x 400; uncropped: 300 x 212).
    expected = _expected_size(cropbox.height, cropbox.width)
    assert expected == (300, 150)
    _assert_size(image, expected)
    assert _dark_corner(image) == "bottom-left"  # turned counter-clockwise


async def test_the_renderer_refuses_a_png_with_the_pdf_magic(renderer: PymupdfRenderer, tmp_path: Path) -> None:
    path = _png_with_pdf_magic_in_text_chunk(tmp_path / "scan.pdf")

    with pytest.raises(PdfError) as inspected:
        await renderer.inspect(path)
    assert inspected.value.kind is PdfErrorKind.NOT_PDF
    with pytest.raises(PdfError) as rendered:
        await renderer.render_thumbnail(path, 1)
    assert rendered.value.kind is PdfErrorKind.NOT_PDF


# --- JPEG quality -------------------------------------------------------------------------------


def _quantization_at(quality: int, mode: str, size: tuple[int, int]) -> dict[int, list[int]]:
    output = io.BytesIO()
    Image.new(mode, size).save(output, "JPEG", quality=quality)
    with Image.open(output) as image:
        return dict(image.quantization)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("fill", "mode"), [((0.5, 0.5, 0.5), "L"), ((0.9, 0.2, 0.1), "RGB")])
async def test_thumbnails_are_jpegs_of_quality_85(
    renderer: PymupdfRenderer, tmp_path: Path, fill: tuple[float, float, float], mode: str
) -> None:
    document = pymupdf.open()
    document.new_page(width=A4[0], height=A4[1]).draw_rect(pymupdf.Rect(100, 100, 400, 600), fill=fill)
    document.save(tmp_path / "page.pdf")
    document.close()

    image = await _thumbnail(renderer, tmp_path / "page.pdf")

    assert image.mode == mode
    tables = dict(image.quantization)  # type: ignore[attr-defined]
    assert tables == _quantization_at(85, mode, image.size)
    assert tables != _quantization_at(84, mode, image.size)
    assert tables != _quantization_at(86, mode, image.size)
