"""Ingest: turn one fax file (TIFF, PDF, PNG, JPEG) into page images with square pixels.

Fax machines send 204x98 dpi ("standard") or 204x196 dpi ("fine") pages; every
page is resampled so that one pixel is square, at the file's horizontal dpi.
"""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from intake.errors import (
    CorruptFileError,
    EmptyFileError,
    EncryptedPdfError,
    EngineError,
    FileTooLargeError,
    ImageTooLargeError,
    InputFileError,
    NoPagesError,
    PixelBudgetError,
    TooManyPagesError,
    UnsupportedFormatError,
)
from intake.model import Page, SourceRef

# Limits checked BEFORE anything is decoded, so that a tiny hostile file cannot take
# gigabytes: a file's bytes, its page count, each page's pixels and all pages' pixels
# together (counted after resampling to square pixels, which doubles a 204x98 page).
# An A4 page at 400 dpi is ~15.5 Mpx and 50 fine-mode A4 pages are ~200 Mpx.
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_PAGES = 50
MAX_PIXELS_PER_PAGE = 25_000_000
MAX_PIXELS_PER_FILE = 220_000_000
PDF_RENDER_DPI = 200
PDFINFO_TIMEOUT_S = 30
DEFAULT_DPI = 200.0
# Group 3 fax widths: a 1728-pixel-wide page is 204 dpi across A4.
FAX_WIDTH_PX = 1728


def sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sniff_format(head: bytes) -> str | None:
    """The file's real format from its first bytes (extensions lie)."""
    if head.startswith(b"%PDF"):
        return "pdf"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    return None


def load_pages(path: str | Path) -> list[Page]:
    """Every page of a fax file as a ``Page``; raises an InputFileError subclass that says why if it can't."""
    path_str = str(path)
    p = Path(path)
    if not p.is_file():
        raise InputFileError("file not found or not a regular file", path=path_str)
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise FileTooLargeError(
            f"the file is {size // (1024 * 1024)} MiB, more than the {MAX_FILE_BYTES // (1024 * 1024)} MiB a fax may be",
            path=path_str,
        )
    data = p.read_bytes()
    if not data:
        raise EmptyFileError("the file is empty (0 bytes); ask the sender to fax it again", path=path_str)
    digest = hashlib.sha256(data).hexdigest()
    kind = sniff_format(data[:16])
    if kind is None:
        raise UnsupportedFormatError(
            "not a TIFF, PDF, PNG or JPEG file (whatever its name says); only fax images can be read", path=path_str
        )
    if kind == "pdf":
        images = _pdf_pages(p, path_str)
    else:
        images = _raster_pages(data, path_str)
    if not images:
        raise NoPagesError("the file holds no pages", path=path_str)
    pages = []
    for number, (img, dpi) in enumerate(images, start=1):
        square, square_dpi = to_square_pixels(img, dpi)
        pages.append(Page(square, square_dpi, SourceRef(path_str, number, digest), original_dpi=dpi))
    return pages


def _raster_pages(data: bytes, path_str: str) -> list[tuple[np.ndarray, tuple[float, float]]]:
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS_PER_PAGE
        try:
            with Image.open(io.BytesIO(data)) as im:
                # Every page's size and resolution first, from the headers alone: refuse before decoding.
                frames = []
                for i in range(MAX_PAGES + 1):
                    try:
                        im.seek(i)
                    except EOFError:
                        break
                    w, h = im.size
                    frames.append((w, h, _dpi_of(im, w, h)))
                check_page_budget([(w, h * max(1.0, dpi[0] / dpi[1])) for w, h, dpi in frames], path_str)
                for i, (w, h, dpi) in enumerate(frames):
                    im.seek(i)
                    grey = np.asarray(im.convert("L"), dtype=np.uint8).copy()
                    out.append((grey, dpi))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageTooLargeError(
                "the image declares a size far beyond any fax (possible decompression bomb); refusing to decode it",
                path=path_str,
            ) from None
        except InputFileError:
            raise
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            if out:
                # A truncated multi-page TIFF: keep the pages that decoded, but say so.
                raise CorruptFileError(
                    f"the file is damaged after page {len(out)} ({exc}); ask the sender to fax it again", path=path_str
                ) from None
            raise CorruptFileError(f"the image is damaged and cannot be decoded ({exc})", path=path_str) from None
    return out


def check_page_budget(sizes: list[tuple[float, float]], path_str: str) -> None:
    """Refuse a file whose pages (width, height in square pixels) exceed the page count or pixel limits."""
    if len(sizes) > MAX_PAGES:
        raise TooManyPagesError(
            f"the file has more than {MAX_PAGES} pages; the desk reads at most {MAX_PAGES} pages from one fax. "
            "Ask the sender to split it", path=path_str,
        )
    total = 0.0
    for number, (w, h) in enumerate(sizes, start=1):
        if w * h > MAX_PIXELS_PER_PAGE:
            raise ImageTooLargeError(
                f"page {number} would be {int(w)}x{int(h)} pixels, far more than any fax; refusing to decode it",
                path=path_str,
            )
        total += w * h
    if total > MAX_PIXELS_PER_FILE:
        raise PixelBudgetError(
            f"the pages together would be {total / 1e6:.0f} million pixels, more than the "
            f"{MAX_PIXELS_PER_FILE / 1e6:.0f} million one fax may take; refusing to decode it", path=path_str,
        )


def _dpi_of(frame: Image.Image, w: int, h: int) -> tuple[float, float]:
    dpi = frame.info.get("dpi")
    if dpi and dpi[0] and dpi[1] and float(dpi[0]) > 20 and float(dpi[1]) > 20:
        return float(dpi[0]), float(dpi[1])
    # No usable resolution tag: a 1728-wide page with a short height is a standard-resolution fax.
    if abs(w - FAX_WIDTH_PX) < 40:
        return (204.0, 98.0) if h / w < 1.0 else (204.0, 196.0)
    # Otherwise assume square pixels; alignment absorbs any scale difference.
    return (DEFAULT_DPI, DEFAULT_DPI)


def _pdfinfo(p: Path, *args: str) -> tuple[int, str]:
    try:
        done = subprocess.run(["pdfinfo", *args, str(p)], capture_output=True, timeout=PDFINFO_TIMEOUT_S)
    except FileNotFoundError:
        raise EngineError("poppler (pdfinfo/pdftoppm) is not installed; run: apt-get install poppler-utils") from None
    except subprocess.TimeoutExpired:
        return -1, "timeout"
    return done.returncode, (done.stdout + done.stderr).decode("utf-8", "replace")


_PAGE_SIZE = re.compile(r"^Page\s+\d+\s+size:\s+([0-9.]+)\s+x\s+([0-9.]+)\s+pts", re.MULTILINE)


def _pdf_pages(p: Path, path_str: str) -> list[tuple[np.ndarray, tuple[float, float]]]:
    # pdfinfo's own words are never shown: they hold the file's path (often the sender's number).
    rc, text = _pdfinfo(p)
    lower = text.lower()
    if "invalid page count 0" in lower or re.search(r"^Pages:\s+0\s*$", text, re.MULTILINE):
        raise NoPagesError("the PDF has no pages; ask the sender to fax it again", path=path_str)
    if rc != 0:
        if "password" in lower or "encrypt" in lower:
            raise EncryptedPdfError("the PDF is password-protected; ask the sender for an unprotected copy", path=path_str)
        raise CorruptFileError("the PDF is damaged and cannot be read; ask the sender to fax it again", path=path_str)
    encrypted = (re.search(r"^Encrypted:\s+(.*)$", text, re.MULTILINE) or [None, "no"])[1]
    if encrypted.lower().startswith("yes") and "print:no" in encrypted.replace(" ", "").lower():
        raise EncryptedPdfError("the PDF is protected against printing; ask the sender for an unprotected copy", path=path_str)
    count = int((re.search(r"^Pages:\s+(\d+)", text, re.MULTILINE) or [None, "0"])[1])
    if count == 0:
        raise NoPagesError("the PDF has no pages; ask the sender to fax it again", path=path_str)
    if count > MAX_PAGES:
        check_page_budget([(0.0, 0.0)] * count, path_str)
    rc, text = _pdfinfo(p, "-f", "1", "-l", str(count))
    sizes = [(float(w) / 72 * PDF_RENDER_DPI, float(h) / 72 * PDF_RENDER_DPI) for w, h in _PAGE_SIZE.findall(text)]
    if rc != 0 or len(sizes) != count:
        raise CorruptFileError("the PDF's pages cannot be measured; ask the sender to fax it again", path=path_str)
    check_page_budget(sizes, path_str)
    from pdf2image import convert_from_path
    from pdf2image.exceptions import PDFPageCountError, PDFSyntaxError

    try:
        images = convert_from_path(str(p), dpi=PDF_RENDER_DPI, grayscale=True, last_page=count)
    except (PDFPageCountError, PDFSyntaxError):
        raise CorruptFileError("the PDF could not be rendered; ask the sender to fax it again", path=path_str) from None
    if len(images) != count:
        raise CorruptFileError("the PDF could not be rendered whole; ask the sender to fax it again", path=path_str)
    return [(np.asarray(im.convert("L"), dtype=np.uint8).copy(), (float(PDF_RENDER_DPI), float(PDF_RENDER_DPI))) for im in images]


def to_square_pixels(image: np.ndarray, dpi: tuple[float, float]) -> tuple[np.ndarray, float]:
    """Resample so both axes share the horizontal resolution (204x98 fax pages are stretched 2x tall)."""
    xdpi, ydpi = dpi
    if abs(xdpi - ydpi) / xdpi < 0.02:
        return image, float(xdpi)
    h, w = image.shape[:2]
    new_h = int(round(h * xdpi / ydpi))
    # Area/linear interpolation keeps thin strokes that nearest-neighbour would break.
    interp = cv2.INTER_LINEAR if new_h > h else cv2.INTER_AREA
    return cv2.resize(image, (w, new_h), interpolation=interp), float(xdpi)
