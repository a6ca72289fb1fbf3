"""How the customer's office put the form on paper before faxing it, on clean 200-dpi A4 pages.

``full``            the form at its own size (what every fax had before layouts existed)
``scale-NN``        the form printed at NN% ("fit to page", "shrink", a reduced or enlarged copy):
                    below 100% it sits centred or in the top-left corner of the sheet; above
                    100% it is centred and the paper cuts off what does not fit
``2up-notes-form``  two pages to a sheet: the notes page on the left, the form on the right, each at
``2up-form-notes``  about 69%, the landscape sheet turned 90° (either way) to go through the fax
``cut-edge``        the form at full size but shifted so that a few millimetres of it fall off one edge

A layout only rearranges clean pages; the fax channel (``samplegen.fax``) then does the rest.
"""

from __future__ import annotations

import re

import cv2
import numpy as np

A4 = (1654, 2339)  # width, height at 200 dpi
MM = 200 / 25.4  # 200-dpi pixels per millimetre
TWO_UP_SCALE = 0.69  # A4 -> A5 is 0.707; printers keep a margin

LAYOUTS = ("full", "scale-50", "scale-60", "scale-70", "scale-76", "scale-130",
           "2up-notes-form", "2up-form-notes", "cut-edge")
# ``--layouts mixed``: mostly full pages, the rest shared by the other layouts.
MIXED_FULL_SHARE = 0.7


def parse(spec: str) -> list[str]:
    """``full`` / ``mixed`` / a comma-separated list of layout names (``scale-NN`` for any NN in 45..135)."""
    if spec in ("", "full"):
        return ["full"]
    if spec == "mixed":
        return ["mixed"]
    names = [s.strip() for s in spec.split(",") if s.strip()]
    bad = [n for n in names if n not in LAYOUTS and not _scale_of(n)]
    if bad or not names:
        raise ValueError(f"unknown layout(s) {bad}; choose from full, mixed, {', '.join(LAYOUTS[1:])} or scale-NN (45..135)")
    return names


def choose(rng: np.random.Generator, layouts: list[str]) -> str:
    if layouts == ["mixed"]:
        if rng.random() < MIXED_FULL_SHARE:
            return "full"
        return str(rng.choice(LAYOUTS[1:]))
    return str(rng.choice(layouts))


def _scale_of(name: str) -> float | None:
    m = re.fullmatch(r"scale-(\d{2,3})", name)
    if m and 45 <= int(m.group(1)) <= 135:
        return int(m.group(1)) / 100.0
    return None


def blank_a4() -> np.ndarray:
    return np.full((A4[1], A4[0]), 255, np.uint8)


def printed(page: np.ndarray, scale: float) -> np.ndarray:
    """``page`` printed at ``scale`` as a laser printer does: solid toner at 600 dpi (a reduced
    hairline stays black, only thinner), seen at 200 dpi."""
    fine = cv2.resize(page, None, fx=3 * scale, fy=3 * scale, interpolation=cv2.INTER_LINEAR)
    toner = np.where(fine < 160, 0, 255).astype(np.uint8)
    return cv2.resize(toner, None, fx=1 / 3, fy=1 / 3, interpolation=cv2.INTER_AREA)


def scaled(page: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    """``page`` printed at ``scale`` on an A4 sheet."""
    small = printed(page, scale)
    sheet = blank_a4()
    h, w = small.shape
    if scale < 1 and rng.random() < 0.5:  # a reduced copy laid in the copier's corner, a few mm in
        x0, y0 = int(rng.integers(0, 6 * MM)), int(rng.integers(0, 6 * MM))
    else:
        x0, y0 = (A4[0] - w) // 2, (A4[1] - h) // 2
    return paste(sheet, small, x0, y0)


def paste(sheet: np.ndarray, image: np.ndarray, x0: int, y0: int) -> np.ndarray:
    """``image`` laid on ``sheet`` with its top-left corner at (x0, y0), clipped to the sheet."""
    H, W = sheet.shape
    h, w = image.shape
    sx0, sy0 = max(0, -x0), max(0, -y0)
    dx0, dy0 = max(0, x0), max(0, y0)
    dx1, dy1 = min(W, x0 + w), min(H, y0 + h)
    if dx1 > dx0 and dy1 > dy0:
        sheet[dy0:dy1, dx0:dx1] = np.minimum(sheet[dy0:dy1, dx0:dx1], image[sy0:sy0 + dy1 - dy0, sx0:sx0 + dx1 - dx0])
    return sheet


def two_up(left: np.ndarray, right: np.ndarray, clockwise: bool) -> np.ndarray:
    """Two portrait pages side by side on a landscape A4 sheet, turned to portrait for the fax."""
    sheet = np.full((A4[0], A4[1]), 255, np.uint8)  # landscape: 2339 wide, 1654 high
    half = A4[1] // 2
    for i, page in enumerate((left, right)):
        small = printed(page, TWO_UP_SCALE)
        h, w = small.shape
        paste(sheet, small, i * half + (half - w) // 2, (A4[0] - h) // 2)
    return cv2.rotate(sheet, cv2.ROTATE_90_CLOCKWISE if clockwise else cv2.ROTATE_90_COUNTERCLOCKWISE)


def cut_edge(page: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """The page shifted so that 2-6 mm of the form's printed area fall off one edge."""
    ys, xs = np.nonzero(page < 128)
    margins = {"left": xs.min(), "right": page.shape[1] - 1 - xs.max(), "top": ys.min(), "bottom": page.shape[0] - 1 - ys.max()}
    edge = str(rng.choice(list(margins)))
    shift = int(margins[edge] + rng.uniform(2, 6) * MM)
    dx = {"left": -shift, "right": shift}.get(edge, 0)
    dy = {"top": -shift, "bottom": shift}.get(edge, 0)
    return paste(blank_a4(), page, dx, dy), edge


def lay_out(name: str, form: np.ndarray, notes: np.ndarray | None, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """The clean sheet that carries the form in layout ``name``, and the form's turn on it (0/90/270,
    counter-clockwise as ``classify`` reports rotation)."""
    if name == "full":
        return form, 0
    if (scale := _scale_of(name)) is not None:
        return scaled(form, scale, rng), 0
    if name in ("2up-notes-form", "2up-form-notes"):
        clockwise = bool(rng.random() < 0.5)
        pair = (notes, form) if name == "2up-notes-form" else (form, notes)
        return two_up(*pair, clockwise), 270 if clockwise else 90
    if name == "cut-edge":
        return cut_edge(form, rng)[0], 0
    raise ValueError(f"unknown layout {name!r}")
