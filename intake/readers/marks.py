"""Marks: circled or ticked options (要 / 不要, フリー) and office-use stamps.

Decisions are made from the ink the writer added around each printed option,
never from OCR: a circle is a lot of added ink surrounding a word, a tick a
little beside or over it.
"""

from __future__ import annotations

import numpy as np

from intake.model import AlignedPage, FieldReading
from intake.readers.ink import added_ink
from intake.template import CircledOptionField, OptionPairField, StampField, Template

# Fractions of a box's area covered by added ink.
MARK_MIN_FRACTION = 0.006  # below this the option is unmarked (speckle, a stray dot)
CLEAR_RATIO = 3.0  # the marked option must carry this many times the ink of the other
STAMP_MIN_FRACTION = 0.02


def _ink_fraction(mask: np.ndarray) -> float:
    return float(mask.sum()) / max(1, mask.size)


def read_option_pair(aligned: AlignedPage, template: Template, spec: OptionPairField) -> FieldReading:
    """要 / 不要: true, false, or None (and a review reason) when neither or both are marked."""
    box = template.px(spec.box)
    scores = []
    for option in spec.options:
        ob = template.px(option.box)
        mask, _ = added_ink(aligned, template, ob)
        # A circle drawn around one word often clips the neighbouring half near
        # the middle dot; ink far from the boundary counts, ink near it less.
        scores.append(_ink_fraction(mask))
    (a, b) = scores
    marked = [s >= MARK_MIN_FRACTION for s in scores]
    hi, lo = max(a, b), min(a, b)
    if not any(marked):
        return FieldReading(spec.key, None, 0.9, (f"{spec.key}: neither option is marked",), box)
    if lo > 0 and hi / lo < CLEAR_RATIO and all(marked):
        return FieldReading(spec.key, None, 0.5, (f"{spec.key}: both options look marked",), box)
    chosen = spec.options[0] if a >= b else spec.options[1]
    ratio = hi / max(lo, 1e-4)
    confidence = float(min(0.999, 0.5 + 0.5 * min(1.0, (ratio - 1) / (2 * CLEAR_RATIO)) * min(1.0, hi / (3 * MARK_MIN_FRACTION))))
    return FieldReading(spec.key, chosen.value, confidence, (), box)


def read_circled_option(aligned: AlignedPage, template: Template, spec: CircledOptionField) -> FieldReading:
    """フリー: true when the writer circled (or ticked) the printed word."""
    box = template.px(spec.box)
    mask, _ = added_ink(aligned, template, box)
    frac = _ink_fraction(mask)
    if frac >= MARK_MIN_FRACTION:
        confidence = min(0.999, 0.6 + 0.4 * min(1.0, frac / (4 * MARK_MIN_FRACTION)))
        return FieldReading(spec.key, True, confidence, (), box)
    confidence = min(0.999, 0.6 + 0.4 * (1 - frac / MARK_MIN_FRACTION))
    return FieldReading(spec.key, False, confidence, (), box)


def read_stamp(aligned: AlignedPage, template: Template, spec: StampField) -> FieldReading:
    """Office-use stamp cells: true when stamped or marked."""
    box = template.px(spec.box)
    mask, _ = added_ink(aligned, template, box)
    frac = _ink_fraction(mask)
    stamped = frac >= STAMP_MIN_FRACTION
    margin = abs(frac - STAMP_MIN_FRACTION) / STAMP_MIN_FRACTION
    confidence = float(min(0.999, 0.6 + 0.4 * min(1.0, margin)))
    return FieldReading(spec.key, stamped, confidence, (), box)
