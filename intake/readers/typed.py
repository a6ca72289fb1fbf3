"""Typed forms: is a field's ink print or handwriting, and reading numbers typed in print.

About one form in ten is filled on a computer before it is faxed. Print differs from a hand in
ways the ink shows: every digit of a number is the same height and sits on one baseline, the
digits stand upright and apart, and the size is a font's (9-14 pt, digits 4-6 mm tall), smaller
than most people write in a box. :func:`print_evidence` measures that on the ink of one field and
:func:`looks_typed` decides; the thresholds were set on the development print fonts and the
training hands only (``training/measure_typed.py``), never on the held-out fonts or evaluation hands.

A typed number need not sit one digit per printed cell (a computer types the whole number as one
string wherever the cursor is), so it is read without the cells: the print-digit model
(``intake/models/print_digits.onnx``, trained on the development print fonts and Latin fonts, never
the held-out print fonts) judges where the glyphs part (``segment_by_recognition``) and classifies
each; PP-OCR reads all the ink on its own as the second opinion. The two are joined as any two digit
readers are (``number_decoding.combine``), and the evidence stage settles or flags what they dispute.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from intake.model import Box, FieldReading
from intake.readers.digits import _cnn_reading, _line, _ocr_reading, _ocr_reading_of_count, comb_field_reading, structural_doubts
from intake.readers.engines.base import DigitClassifier, TextRecogniser
from intake.readers.ink import AT_TUNED_DPI, Blob, MaskLengths, blobs
from intake.readers.number_decoding import Allows, NumberReading, combine, fit_to_part
from intake.readers.segmentation import segment_by_recognition

if TYPE_CHECKING:
    from intake.kinds.comb_digits import CombDigitsField
    from intake.kinds.parts import PartsField
    from intake.template import Template

MIN_PIECE_PX = 6  # pieces smaller than this (at 200 dpi) are fax speckle, not part of a digit
MIN_GLYPH_HEIGHT_FRAC = 0.45  # of the tallest glyph: a shorter piece standing alone is a hyphen or a speck


@dataclass(frozen=True)
class PrintEvidence:
    """What the ink of one number says about print, in 200-dpi pixels."""

    glyphs: int
    height: float  # median glyph height
    in_line: float  # share of glyphs of the median height standing on the median baseline
    widest: float  # the widest glyph's width over its height

    @property
    def usable(self) -> bool:
        return self.glyphs >= 1 and self.height > 0


def print_glyphs(mask: np.ndarray) -> list[Blob]:
    """The glyphs of a printed number, left to right: pieces that overlap in x are one glyph
    (a fax breaks a thin stroke of a 0 or 7 into pieces above one another, never beside)."""
    pieces = sorted((b for b in blobs(mask) if b.area >= MIN_PIECE_PX), key=lambda b: b.x0)
    columns: list[list[Blob]] = []
    right = -1
    for b in pieces:
        if columns and b.x0 < right - 1:
            columns[-1].append(b)
            right = max(right, b.x1)
        else:
            columns.append([b])
            right = b.x1
    glyphs = [Blob.joined(c) for c in columns]
    if not glyphs:
        return []
    tallest = max(g.y1 - g.y0 for g in glyphs)
    return [g for g in glyphs if g.y1 - g.y0 >= MIN_GLYPH_HEIGHT_FRAC * tallest]


def print_evidence(mask: np.ndarray, scale: float = 1.0) -> PrintEvidence:
    """The print cues of a number's ink; ``scale`` converts the mask's pixels to 200-dpi pixels."""
    glyphs = print_glyphs(mask)
    if not glyphs:
        return PrintEvidence(0, 0.0, 0.0, 0.0)
    heights = np.array([g.y1 - g.y0 for g in glyphs], float)
    bottoms = np.array([g.y1 for g in glyphs], float)
    h = float(np.median(heights))
    in_line = (np.abs(heights - h) <= IN_LINE_TOLERANCE * h) & (np.abs(bottoms - np.median(bottoms)) <= IN_LINE_TOLERANCE * h)
    widest = max((g.x1 - g.x0) / max(1, g.y1 - g.y0) for g in glyphs)
    return PrintEvidence(len(glyphs), h * scale, float(in_line.mean()), float(widest))


def to_tuned_px(template: Template) -> float:
    """How many pixels at the readers' tuned 200 dpi one of the template's pixels is."""
    return 1000 / template.scaled(1000)


# -- the print-or-hand decision ---------------------------------------------------------------
# Set from the development print fonts and the training hands (training/measure_typed.py).
PRINT_HEIGHT_PX = (12.0, 30.0)  # digit height at 200 dpi: 9-14 pt type is 17-28 px; hands write bigger
IN_LINE_TOLERANCE = 0.15  # of the height: print digits share one height and one baseline
MIN_IN_LINE = 0.75  # the fax may break a glyph or two; most stay whole
MAX_GLYPH_ASPECT = 0.9  # a print digit is narrower than tall; two hand digits run together are not


def looks_typed(evidence: PrintEvidence, expected: tuple[int, int]) -> bool:
    """Whether a number's ink is print: apart, upright glyphs of a font's size on one baseline and one
    height, about as many as the field holds (a fax may break a thin glyph in two)."""
    lo, hi = expected
    return (evidence.usable and lo <= evidence.glyphs <= 2 * hi
            and PRINT_HEIGHT_PX[0] <= evidence.height <= PRINT_HEIGHT_PX[1]
            and evidence.in_line >= MIN_IN_LINE and evidence.widest <= MAX_GLYPH_ASPECT)


# -- reading print ---------------------------------------------------------------------------
def _band(mask: np.ndarray, margin: int = 3) -> np.ndarray:
    """The rows of ``mask`` that hold the printed glyphs (a typed line is far lower than its box)."""
    glyphs = print_glyphs(mask)
    y0 = max(0, min(g.y0 for g in glyphs) - margin)
    y1 = min(mask.shape[0], max(g.y1 for g in glyphs) + margin)
    return mask[y0:y1]


def read_print_number(mask: np.ndarray, expected: tuple[int, int], print_cnn: DigitClassifier, ocr: TextRecogniser | None,
                      allows: Allows | None = None, lengths: MaskLengths = AT_TUNED_DPI) -> NumberReading | None:
    """A typed number: the print-digit model on each glyph, PP-OCR on the whole string, joined.

    PP-OCR reads all the ink, not the glyphs the model chose: a 0 the fax broke into two arcs may
    look to the model like brackets left out of the number, and PP-OCR must be free to see it.
    """
    band = _band(mask)
    boxes, probs = segment_by_recognition(band, expected, print_cnn.classify, lengths=lengths)
    if not boxes:
        return None
    glyph_reading = _cnn_reading(probs)
    doubts = structural_doubts(band, boxes, lengths)
    if doubts:
        glyph_reading = replace(glyph_reading, reasons=glyph_reading.reasons + doubts)
    ocr_reading = None
    if ocr is not None:
        line = _line(band, blobs(band))
        ocr_reading = _ocr_reading_of_count(ocr, line, _ocr_reading(ocr, line), len(boxes), may_shorten=False)
    return combine(fit_to_part(glyph_reading, allows), fit_to_part(ocr_reading, allows), allows)


def read_typed_comb(ink: tuple[np.ndarray, Box], template: Template, spec: CombDigitsField, print_cnn: DigitClassifier,
                    ocr: TextRecogniser | None) -> FieldReading | None:
    """A comb number read as print from its ink (``digits.comb_ink``), or None where the ink is not
    print (the hand reader takes it). The cells are ignored: a typed number may run across them."""
    mask, _ = ink
    n = len(spec.cells)
    if mask.sum() == 0 or not looks_typed(print_evidence(mask, to_tuned_px(template)), (n, n)):
        return None
    reading = read_print_number(mask, (n, n), print_cnn, ocr, allows=lambda text: len(text) == n, lengths=MaskLengths.of(template))
    return None if reading is None else comb_field_reading(spec, reading, Box.around(template.px(c) for c in spec.cells))


def read_typed_parts(masks: dict[str, np.ndarray], template: Template, spec: PartsField, print_cnn: DigitClassifier,
                     ocr: TextRecogniser | None, received_year: int | None = None) -> dict[str, NumberReading | None] | None:
    """Each part of a date, time or phone read as print from its ink (``digits.parts_ink``), or None
    unless every written part is print."""
    scale = to_tuned_px(template)
    written = {name: m for name, m in masks.items() if m.sum() > 0}
    if not written or not all(looks_typed(print_evidence(m, scale), tuple(spec.digits[name])) for name, m in written.items()):
        return None
    lengths = MaskLengths.of(template)
    return {name: read_print_number(masks[name], tuple(spec.digits[name]), print_cnn, ocr,
                                    allows=lambda text, name=name: spec.part_allows(name, text, received_year), lengths=lengths)
            if name in written else None for name in spec.parts}
