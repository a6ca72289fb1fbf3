"""The fax channel: what a sending machine and the line do to a clean 200-dpi page, and file writing.

Order matters and follows the real path: the paper lies a little crooked (rotation,
scale, shift) or upside down in the feeder; the sending machine prints its header
line upright at the top; the page is sampled at 204 x 98 ("standard") or
204 x 196 ("fine") dpi, so pixels are not square; it is binarised; the line adds
speckle, streaks from a dirty scanner glass and dropped scan lines.
"""

from __future__ import annotations

import datetime as dt
import io

import cv2
import numpy as np
from PIL import Image

RESOLUTIONS = {"standard": (204, 98), "fine": (204, 196)}
FAX_WIDTH = 1728  # ITU-T T.4: 1728 pixels across an A4 line at 204 dpi
MAX_ROTATION = 2.5  # degrees
MAX_SCALE = 0.03
MAX_SHIFT = 30  # 200-dpi pixels


def geometry(rng) -> dict:
    """The random placement of the paper in the feeder, within the stated limits."""
    return {
        "angle": float(rng.uniform(-MAX_ROTATION, MAX_ROTATION)),
        "scale": float(1 + rng.uniform(-MAX_SCALE, MAX_SCALE)),
        "shift": (float(rng.uniform(-MAX_SHIFT, MAX_SHIFT)), float(rng.uniform(-MAX_SHIFT, MAX_SHIFT))),
    }


def place(image: np.ndarray, g: dict) -> np.ndarray:
    h, w = image.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), g["angle"], g["scale"])
    m[:, 2] += g["shift"]
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)


def header_text(when: dt.datetime, sender: str, page: int, pages: int, rng) -> str:
    style = int(rng.integers(3))
    if style == 0:
        return f"{when:%Y/%m/%d %H:%M}   FROM: {sender}    P.{page:03d}/{pages:03d}"
    if style == 1:
        return f"{when:%b.%d.%Y %I:%M%p}    {sender}    #{rng.integers(1000, 9999)} P.{page:03d}/{pages:03d}"
    return f"{when:%y-%m-%d %H:%M}  {sender}  P.{page:03d}/{pages:03d}"


def draw_header(image: np.ndarray, text: str, rng) -> None:
    """The sending machine's header line, printed upright across the top margin."""
    band = int(rng.integers(26, 34))
    image[:band] = 255
    x = int(rng.integers(40, 200))
    cv2.putText(image, text, (x, band - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.62, 0, 2, cv2.LINE_AA)


def binarise(image: np.ndarray, rng) -> np.ndarray:
    """0/255 image: Otsu, a fixed machine threshold, or error-diffusion dithering ("photo" mode)."""
    r = rng.random()
    if r < 0.2:
        return np.asarray(Image.fromarray(image).convert("1"), np.uint8) * 255  # Floyd-Steinberg
    if rng.random() < 0.4:
        image = cv2.GaussianBlur(image, (3, 3), rng.uniform(0.4, 0.9))
    if r < 0.75:
        _, out = cv2.threshold(image, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    else:
        _, out = cv2.threshold(image, int(rng.integers(110, 190)), 255, cv2.THRESH_BINARY)
    return out


def line_noise(image: np.ndarray, rng) -> None:
    """Speckle, vertical streaks and dropped/repeated scan lines, in place."""
    h, w = image.shape
    n = int(rng.integers(0, 400))
    ys, xs = rng.integers(0, h - 2, n), rng.integers(0, w - 2, n)
    sz = rng.integers(1, 3, n)
    for y, x, s in zip(ys, xs, sz):
        image[y: y + s, x: x + s] = 0
    if rng.random() < 0.2:  # dirt on the scanner glass: a thin dark line down the page
        for _ in range(int(rng.integers(1, 3))):
            x = int(rng.integers(0, w - 2))
            y0 = int(rng.integers(0, h // 2)) if rng.random() < 0.5 else 0
            image[y0:, x: x + int(rng.integers(1, 3))] = 0
    if rng.random() < 0.2:  # transmission errors: lines lost (white) or repeated
        for _ in range(int(rng.integers(1, 5))):
            y = int(rng.integers(1, h - 6))
            k = int(rng.integers(1, 5))
            image[y: y + k] = 255 if rng.random() < 0.5 else image[y - 1]


def fax_channel(image: np.ndarray, rng: np.random.Generator, resolution: str = "fine", flip: bool = False,
                header: str | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """Send one clean 200-dpi greyscale page through a fax: returns (0/255 image, (xdpi, ydpi))."""
    xdpi, ydpi = RESOLUTIONS[resolution]
    page = place(image, geometry(rng))
    if flip:
        page = np.ascontiguousarray(page[::-1, ::-1])
    if header:
        draw_header(page, header, rng)
    h, w = page.shape
    out_w, out_h = int(round(w * xdpi / 200)), int(round(h * ydpi / 200))
    page = cv2.resize(page, (out_w, out_h), interpolation=cv2.INTER_AREA)
    # Centre on a full fax line, a few pixels off as real machines are.
    left = max(0, (FAX_WIDTH - out_w) // 2 + int(rng.integers(-8, 9)))
    line = np.full((out_h, FAX_WIDTH), 255, np.uint8)
    line[:, left: left + out_w] = page[:, : FAX_WIDTH - left]
    out = binarise(line, rng)
    line_noise(out, rng)
    return out, (xdpi, ydpi)


# -- files ------------------------------------------------------------------------------------


def to_pil(page: np.ndarray, dpi: tuple[int, int]) -> Image.Image:
    im = Image.fromarray(page).convert("1", dither=Image.Dither.NONE)
    im.info["dpi"] = dpi
    return im


def write(pages: list[np.ndarray], dpi: tuple[int, int], fmt: str, when: dt.datetime) -> bytes:
    """Encode a fax as one file: tiff-g4, tiff-g3, tiff-raw, pdf (image-only) or png (one page)."""
    ims = [to_pil(p, dpi) for p in pages]
    buf = io.BytesIO()
    if fmt.startswith("tiff"):
        comp = {"tiff-g4": "group4", "tiff-g3": "group3", "tiff-raw": "raw"}[fmt]
        ims[0].save(buf, "TIFF", compression=comp, dpi=dpi, save_all=True, append_images=ims[1:])
    elif fmt == "pdf":
        # Fixed dates so the same seed gives the same bytes.
        ims[0].save(buf, "PDF", dpi=dpi, save_all=True, append_images=ims[1:], title="FAX",
                    producer="samplegen", creationDate=when.timetuple(), modDate=when.timetuple())
    elif fmt == "png":
        if len(ims) != 1:
            raise ValueError("a PNG holds one page")
        ims[0].save(buf, "PNG", dpi=dpi, optimize=True)
    else:
        raise ValueError(f"unknown format {fmt}")
    return buf.getvalue()


EXTENSIONS = {"tiff-g4": ".tif", "tiff-g3": ".tif", "tiff-raw": ".tif", "pdf": ".pdf", "png": ".png"}
