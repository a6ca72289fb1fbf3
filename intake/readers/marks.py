"""Marks: circled or ticked options (要 / 不要, フリー) and office-use stamps.

Decisions come from the ink the writer added around each printed word, never
from OCR. A circle is ink that surrounds the word: most directions from the
word's centre meet ink. The part of an oversized circle that spills towards the
neighbouring word only meets it from one side, so it does not count as a mark
there. A tick is ink on or right beside the word.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from intake.model import AlignedPage, Box, FieldReading
from intake.reasons import Reason
from intake.readers.ink import added_ink, print_survival

if TYPE_CHECKING:
    from intake.kinds.circled_option import CircledOptionField
    from intake.kinds.option_pair import OptionPairField
    from intake.kinds.stamp import StampField
    from intake.template import Template

ANGLE_BINS = 24
CIRCLE_COVERAGE = 0.5  # share of directions around a word that meet ink for it to count as circled
RING = (0.75, 3.2)  # ink this far from the word's centre (in units of the inflated word half-size) can be a circle
NEAR = 1.15  # ink within this distance is on or beside the word: a tick
TICK_MIN_PX = 12  # at TUNED_DPI (scaled by the template); measured: unmarked words get <= 5 px, the faintest tick ~19
WORD_MARGIN_PX = 4
STAMP_MIN_FRACTION = 0.02
# Below this share of a printed word still visible on the fax, the word is damaged (a dropout, or
# smeared bold) and the ink "added" around it is not to be trusted. Measured on 60 generated
# faxes: 99.9% of the 1,098 printed option words keep at least 0.81 of their print.
PRINT_SURVIVAL_MIN = 0.8


def _word_geometry(template: Template, word, origin: Box) -> tuple[float, float, float, float]:
    """Centre (in crop coordinates) and inflated half-sizes of a printed word."""
    b = template.px(word)
    cx, cy = (b.x0 + b.x1) / 2 - origin.x0, (b.y0 + b.y1) / 2 - origin.y0
    margin = template.scaled(WORD_MARGIN_PX)
    return cx, cy, b.width / 2 + margin, b.height / 2 + margin


def _polar(mask: np.ndarray, geom) -> tuple[np.ndarray, np.ndarray]:
    """Normalised distance and angle of every ink pixel from a word's centre."""
    ys, xs = np.nonzero(mask)
    cx, cy, rx, ry = geom
    dx, dy = (xs - cx) / rx, (ys - cy) / ry
    return np.hypot(dx, dy), np.arctan2(dy, dx)


def _evidence(dist: np.ndarray, angle: np.ndarray) -> tuple[float, int]:
    """(share of directions around the word that meet ink, ink pixels on or beside the word)."""
    ring = (dist >= RING[0]) & (dist <= RING[1])
    bins = np.floor((angle[ring] + np.pi) / (2 * np.pi) * ANGLE_BINS).astype(int) % ANGLE_BINS
    counts = np.bincount(bins, minlength=ANGLE_BINS)
    coverage = float((counts >= 2).sum()) / ANGLE_BINS
    return coverage, int((dist <= NEAR).sum())


def _mark_strength(template: Template, coverage: float, near: int) -> float:
    """0 (clearly unmarked) .. 1 (clearly marked), 0.5 at the decision boundary."""
    circle = coverage / (2 * CIRCLE_COVERAGE)
    tick = near / (2 * template.scaled_area(TICK_MIN_PX))
    return float(min(1.0, max(circle, tick)))


def read_option_pair(aligned: AlignedPage, template: Template, spec: OptionPairField) -> FieldReading:
    """要 / 不要: true, false, or None (and a review reason) when neither or both are marked."""
    box = template.px(spec.box)
    mask, used = added_ink(aligned, template, box)
    geoms = [_word_geometry(template, o.word, used) for o in spec.options]
    polar = [_polar(mask, g) for g in geoms]
    # Each ink pixel belongs to the nearer word, so one circle is not counted twice.
    nearer_first = polar[0][0] <= polar[1][0]
    strengths = []
    for i, (dist, angle) in enumerate(polar):
        mine = nearer_first if i == 0 else ~nearer_first
        strengths.append(_mark_strength(template, *_evidence(dist[mine], angle[mine])))
    marked = [s >= 0.5 for s in strengths]
    # Confidence: how far each option is from the boundary, for the weaker of the two decisions.
    confidence = float(min(0.5 + abs(s - 0.5) for s in strengths))
    damaged = _damaged_print(aligned, template, spec.key, [o.word for o in spec.options])
    if marked[0] and marked[1]:
        return FieldReading(spec.key, None, confidence, (Reason.of("option_both", spec.key),), box)
    if not any(marked):
        return FieldReading(spec.key, None, confidence, (Reason.of("option_none", spec.key),), box)
    chosen = spec.options[0] if marked[0] else spec.options[1]
    return FieldReading(spec.key, chosen.value, confidence, damaged, box)


def read_circled_option(aligned: AlignedPage, template: Template, spec: CircledOptionField) -> FieldReading:
    """フリー: true when the writer circled (or ticked) the printed word."""
    box = template.px(spec.box)
    mask, used = added_ink(aligned, template, box)
    strength = _mark_strength(template, *_evidence(*_polar(mask, _word_geometry(template, spec.text, used))))
    damaged = _damaged_print(aligned, template, spec.key, [spec.text])
    return FieldReading(spec.key, strength >= 0.5, 0.5 + abs(strength - 0.5), damaged, box)


def _damaged_print(aligned: AlignedPage, template: Template, key: str, words) -> tuple[Reason, ...]:
    """A review reason when a printed option word is too damaged on the fax to judge a mark by it."""
    if any(print_survival(aligned, template, template.px(w)) < PRINT_SURVIVAL_MIN for w in words):
        return (Reason.of("print_damaged", key),)
    return ()


def read_stamp(aligned: AlignedPage, template: Template, spec: StampField) -> FieldReading:
    """Office-use stamp cells: true when stamped or marked."""
    box = template.px(spec.box)
    mask, _ = added_ink(aligned, template, box)
    frac = float(mask.sum()) / max(1, mask.size)
    stamped = frac >= STAMP_MIN_FRACTION
    margin = abs(frac - STAMP_MIN_FRACTION) / STAMP_MIN_FRACTION
    return FieldReading(spec.key, stamped, float(min(0.999, 0.5 + 0.5 * min(1.0, margin))), (), box)
