"""Procedural handwritten-looking digits drawn as pen strokes.

MNIST is mostly American handwriting: it has few "1"s with a flag and a foot,
few "7"s with a crossbar, open "4"s, straight-tailed "9"s and so on, which are
common on Japanese forms. This module draws such digits from scratch: every
digit has 2-4 allographs, each a few strokes given as control points in a unit
box (x right, y down, 0..1). A sample jitters the control points, applies a
random slant / aspect / size, bends the strokes with a smooth displacement
field (elastic distortion on the pen path), wobbles stroke ends, sometimes
leaves a gap in a stroke, and renders with a random pen width.

No font or external glyph data is used: the shapes below are our own code.

Output follows the training convention: uint8 crop, ink dark on white paper,
digit about 30-50 px tall with some paper margin, ready for the fax channel
and ``normalise_glyph``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# ------------------------------------------------------------------ helpers


def _arc(cx, cy, rx, ry, a0, a1, n=None):
    """Points on an ellipse arc; angles in degrees, 0 = right, 90 = down."""
    n = n or max(4, int(abs(a1 - a0) / 12) + 2)
    t = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1)


def _line(*pts):
    return np.array(pts, dtype=np.float64)


def _cat(*parts):
    return np.concatenate([np.asarray(p, np.float64) for p in parts], 0)


def _smooth(pts: np.ndarray, n_per: int = 6) -> np.ndarray:
    """Catmull-Rom spline through the points."""
    if len(pts) < 3:
        return pts
    p = np.vstack([pts[0] * 2 - pts[1], pts, pts[-1] * 2 - pts[-2]])
    t = np.linspace(0, 1, n_per, endpoint=False)[:, None]
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(
            0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3)
        )
    out.append(pts[-1:])
    return np.vstack(out)


def _densify(pts: np.ndarray, step: float = 0.02) -> np.ndarray:
    """Insert points along straight segments so distortion can bend them."""
    out = [pts[0]]
    for a, b in zip(pts[:-1], pts[1:]):
        n = max(1, int(np.linalg.norm(b - a) / step))
        for k in range(1, n + 1):
            out.append(a + (b - a) * k / n)
    return np.array(out)


# --------------------------------------------------------------- allographs
# Each returns a list of strokes (arrays of (x, y) points in the unit box).
# ``r`` is the rng, for shape parameters specific to the allograph.


def _u(r, a, b):
    return float(r.uniform(a, b))


def zero_round(r):
    rx, ry = _u(r, 0.36, 0.5), 0.5
    a0 = _u(r, -120, -60)
    over = _u(r, 0, 25)
    return [_arc(0.5, 0.5, rx, ry, a0, a0 + 360 + over)]


def zero_slant(r):
    # narrower, drawn with a lean (shear applied later as well)
    rx = _u(r, 0.25, 0.4)
    pts = _arc(0.5, 0.5, rx, 0.5, -100, 275 + _u(r, 0, 20))
    pts[:, 0] += (0.5 - pts[:, 1]) * _u(r, 0.1, 0.3)
    return [pts]


def zero_open(r):
    rx = _u(r, 0.3, 0.48)
    a0 = _u(r, -80, -60)
    return [_arc(0.5, 0.5, rx, 0.5, a0, a0 + 360 - _u(r, 20, 45))]


def one_bar(r):
    x = _u(r, 0.45, 0.55)
    bend = _u(r, -0.04, 0.04)
    return [_smooth(_line((x, 0.0), (x + bend, 0.5), (x, 1.0)))]


def one_flag(r):
    # Flags run from a short tick to half the digit's height (Japanese writers' long flag)
    x = 0.55
    fx, fy = x - _u(r, 0.18, 0.8), _u(r, 0.1, 0.35)
    return [_line((fx, fy), (x, 0.0), (x + _u(r, -0.03, 0.03), 1.0))]


def one_flag_base(r):
    x = 0.5
    fx, fy = x - _u(r, 0.18, 0.8), _u(r, 0.1, 0.35)
    half = _u(r, 0.18, 0.35)
    return [_line((fx, fy), (x, 0.0), (x, 1.0)), _line((x - half, 1.0), (x + half * _u(r, 0.8, 1.2), 1.0))]


def one_serif_only(r):
    # flag drawn as a separate short tick
    x = 0.55
    return [_line((x, 0.0), (x, 1.0)), _line((x - _u(r, 0.2, 0.32), _u(r, 0.15, 0.3)), (x - 0.02, 0.02))]


def two_plain(r):
    top = _arc(0.5, 0.28, 0.38, 0.28, 190, 360 + _u(r, 10, 40))
    bottom = _line((0.08, 1.0), (0.95, 1.0 + _u(r, -0.03, 0.03)))
    body = _smooth(_cat(top, [(0.45, 0.7)], [(0.08, 1.0)]), 4)
    return [_cat(body[:-1], bottom)]


def two_loop(r):
    top = _arc(0.5, 0.28, 0.38, 0.28, 190, 380)
    loop = _arc(0.2, 0.9, 0.12, 0.1, -90, 200)
    pts = _cat(top, [(0.4, 0.72)], loop, [(0.6, 0.98), (0.95, 0.96)])
    return [_smooth(pts, 4)]


def two_angular(r):
    # flat-topped, Z-like
    return [_line((0.08, 0.15), (0.5, 0.0), (0.9, 0.18), (0.1, 1.0), (0.95, 1.0))]


def three_round(r):
    up = _arc(0.48, 0.26, 0.4, 0.26, 200, 450)
    lo = _arc(0.48, 0.74, 0.45, 0.26, -90, 150)
    mid_x = _u(r, 0.35, 0.5)
    return [_smooth(_cat(up[:-1], [(mid_x, 0.5)], lo[1:]), 4)]


def three_flat(r):
    lo = _arc(0.48, 0.7, 0.45, 0.3, -100, 150)
    return [_smooth(_cat([(0.1, 0.0), (0.88, 0.0)], [(0.42, 0.4)], lo[1:]), 4)]


def four_closed(r):
    x = _u(r, 0.6, 0.75)
    cy = _u(r, 0.6, 0.72)
    return [_line((x, 0.0), (0.0, cy), (1.0, cy)), _line((x, 0.08), (x, 1.0))]


def four_open(r):
    x = _u(r, 0.6, 0.75)
    cy = _u(r, 0.55, 0.68)
    lx = _u(r, 0.05, 0.25)
    return [_line((lx + 0.05, 0.0), (lx, cy), (1.0, cy)), _line((x, 0.0), (x, 1.0))]


def five_detached(r):
    bowl = _arc(0.45, 0.68, 0.45, 0.32, -120, 150)
    body = _smooth(_cat([(0.22, 0.02), (0.18, 0.45)], bowl[1:]), 4)
    return [body, _line((0.22, 0.0), (0.9, -0.02))]


def five_joined(r):
    bowl = _arc(0.45, 0.68, 0.45, 0.32, -120, 150)
    body = _smooth(_cat([(0.2, 0.45)], bowl[1:]), 4)
    return [_cat(_line((0.9, 0.0), (0.22, 0.0), (0.2, 0.45)), body[1:])]


def six_loop(r):
    loop = _arc(0.5, 0.72, 0.4, 0.28, 180, 180 + 340)
    stem = _smooth(_line((0.8, 0.0), (0.35, 0.18), (0.12, 0.5), (0.1, 0.72)), 5)
    return [_cat(stem, loop[1:])]


def six_straight(r):
    loop = _arc(0.55, 0.75, 0.38, 0.25, 180, 180 + 350)
    return [_cat(_line((0.6, 0.0), (0.17, 0.75)), loop[1:])]


def eight_figure(r):
    t = np.linspace(0, 2 * math.pi, 60)
    x = 0.5 + 0.42 * np.sin(t) * np.cos(t) * 2 * 0.6
    y = 0.5 - 0.5 * np.cos(t)
    # figure-eight (lemniscate-like): starts top, crosses in the middle
    w_top, w_bot = _u(r, 0.7, 1.0), _u(r, 0.9, 1.2)
    x = 0.5 + (x - 0.5) * np.where(y < 0.5, w_top, w_bot)
    pts = np.stack([x, y], 1)
    return [_cat(pts, pts[1:4])]


def eight_stacked(r):
    top = _arc(0.5, 0.24, _u(r, 0.25, 0.35), 0.24, 90, 90 + 360)
    bot = _arc(0.5, 0.74, _u(r, 0.35, 0.48), 0.26, -90, 270)
    return [top, bot]


def nine_straight(r):
    loop = _arc(0.45, 0.28, 0.4, 0.28, 0, -360 + _u(r, -10, 10))
    return [_cat(loop, _line((0.85, 0.3), (0.82 - _u(r, 0, 0.15), 1.0)))]


def nine_curved(r):
    loop = _arc(0.45, 0.28, 0.4, 0.28, 0, -360)
    tail = _smooth(_line((0.85, 0.28), (0.8, 0.7), (0.55, 0.97), (0.2, 0.92)), 5)
    return [_cat(loop, tail[1:])]


def seven_plain(r):
    return [_line((0.0, 0.05 * _u(r, 0, 1)), (1.0, 0.0), (0.4 + _u(r, -0.1, 0.15), 1.0))]


def seven_hook(r):
    # small descending tick at the left end of the bar (Japanese style)
    return [_line((0.02, _u(r, 0.15, 0.25)), (0.0, 0.0), (1.0, 0.0), (0.45 + _u(r, -0.1, 0.1), 1.0))]


def seven_cross(r):
    s = seven_plain(r)[0]
    y = _u(r, 0.45, 0.6)
    xm = 1.0 + (s[2, 0] - 1.0) * y
    return [s, _line((xm - _u(r, 0.25, 0.35), y), (xm + _u(r, 0.15, 0.3), y))]


def seven_curved(r):
    stem = _smooth(_line((1.0, 0.0), (0.7, 0.4), (0.5, 0.75), (0.45, 1.0)), 5)
    return [_cat([(0.0, 0.04)], stem)]


STYLES = {
    0: (zero_round, zero_slant, zero_open),
    1: (one_bar, one_flag, one_flag_base, one_serif_only),
    2: (two_plain, two_loop, two_angular),
    3: (three_round, three_flat),
    4: (four_closed, four_open),
    5: (five_detached, five_joined),
    6: (six_loop, six_straight),
    7: (seven_plain, seven_hook, seven_cross, seven_curved),
    8: (eight_figure, eight_stacked),
    9: (nine_straight, nine_curved),
}
# Width/height of each digit's box (before aspect jitter).
ASPECT = {0: 0.7, 1: 0.45, 2: 0.68, 3: 0.62, 4: 0.75, 5: 0.65, 6: 0.65, 7: 0.68, 8: 0.62, 9: 0.65}
# How often each allograph is drawn (others evenly).
STYLE_P = {1: (0.2, 0.35, 0.3, 0.15), 7: (0.35, 0.2, 0.3, 0.15)}
# Share of digits drawn as a tablet or low-resolution pad records them (blocky, angular).
TABLET_SHARE = 0.3


# ------------------------------------------------------------------ drawing


def _field(r, amp):
    """Smooth random displacement field: a few low-frequency sinusoids."""
    comps = [(r.uniform(-amp, amp), r.uniform(0.5, 2.0) * 2 * math.pi, r.uniform(0, 2 * math.pi), r.integers(2)) for _ in range(4)]

    def f(p):
        d = np.zeros_like(p)
        for a, k, ph, ax in comps:
            d[:, ax] += a * np.sin(k * p[:, 1 - ax] + ph)
        return d

    return f


def _pen_path(digit: int, rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """The pen strokes of one procedural ``digit`` in pixels (about 30-50 px tall), with their bounding box."""
    fns = STYLES[digit]
    p = STYLE_P.get(digit)
    fn = fns[int(rng.choice(len(fns), p=p))]
    strokes = [np.asarray(s, np.float64) for s in fn(rng)]

    # Jitter the control shape: per-point noise (small), then an elastic field.
    aspect = ASPECT[digit] * rng.uniform(0.75, 1.3)
    field = _field(rng, rng.uniform(0.0, 0.06))
    out = []
    for s in strokes:
        s = _densify(s, 0.03)
        s = s + field(s)
        s = s + rng.normal(0, 0.006, s.shape)
        out.append(s)
    strokes = out

    # Stroke-end wobble: a short hook or overshoot at either end.
    for i, s in enumerate(strokes):
        if len(s) >= 2 and rng.random() < 0.25:
            end = rng.integers(2)
            a, b = (s[0], s[1]) if end == 0 else (s[-1], s[-2])
            d = a - b
            d = d / (np.linalg.norm(d) + 1e-9)
            ang = rng.uniform(-2.2, 2.2)
            rot = np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]])
            tip = a + rot @ d * rng.uniform(0.03, 0.08)
            strokes[i] = np.vstack([tip, s]) if end == 0 else np.vstack([s, tip])

    # Geometry: size, aspect, slant (shear), small rotation.
    h = rng.uniform(30, 50)
    w = h * aspect
    shear = rng.uniform(-0.2, 0.4)  # positive = leaning right, as most writers do
    ang = math.radians(rng.uniform(-6, 6))
    ca, sa = math.cos(ang), math.sin(ang)
    geo = []
    for s in strokes:
        x = (s[:, 0] - 0.5) * w
        y = (s[:, 1] - 0.5) * h
        x = x - shear * y
        geo.append(np.stack([ca * x - sa * y, sa * x + ca * y], 1))
    allp = np.vstack(geo)
    lo, hi = allp.min(0), allp.max(0)
    return geo, lo, hi


def stroke_digit(digit: int, rng: np.random.Generator) -> np.ndarray:
    """One procedural handwritten ``digit``: uint8 crop, ink dark (0) on paper (255).

    One in ``TABLET_SHARE`` is drawn the way a tablet or a low-resolution pad records it
    (:func:`_render_tablet`); the rest with a smooth pen (:func:`_render_pen`).
    """
    geo, lo, hi = _pen_path(digit, rng)
    if rng.random() < TABLET_SHARE:
        return _render_tablet(geo, lo, hi, rng)
    return _render_pen(geo, lo, hi, rng)


def _render_pen(geo: list[np.ndarray], lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Anti-aliased pen strokes, 1-6 px wide, with an occasional skip in a stroke."""
    pen = float(rng.choice([1, 2, 2, 3, 3, 3, 4, 4, 5, 6]))
    margin = int(pen) + int(rng.integers(4, 12))
    size = np.ceil(hi - lo).astype(int) + 2 * margin + 1
    canvas = np.full((int(size[1]), int(size[0])), 255, np.uint8)
    ink = int(rng.integers(0, 90))
    SH = 4  # sub-pixel bits for cv2 drawing
    for s in geo:
        s = s - lo + margin
        # Occasional gap (pen skipping / fax dropout across the stroke).
        pieces = [s]
        if len(s) > 8 and rng.random() < 0.12:
            k = int(rng.integers(2, len(s) - 3))
            g = int(rng.integers(1, 3))
            pieces = [s[: k + 1], s[k + g :]]
        th = max(1, int(round(pen * rng.uniform(0.85, 1.15))))
        for piece in pieces:
            if len(piece) < 2:
                continue
            pts = np.round(piece * (1 << SH)).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(canvas, [pts], False, ink, th, cv2.LINE_AA, SH)
    return canvas


def _render_tablet(geo: list[np.ndarray], lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The pen path kept only at a few sampled points joined by straight segments, drawn
    without anti-aliasing at a low resolution (10-20 px tall) with a pen of 1-3 px there,
    then scaled up pixel by pixel: blocky, thick, angular digits."""
    height = float(hi[1] - lo[1]) or 1.0
    low = rng.uniform(10, 20)
    s = low / height
    step = rng.uniform(0.1, 0.22) * height  # distance between sampled pen points
    pen = int(rng.choice([1, 1, 2, 2, 3])) if low >= 14 else int(rng.choice([1, 1, 2]))
    margin = pen + 2
    size = np.ceil((hi - lo) * s).astype(int) + 2 * margin + 1
    canvas = np.full((int(size[1]), int(size[0])), 255, np.uint8)
    for st in geo:
        seg = np.linalg.norm(np.diff(st, axis=0), axis=1)
        along = np.concatenate([[0.0], np.cumsum(seg)])
        k = max(2, int(round(along[-1] / step)) + 1)
        at = np.linspace(0.0, along[-1], k)
        pts = np.stack([np.interp(at, along, st[:, 0]), np.interp(at, along, st[:, 1])], 1)
        pts = pts + rng.normal(0, 0.02 * height, pts.shape)  # the sampler's jitter
        pts = np.round((pts - lo) * s + margin).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(canvas, [pts], False, 0, pen, cv2.LINE_8)
    up = height / low * rng.uniform(0.9, 1.1)
    big = cv2.resize(canvas, (max(2, int(round(canvas.shape[1] * up))), max(2, int(round(canvas.shape[0] * up)))),
                     interpolation=cv2.INTER_NEAREST)
    ink = int(rng.integers(0, 90))
    big[big < 128] = ink
    return cv2.copyMakeBorder(big, 4, 4, 4, 4, cv2.BORDER_CONSTANT, value=255)


def sample(rng: np.random.Generator, n: int) -> tuple[list[np.ndarray], np.ndarray]:
    """``n`` procedural digits with balanced labels."""
    labels = rng.integers(0, 10, n)
    return [stroke_digit(int(d), rng) for d in labels], labels.astype(np.int64)


def contact_sheet(path: str, seed: int = 0, per: int = 12) -> None:
    """Write a PNG grid of samples (rows = digits) for eyeballing."""
    rng = np.random.default_rng(seed)
    cell = 64
    sheet = np.full((10 * cell, per * cell), 255, np.uint8)
    for d in range(10):
        for k in range(per):
            g = stroke_digit(d, rng)
            s = cell / max(g.shape)
            g = cv2.resize(g, (max(1, int(g.shape[1] * s)), max(1, int(g.shape[0] * s))), interpolation=cv2.INTER_AREA)
            sheet[d * cell : d * cell + g.shape[0], k * cell : k * cell + g.shape[1]] = g
    cv2.imwrite(path, sheet)


if __name__ == "__main__":
    contact_sheet("digit_styles.png")
