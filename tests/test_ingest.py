"""Ingest: every fax container becomes square-pixel pages; bad files give clear, typed errors."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from intake.errors import CorruptFileError, EmptyFileError, ImageTooLargeError, UnsupportedFormatError
from intake.ingest import load_pages, sha256_of, to_square_pixels


def _fax_image(page_image: np.ndarray, ydpi: int) -> Image.Image:
    """The official page as a fax machine sends it: 1728 px wide at 204 dpi, ``ydpi`` lines per inch, 1-bit."""
    h, w = page_image.shape
    im = Image.fromarray(page_image).resize((1728, int(round(h / 200 * ydpi))), Image.LANCZOS)
    return im.point(lambda v: 255 if v > 160 else 0).convert("1")


@pytest.mark.parametrize("compression,ydpi", [("group4", 196), ("group3", 98), ("raw", 98)])
def test_fax_tiff_is_resampled_to_square_pixels(tmp_path, official_pages, compression, ydpi):
    path = tmp_path / f"fax_{compression}.tif"
    _fax_image(official_pages[2].image, ydpi).save(path, compression=None if compression == "raw" else compression, dpi=(204, ydpi))
    (page,) = load_pages(path)
    assert page.dpi == 204
    assert page.original_dpi == (204, ydpi)
    h, w = page.image.shape
    assert w == 1728
    # Square pixels at 204 dpi: the page is as many pixels tall as 11.7 inches at 204 dpi,
    # whatever the line resolution it was sent at.
    assert abs(h - official_pages[2].image.shape[0] * 204 / 200) <= 3
    assert page.source.page == 1 and page.source.sha256 == sha256_of(path)


def test_multipage_tiff_keeps_page_order(tmp_path, official_pages):
    path = tmp_path / "multi.tif"
    frames = [_fax_image(p.image, 196) for p in official_pages]
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="group4", dpi=(204, 196))
    pages = load_pages(path)
    assert [p.source.page for p in pages] == [1, 2, 3]
    assert len({p.source.sha256 for p in pages}) == 1


def test_pdf_pages_render_at_200_dpi(official_pages):
    assert len(official_pages) == 3
    assert all(p.dpi == 200 and p.image.shape == (2339, 1654) for p in official_pages)


def test_image_only_pdf_from_a_gateway(tmp_path, official_pages):
    path = tmp_path / "gateway.pdf"
    _fax_image(official_pages[2].image, 98).convert("L").save(path, resolution=204)
    (page,) = load_pages(path)
    assert page.image.ndim == 2 and page.image.dtype == np.uint8


def test_png_and_jpeg(tmp_path, official_pages):
    for ext in ("png", "jpg"):
        path = tmp_path / f"page.{ext}"
        Image.fromarray(official_pages[2].image).save(path, dpi=(200, 200))
        (page,) = load_pages(path)
        assert page.image.shape == official_pages[2].image.shape


def test_empty_file(tmp_path):
    path = tmp_path / "empty.tif"
    path.write_bytes(b"")
    with pytest.raises(EmptyFileError) as err:
        load_pages(path)
    assert err.value.reason == "empty_file"


def test_text_renamed_tif(tmp_path):
    path = tmp_path / "notes.tif"
    path.write_text("this is not a fax\n")
    with pytest.raises(UnsupportedFormatError):
        load_pages(path)


def test_truncated_tiff(tmp_path, official_pages):
    buf = io.BytesIO()
    _fax_image(official_pages[2].image, 196).convert("L").save(buf, format="TIFF", compression="tiff_lzw")
    path = tmp_path / "truncated.tif"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 3])
    with pytest.raises(CorruptFileError):
        load_pages(path)


def test_corrupt_pdf(tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n")
    with pytest.raises(CorruptFileError):
        load_pages(path)


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    # A valid PNG header declaring 100,000 x 100,000 pixels with almost no data.
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 1, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b"")
    path = tmp_path / "bomb.png"
    path.write_bytes(png)
    with pytest.raises(ImageTooLargeError):
        load_pages(path)


def test_square_pixels_are_left_alone():
    img = np.full((100, 80), 255, np.uint8)
    out, dpi = to_square_pixels(img, (200, 200))
    assert out is img and dpi == 200


def test_password_protected_pdf(tmp_path):
    pypdf = pytest.importorskip("pypdf")
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-256")
    path = tmp_path / "locked.pdf"
    with open(path, "wb") as fh:
        writer.write(fh)
    from intake.errors import EncryptedPdfError

    with pytest.raises(EncryptedPdfError, match="password"):
        load_pages(path)
