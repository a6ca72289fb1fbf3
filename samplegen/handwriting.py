"""Hand-drawn marks as ink masks: digits, kanji/kana, circles, ticks, stamps.

A mask is a float32 array in [0, 1] (1 = full ink). ``put`` lays a mask onto a
greyscale page at a darkness given by the writer's ink, so overlapping strokes
and printed lines stay as dark as the darker of the two.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from samplegen import assets, blocky


@dataclass
class Writer:
    """One person's hand: the same for every mark on one form."""

    ink: int  # grey level of the ink, 0 = black
    pen: int  # stroke width in 200-dpi pixels for drawn strokes
    size: float  # how much of a box the writing fills
    slant: float  # horizontal shear of digits (x += slant * -y)
    digit_sources: tuple[str, ...]  # "mnist", "font", "kanjivg", drawn from at random per digit
    mnist_range: tuple[int, int]
    text_source: str  # "font" or "kanjivg"
    font: str
    sloppy: float  # 0..1, how often ink strays over cell lines
    digit_font: str = ""  # one font for every font digit; "" = the shared fonts, at random
    blocky_pen: blocky.Pen | None = None  # the tablet pen of a blocky writer

    @classmethod
    def random(cls, rng: np.random.Generator, writers: str = "train") -> "Writer":
        if writers == "test":
            # Evaluation hands: held-out MNIST digits mixed with font and KanjiVG digits.
            sources = tuple(rng.choice(["mnist", "font", "kanjivg"], size=3, p=[0.5, 0.3, 0.2]))
            mrange = assets.MNIST_TEST
        elif writers == "train":
            sources = ("mnist",)
            mrange = assets.MNIST_TRAIN
        elif writers in ("fonts", "debian-fonts"):
            return cls._in_system_fonts(rng)
        elif writers in SINGLE_SOURCE:
            return cls._single_source(rng, writers)
        else:
            raise ValueError(f"writers must be one of train, test, fonts, debian-fonts, {', '.join(SINGLE_SOURCE)}; "
                             f"not {writers!r}")
        return cls(
            **cls._pen_and_posture(rng),
            digit_sources=sources,
            mnist_range=mrange,
            text_source=str(rng.choice(["font", "kanjivg"], p=[0.6, 0.4])),
            font=str(rng.choice(assets.FONTS, p=[0.45, 0.4, 0.15])),
            sloppy=float(rng.uniform(0.0, 0.25)),
        )

    @staticmethod
    def _pen_and_posture(rng: np.random.Generator) -> dict:
        """Ink, pen width, writing size and slant, drawn first for every kind of writer."""
        return {"ink": int(rng.integers(0, 70)), "pen": int(rng.choice([3, 3, 4, 4, 5, 6])),
                "size": float(rng.uniform(0.55, 0.85)), "slant": float(rng.uniform(-0.25, 0.3))}

    @classmethod
    def _in_system_fonts(cls, rng: np.random.Generator) -> "Writer":
        """A hand drawn entirely from Debian's handwriting fonts (``assets.SYSTEM_DIGIT_FONTS``)."""
        return cls(
            **cls._pen_and_posture(rng),
            digit_sources=("font",),
            mnist_range=assets.MNIST_TEST,
            text_source="font",
            font=str(rng.choice(sorted(assets.SYSTEM_TEXT_FONTS))),
            sloppy=float(rng.uniform(0.0, 0.25)),
            digit_font=str(rng.choice(sorted(assets.SYSTEM_DIGIT_FONTS))),
        )


    @classmethod
    def _single_source(cls, rng: np.random.Generator, population: str) -> "Writer":
        """A hand whose digits all come from one source; text from the same source where it has kana
        and kanji (MNIST has none: its writers' text is KanjiVG strokes). A character KanjiVG lacks
        falls back to ``font``."""
        digits, text = SINGLE_SOURCE[population]
        posture = cls._pen_and_posture(rng)
        font = str(rng.choice(assets.FONTS)) if population == "bundled-fonts" else "Yomogi"
        return cls(
            **posture,
            digit_sources=(digits,),
            mnist_range=assets.MNIST_TEST,
            text_source=text,
            font=font,
            sloppy=float(rng.uniform(0.0, 0.25)),
            digit_font=font if population == "bundled-fonts" else "",
            blocky_pen=blocky.Pen(rng) if population == "blocky" else None,
        )


# population -> (digit source, text source) for the hands drawn from one source only
SINGLE_SOURCE = {"mnist": ("mnist", "kanjivg"), "bundled-fonts": ("font", "font"), "kanjivg": ("kanjivg", "kanjivg"),
                 "blocky": ("blocky", "blocky")}


def put(page: np.ndarray, mask: np.ndarray, x: int, y: int, ink: int) -> None:
    """Darken ``page`` with ``mask`` whose top-left goes at (x, y); clipped at the page edge."""
    h, w = mask.shape
    H, W = page.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x1 <= x0 or y1 <= y0:
        return
    m = mask[y0 - y: y1 - y, x0 - x: x1 - x]
    tone = 255.0 - m * (255.0 - ink)
    region = page[y0:y1, x0:x1]
    np.minimum(region, tone.astype(np.uint8), out=region)


def put_centered(page, mask, cx: float, cy: float, ink: int) -> None:
    h, w = mask.shape
    put(page, mask, int(round(cx - w / 2)), int(round(cy - h / 2)), ink)


# -- shaping -------------------------------------------------------------------------


def fit_height(mask: np.ndarray, height: float, aspect: float = 1.0) -> np.ndarray:
    """Resize so the ink is ``height`` px tall; ``aspect`` stretches the width."""
    h, w = mask.shape
    s = max(height, 4) / h
    nw, nh = max(2, int(round(w * s * aspect))), max(2, int(round(h * s)))
    return cv2.resize(mask, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)


def warp(mask: np.ndarray, angle: float = 0.0, shear: float = 0.0) -> np.ndarray:
    """Rotate (degrees) and shear a mask, growing the canvas so nothing is cut off."""
    h, w = mask.shape
    pad = int(max(h, w) * (abs(shear) + abs(np.radians(angle))) + 3)
    m = cv2.copyMakeBorder(mask, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    c = (m.shape[1] / 2, m.shape[0] / 2)
    a = cv2.getRotationMatrix2D(c, angle, 1.0)
    sh = np.array([[1, -shear, shear * c[1]], [0, 1, 0]], np.float64)
    a = sh @ np.vstack([a, [0, 0, 1]])
    out = cv2.warpAffine(m, a, (m.shape[1], m.shape[0]), flags=cv2.INTER_LINEAR)
    return assets._crop(out)


def pen_weight(mask: np.ndarray, delta: int) -> np.ndarray:
    """Thicken (delta > 0) or thin (delta < 0) strokes by about ``delta`` px."""
    if delta == 0:
        return mask
    k = np.ones((abs(delta) + 1, abs(delta) + 1), np.uint8)
    return cv2.dilate(mask, k) if delta > 0 else np.maximum(cv2.erode(mask, k), mask * 0.35 * (mask > 0.8))


def strokes_mask(strokes: list[np.ndarray], height: float, pen: int, rng: np.random.Generator, jitter: float = 2.0) -> np.ndarray:
    """Draw KanjiVG strokes (109-unit polylines) as a hand would: each stroke a bit off."""
    s = height / 90.0  # KanjiVG glyphs fill roughly 90 of 109 units
    size = int(np.ceil(109 * s)) + 2 * pen + 4
    canvas = np.zeros((size, size), np.uint8)
    for st in strokes:
        # Per-stroke shift and stretch, plus a smooth wobble along the stroke.
        shift = rng.normal(0, jitter, 2)
        stretch = 1 + rng.normal(0, 0.04)
        c = st.mean(axis=0)
        pts = (st - c) * stretch + c + shift
        wob = rng.normal(0, jitter * 0.4, (2, 2))
        tt = np.linspace(0, 1, len(pts))[:, None]
        pts = pts + (1 - tt) * wob[0] + tt * wob[1]
        p = np.round((pts * s + pen + 2) * 8).astype(np.int32)  # 3 fractional bits
        cv2.polylines(canvas, [p], False, 255, pen, cv2.LINE_AA, shift=3)
    return assets._crop(canvas.astype(np.float32) / 255.0)


# -- characters --------------------------------------------------------------------------


def digit(d: int, height: float, w: Writer, rng: np.random.Generator) -> np.ndarray:
    """One handwritten digit ``height`` px tall from the writer's digit sources."""
    source = str(rng.choice(w.digit_sources))
    if source == "mnist":
        images, _ = assets.mnist()
        pool = assets.mnist_index(*w.mnist_range)[d]
        m = assets._crop(images[int(rng.choice(pool))].astype(np.float32) / 255.0)
        m = fit_height(m, height, rng.uniform(0.9, 1.1))
        # MNIST strokes scale with the glyph; pull them back towards the writer's pen.
        natural = max(2, height / 9)
        m = pen_weight(m, int(np.clip(round((w.pen - natural) / 2), -1, 2)))
    elif source == "blocky":
        return blocky.digit(d, height, w.blocky_pen, rng)  # the tablet's grid is square: no shear or turn
    elif source == "kanjivg":
        m = strokes_mask(assets.kanjivg_strokes(str(d)), height, w.pen, rng, jitter=1.2)  # digits break up easily
        m = fit_height(m, height, rng.uniform(0.85, 1.1))
    else:
        name = w.digit_font or (str(rng.choice(("Yomogi", "YuseiMagic"))) if rng.random() < 0.5 else w.font)
        m = fit_height(assets.font_glyph(str(d), name), height, rng.uniform(0.85, 1.15))
        m = _elastic(m, rng, 1.5)
    return warp(m, angle=rng.normal(0, 4), shear=w.slant + rng.normal(0, 0.06))


def char(ch: str, height: float, w: Writer, rng: np.random.Generator) -> np.ndarray:
    """One Japanese (or any) character ``height`` px tall, from KanjiVG strokes or a font."""
    strokes = assets.kanjivg_strokes(ch) if w.text_source in ("kanjivg", "blocky") else None
    if strokes and w.text_source == "blocky":
        return blocky.char(strokes, height, w.blocky_pen, rng)
    if strokes:
        m = strokes_mask(strokes, height, w.pen, rng)  # keeps KanjiVG's relative size (small kana stay small)
    else:
        g = assets.font_glyph(ch, w.font)
        # Kanji are ~80 px tall at the 96 px font size; scale others by the same factor.
        m = fit_height(g, min(g.shape[0] * height / 80.0, height * 1.15), rng.uniform(0.92, 1.08))
        # Yomogi's strokes are hairlines at this size; a ballpoint is 3-5 px wide at 200 dpi.
        m = pen_weight(m, int(rng.integers(1, 3)) if w.font == "Yomogi" else 0)
    return warp(m, angle=rng.normal(0, 3), shear=rng.normal(0, 0.04))


def _elastic(mask: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """A smooth random displacement so font digits stop looking typeset."""
    h, w = mask.shape
    pad = int(amount * 2 + 2)
    m = cv2.copyMakeBorder(mask, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    h, w = m.shape
    dx = cv2.resize(rng.normal(0, amount, (3, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    dy = cv2.resize(rng.normal(0, amount, (3, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return assets._crop(cv2.remap(m, gx + dx, gy + dy, cv2.INTER_LINEAR))


# -- marks ------------------------------------------------------------------------------------


def loop(page, cx, cy, rx, ry, w: Writer, rng, turns: float = 1.05) -> None:
    """A hand-drawn ellipse: wobbling radius, a random start, sometimes open or overlapping."""
    start = rng.uniform(0, 2 * np.pi)
    t = start + np.linspace(0, 2 * np.pi * turns, 90)
    wob = 1 + 0.05 * np.sin(2 * t + rng.uniform(0, 6)) + 0.03 * np.sin(3 * t + rng.uniform(0, 6))
    drift = np.linspace(0, rng.normal(0, 0.06), len(t))  # the pen does not come back to the same radius
    tilt = np.radians(rng.normal(0, 5))
    x = rx * wob * (1 + drift) * np.cos(t)
    y = ry * wob * (1 + drift) * np.sin(t)
    xs = cx + x * np.cos(tilt) - y * np.sin(tilt)
    ys = cy + x * np.sin(tilt) + y * np.cos(tilt)
    polyline(page, np.stack([xs, ys], 1), w.pen, w.ink)


def tick(page, cx, cy, size, w: Writer, rng) -> None:
    """A check mark whose corner sits near (cx, cy + size/3)."""
    a = np.array([cx - size * 0.45, cy - size * 0.05]) + rng.normal(0, size * 0.05, 2)
    b = np.array([cx - size * 0.1, cy + size * 0.4]) + rng.normal(0, size * 0.05, 2)
    c = np.array([cx + size * 0.55, cy - size * 0.55]) + rng.normal(0, size * 0.08, 2)
    pts = np.concatenate([np.linspace(a, b, 8), np.linspace(b, c, 12)[1:]])
    polyline(page, pts, w.pen, w.ink)


def polyline(page, pts: np.ndarray, pen: int, ink: int) -> None:
    """Antialiased stroke drawn straight onto the page at the ink's darkness."""
    x0, y0 = np.floor(pts.min(0)).astype(int) - pen - 2
    x1, y1 = np.ceil(pts.max(0)).astype(int) + pen + 2
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    p = np.round((pts - [x0, y0]) * 8).astype(np.int32)
    cv2.polylines(canvas, [p], False, 255, pen, cv2.LINE_AA, shift=3)
    put(page, canvas.astype(np.float32) / 255.0, int(x0), int(y0), ink)


def stamp(page, box, rng, label: str) -> None:
    """A red date stamp (データ印) as a B/W fax sees it: a mid-grey double ring with text."""
    bx0, by0, bx1, by1 = box
    cx = (bx0 + bx1) / 2 + rng.normal(0, 6)
    cy = (by0 + by1) / 2 + rng.normal(0, 6)
    r = min(bx1 - bx0, by1 - by0) * rng.uniform(0.33, 0.42)
    # Red ink comes out grey. It is kept dark enough to survive the fax's harshest threshold
    # (110): a lighter stamp vanishes from the page while the truth still says "stamped".
    tone = int(rng.integers(30, 80))
    size = int(2 * r + 12)
    m = np.zeros((size, size), np.uint8)
    c = (size // 2, size // 2)
    cv2.circle(m, c, int(r), 255, 3, cv2.LINE_AA)
    cv2.line(m, (c[0] - int(r * 0.93), c[1] - int(r * 0.3)), (c[0] + int(r * 0.93), c[1] - int(r * 0.3)), 255, 2, cv2.LINE_AA)
    cv2.line(m, (c[0] - int(r * 0.93), c[1] + int(r * 0.3)), (c[0] + int(r * 0.93), c[1] + int(r * 0.3)), 255, 2, cv2.LINE_AA)
    mf = m.astype(np.float32) / 255.0
    top = fit_height(assets.font_glyph(label[0], "ReggaeOne"), r * 0.45)
    mid = fit_height(_text_row("8.05.12", "Yomogi"), r * 0.4)
    bot = fit_height(_text_row(label[1:] or label, "ReggaeOne"), r * 0.45)
    for g, dy in ((top, -0.62), (mid, 0.0), (bot, 0.62)):
        gh, gw = g.shape
        gy, gx = int(c[1] + dy * r - gh / 2), int(c[0] - gw / 2)
        mf[max(gy, 0): gy + gh, max(gx, 0): gx + gw] = np.maximum(mf[max(gy, 0): gy + gh, max(gx, 0): gx + gw], g[: size - gy, : size - gx])
    mf = warp(mf, angle=rng.normal(0, 12))
    put_centered(page, mf * rng.uniform(0.9, 1.0), cx, cy, tone)


def _text_row(text: str, font: str) -> np.ndarray:
    glyphs = [fit_height(assets.font_glyph(ch, font), 40 if ch != "." else 8) for ch in text]
    h = 40
    row = np.zeros((h, sum(g.shape[1] + 4 for g in glyphs)), np.float32)
    x = 0
    for g in glyphs:
        row[h - g.shape[0]: h, x: x + g.shape[1]] = g
        x += g.shape[1] + 4
    return row
