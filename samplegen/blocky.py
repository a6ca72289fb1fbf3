"""Blocky writing: what a cheap tablet or a low-resolution scan of a thick marker makes of a hand.

The pen is sampled at a few points only, each snapped to a coarse tablet grid, and the points
are joined by straight thick strokes. The glyph is drawn at a low resolution without
antialiasing and then scaled up, so its edges are stairs and its strokes are slabs.

Digit skeletons are this module's own (a few waypoints per stroke in a unit box, x right,
y down); text comes from KanjiVG strokes put through the same pen. Nothing trains on this
population: it exists to measure how the readers hold up on writing unlike anything they saw.
"""

from __future__ import annotations

import cv2
import numpy as np

from samplegen import assets

# Waypoints of each digit's strokes, one or two shapes per digit.
DIGITS: dict[int, list[list[list[tuple[float, float]]]]] = {
    0: [[[(0.5, 0.0), (0.15, 0.2), (0.05, 0.55), (0.25, 0.95), (0.65, 1.0), (0.92, 0.65), (0.85, 0.2), (0.5, 0.0)]],
        [[(0.3, 0.05), (0.05, 0.5), (0.3, 1.0), (0.75, 0.95), (0.95, 0.45), (0.7, 0.0), (0.3, 0.05)]]],
    1: [[[(0.5, 0.0), (0.5, 1.0)]],
        [[(0.2, 0.25), (0.55, 0.0), (0.55, 1.0)]],
        [[(0.25, 0.2), (0.55, 0.0), (0.55, 1.0)], [(0.25, 1.0), (0.85, 1.0)]]],
    2: [[[(0.1, 0.25), (0.4, 0.0), (0.8, 0.05), (0.9, 0.35), (0.1, 1.0), (0.95, 1.0)]],
        [[(0.05, 0.15), (0.5, 0.0), (0.9, 0.25), (0.5, 0.65), (0.05, 1.0), (0.95, 0.95)]]],
    3: [[[(0.1, 0.1), (0.6, 0.0), (0.9, 0.2), (0.4, 0.48), (0.9, 0.7), (0.6, 1.0), (0.05, 0.9)]],
        [[(0.1, 0.0), (0.9, 0.0), (0.45, 0.42), (0.9, 0.65), (0.7, 1.0), (0.1, 0.95)]]],
    4: [[[(0.65, 1.0), (0.65, 0.0), (0.05, 0.7), (0.95, 0.7)]],
        [[(0.2, 0.0), (0.05, 0.6), (0.95, 0.6)], [(0.7, 0.15), (0.7, 1.0)]]],
    5: [[[(0.85, 0.0), (0.2, 0.0), (0.12, 0.45), (0.65, 0.4), (0.92, 0.7), (0.6, 1.0), (0.05, 0.9)]],
        [[(0.2, 0.0), (0.12, 0.45), (0.7, 0.45), (0.9, 0.8), (0.45, 1.0), (0.05, 0.85)], [(0.2, 0.02), (0.9, 0.0)]]],
    6: [[[(0.8, 0.0), (0.3, 0.25), (0.08, 0.7), (0.35, 1.0), (0.85, 0.85), (0.8, 0.5), (0.35, 0.5), (0.1, 0.7)]],
        [[(0.6, 0.0), (0.1, 0.6), (0.3, 1.0), (0.9, 0.8), (0.6, 0.45), (0.15, 0.6)]]],
    7: [[[(0.05, 0.0), (0.95, 0.0), (0.4, 1.0)]],
        [[(0.05, 0.15), (0.05, 0.0), (0.95, 0.0), (0.5, 1.0)]],
        [[(0.05, 0.0), (0.95, 0.0), (0.45, 1.0)], [(0.3, 0.5), (0.85, 0.5)]]],
    8: [[[(0.5, 0.48), (0.15, 0.25), (0.5, 0.0), (0.85, 0.25), (0.5, 0.48), (0.1, 0.75), (0.5, 1.0), (0.9, 0.75), (0.5, 0.48)]],
        [[(0.85, 0.1), (0.5, 0.0), (0.15, 0.2), (0.85, 0.75), (0.5, 1.0), (0.12, 0.8), (0.85, 0.25), (0.85, 0.1)]]],
    9: [[[(0.9, 0.3), (0.5, 0.5), (0.1, 0.3), (0.45, 0.0), (0.9, 0.2), (0.85, 1.0)]],
        [[(0.85, 0.25), (0.5, 0.0), (0.1, 0.2), (0.3, 0.5), (0.85, 0.3), (0.75, 0.65), (0.3, 1.0)]]],
}


class Pen:
    """One blocky writer: grid, drawing resolution and stroke thickness, the same on the whole form."""

    def __init__(self, rng: np.random.Generator):
        self.grid = int(rng.integers(6, 11))  # tablet cells across a digit's height
        self.low = int(rng.integers(14, 23))  # drawing height in pixels before scaling up
        self.thickness = 2 + int(self.low >= 18 and rng.random() < 0.5)  # stroke width at the drawing resolution
        self.shape = {d: int(rng.integers(len(v))) for d, v in DIGITS.items()}  # each digit's habitual shape
        self.aspect = float(rng.uniform(0.55, 0.8))


def _draw(strokes: list[np.ndarray], pen: Pen, height: float, rng: np.random.Generator, grid: int, low: int) -> np.ndarray:
    """Strokes in a unit box -> snapped to ``grid``, drawn ``low`` px tall, scaled up to ``height``."""
    margin = pen.thickness + 1
    size = low + 2 * margin
    canvas = np.zeros((size, int(np.ceil(low * 1.2)) + 2 * margin), np.uint8)
    for st in strokes:
        pts = np.asarray(st, np.float64) + rng.normal(0, 0.05, (len(st), 2))
        snapped = np.round(np.clip(pts, -0.1, 1.1) * grid) / grid  # the tablet reports grid positions only
        px = np.round(snapped * low).astype(np.int32) + margin
        cv2.polylines(canvas, [px], False, 255, pen.thickness, cv2.LINE_8)  # no antialiasing: hard steps
        if len(px) == 1:
            cv2.circle(canvas, tuple(int(v) for v in px[0]), pen.thickness // 2 + 1, 255, -1)
    mask = assets._crop(canvas.astype(np.float32) / 255.0, pad=0)
    scale = height / mask.shape[0]  # the ink, strokes and all, is ``height`` tall
    up = cv2.resize(mask, (max(2, int(round(mask.shape[1] * scale))), max(2, int(round(mask.shape[0] * scale)))),
                    interpolation=cv2.INTER_NEAREST)  # scaled up as pixels, not smoothed
    return up


def digit(d: int, height: float, pen: Pen, rng: np.random.Generator) -> np.ndarray:
    """One blocky digit about ``height`` px tall."""
    strokes = [np.array(st) * [pen.aspect, 1.0] for st in DIGITS[d][pen.shape[d]]]
    return _draw(strokes, pen, height, rng, pen.grid, pen.low)


def char(strokes: list[np.ndarray], height: float, pen: Pen, rng: np.random.Generator) -> np.ndarray:
    """A KanjiVG character through the blocky pen: each stroke cut to a few points."""
    few = []
    for st in strokes:
        keep = np.linspace(0, len(st) - 1, min(len(st), int(rng.integers(3, 5)))).round().astype(int)
        few.append((st[keep] - 10) / 90.0)  # KanjiVG glyphs fill roughly 10..100 of 109 units
    return _draw(few, pen, height, rng, pen.grid * 2, pen.low * 2)  # a kanji has more detail than a digit
