"""Digits: numbers written one per printed cell (comb) or freely between printed words.

Two independent readers look at every number: a CNN on each segmented glyph
and PP-OCR on the whole string (constrained to digits). Each reading carries the
candidate strings both readers support, with their joint belief; whether a reading
needs a person is decided from the posterior once the record's evidence is weighed
(``intake.evidence``), not from whether the readers agreed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import cv2
import numpy as np

from intake.model import AlignedPage, Box, FieldReading
from intake.reasons import Reason
from intake.readers.engines.base import DigitClassifier, TextRecogniser
from intake.readers.ink import AT_TUNED_DPI, Blob, MaskLengths, added_ink, glyph_image, stroke_groups
from intake.readers.number_decoding import DIGITS, Allows, NumberReading, combine, fit_to_part, normalised
from intake.readers.segmentation import REJECT, is_tall, segment_by_recognition, segment_digits

if TYPE_CHECKING:
    from intake.kinds.comb_digits import CombDigitsField
    from intake.kinds.parts import PartsField
    from intake.template import Template

MIN_CELL_PIECE_PX = 15  # ink pieces smaller than this (at TUNED_DPI) in a comb cell are specks, not strokes
MIN_WHOLE_DIGIT_HEIGHT_FRAC = 0.3  # of the part's box height; see structural_doubts
# PP-OCR often reads a digit written twice (11) once: CTC needs a blank frame between the
# two, and close handwriting leaves none. Where the ink shows how many digits there are, the
# engine's likeliest reading of that many is taken if its path is at most e^4 times less
# likely than the engine's own. On 220 development faxes this settled 18 disputes, each
# to the right number, and let no wrong number through. Measured and refused: e^100 (let
# wrong numbers through), filling in a reading where the engine read nothing, and
# shortening a free-space reading to the CNN's count (3 wrong numbers through on 100 faxes).
MAX_COUNT_FIT_LOG_RATIO = 4.0


def _cnn_reading(probs: np.ndarray) -> NumberReading:
    """The CNN's string from its (N, 11) glyph probabilities."""
    text, confs, dists, reasons = [], [], [], []
    for p in probs:
        digit_probs = p[:REJECT]
        k = int(np.argmax(digit_probs))
        if p[REJECT] > digit_probs[k]:
            reasons.append(Reason.of("not_a_digit"))
        text.append(DIGITS[k])
        confs.append(float(digit_probs[k]))
        dists.append(normalised(digit_probs))
    return NumberReading("".join(text), float(min(confs)), tuple(dict.fromkeys(reasons)), tuple(dists))


def _ocr_reading(ocr: TextRecogniser, line: np.ndarray) -> NumberReading:
    """The OCR engine's constrained reading, with per-digit distributions where the engine gives them.

    The binary line is softened first (grey stroke edges, as in the scans the engine learnt
    from): PP-OCR then reads 1-2% more comb numbers right on generated faxes.
    """
    text, frames = ocr.character_distributions(cv2.GaussianBlur(line, (3, 3), 0), DIGITS)
    if not text:
        return NumberReading("", 0.0)
    return _from_frames(text, frames)


def _ocr_reading_of_count(ocr: TextRecogniser, line: np.ndarray, reading: NumberReading | None, count: int,
                          may_shorten: bool) -> NumberReading | None:
    """PP-OCR's likeliest reading of exactly ``count`` digits, where the ink shows that many and
    its own reading has another length.

    Kept only where that reading's path is at most e^MAX_COUNT_FIT_LOG_RATIO times less likely
    than the engine's own, and never where the engine read nothing (it saw no digit at all).
    ``may_shorten`` is False where the count comes from a segmentation that may have merged
    two digits into one (free space): the engine may then be right to read more.
    """
    if reading is None or not reading.text or len(reading.text) == count:
        return reading
    if len(reading.text) > count and not may_shorten:
        return reading
    found = ocr.distributions_of_length(cv2.GaussianBlur(line, (3, 3), 0), DIGITS, count)
    if found is None or found[2] > MAX_COUNT_FIT_LOG_RATIO:
        return reading
    text, frames, _ = found
    return _from_frames(text, frames)


def _from_frames(text: str, frames: list[np.ndarray]) -> NumberReading:
    """A reading from the engine's per-character probabilities over the digits."""
    return NumberReading(text, float(min(f.max() for f in frames)), (), tuple(normalised(f) for f in frames))


def _line(mask: np.ndarray, boxes: list[Blob], margin: int = 6) -> np.ndarray:
    """The ink spanned by the given glyphs as one text-line image for the OCR engine."""
    span = Box.around(boxes)
    return glyph_image(mask, span.x0, span.y0, span.x1, span.y1, margin=margin)


def read_number(mask: np.ndarray, expected: tuple[int, int], cnn: DigitClassifier | None,
                ocr: TextRecogniser | None, allows: Allows | None = None,
                lengths: MaskLengths = AT_TUNED_DPI) -> NumberReading | None:
    """A free-space number, or None when nothing is written.

    ``allows`` says which strings are possible (a month of 1-12): each reader's reading is
    the likeliest possible one, as a keyer reads an unclear digit in the light of what fits.
    """
    if mask.sum() == 0:
        return None
    boxes = segment_digits(mask, expected, lengths=lengths)
    if not boxes:
        return None
    ocr_line = _line(mask, boxes)
    ocr_reading = _ocr_reading(ocr, ocr_line) if ocr is not None else None
    cnn_reading = None
    if cnn is not None:
        hint = len(ocr_reading.text) if ocr_reading is not None and ocr_reading.text else None
        cnn_boxes, probs = segment_by_recognition(mask, expected, cnn.classify, count_hint=hint, lengths=lengths)
        if cnn_boxes:
            cnn_reading = _cnn_reading(probs)
            doubts = structural_doubts(mask, cnn_boxes, lengths)
            if doubts:
                cnn_reading = replace(cnn_reading, reasons=cnn_reading.reasons + doubts)
            if ocr is not None:
                # A mark at either end that the CNN calls "not a digit" (a bracket's tail) is
                # left out of the line PP-OCR reads too.
                if cnn_boxes[0].x0 > boxes[0].x0 + 2 or cnn_boxes[-1].x1 < boxes[-1].x1 - 2:
                    ocr_line = _line(mask, cnn_boxes)
                    ocr_reading = _ocr_reading(ocr, ocr_line)
                ocr_reading = _ocr_reading_of_count(ocr, ocr_line, ocr_reading, len(cnn_boxes), may_shorten=False)
    return combine(fit_to_part(cnn_reading, allows), fit_to_part(ocr_reading, allows), allows)


def structural_doubts(mask: np.ndarray, boxes: list[Blob], lengths: MaskLengths = AT_TUNED_DPI) -> tuple[Reason, ...]:
    """Reasons to doubt a number whatever the readers say, because both would miss the same thing.

    Ink left outside the digits that were read, as much as a quarter of a digit, may be a
    digit the fax broke up or one written oddly (a 1 laid almost flat): both readers then
    agree, with confidence, on a number that is a digit short. (A digit wider than tall is
    no such sign: measured, single handwritten digits run up to twice as wide as tall.)

    A digit under 30% of the box's height is most often what the fax left of a larger one
    (the stub of a 5 read as 1). Measured on 4,041 date, time and phone parts, 25 were that
    short; 15 of them were misread, and only 2 of the right ones had no other flag.
    """
    if not boxes:
        return ()
    out = []
    digit_area = float(np.median([b.area for b in boxes]))
    inside = np.zeros(mask.shape, bool)
    for b in boxes:
        inside[b.y0 : b.y1, b.x0 : b.x1] = True
    left_over = [p for p in stroke_groups(mask, lengths) if p.area >= lengths.min_piece_area and not inside[p.y0 + (p.y1 - p.y0) // 2, p.x0 + (p.x1 - p.x0) // 2]]
    if sum(p.area for p in left_over) >= 0.25 * digit_area:
        out.append(Reason.of("ink_beside_number"))
    if min(b.y1 - b.y0 for b in boxes) < MIN_WHOLE_DIGIT_HEIGHT_FRAC * mask.shape[0]:
        out.append(Reason.of("digit_broken"))
    return tuple(out)


def comb_ink(aligned: AlignedPage, template: Template, spec: CombDigitsField) -> tuple[np.ndarray, Box]:
    """The ink added over a comb's cells (and a margin round them), and the box it was taken from."""
    return added_ink(aligned, template, Box.around(template.px(c) for c in spec.cells), pad=6, pen_on_print=True)


def parts_ink(aligned: AlignedPage, template: Template, spec: PartsField) -> dict[str, np.ndarray]:
    """The ink added in each part of a date, time or phone field."""
    return {name: added_ink(aligned, template, template.px(box), pad=2)[0] for name, box in spec.parts.items()}


def read_comb_digits(aligned: AlignedPage, template: Template, spec: CombDigitsField,
                     cnn: DigitClassifier | None, ocr: TextRecogniser | None,
                     ink: tuple[np.ndarray, Box] | None = None) -> FieldReading:
    """Digits one per cell, joined into the field's printed format (e.g. 0180-99-NNNN).

    ``ink`` is the field's :func:`comb_ink` where the caller has it already."""
    cells = [template.px(c) for c in spec.cells]
    region = Box.around(cells)
    mask, used = ink or comb_ink(aligned, template, spec)
    if mask.sum() == 0:
        return FieldReading(spec.key, None, 0.99, (), region)
    # A digit belongs to the cell that holds its centre, even if a stroke crosses the cell line.
    lengths = MaskLengths.of(template)
    pieces = [b for b in stroke_groups(mask, lengths) if b.area >= template.scaled_area(MIN_CELL_PIECE_PX)]
    per_cell: list[list[Blob]] = [[] for _ in cells]
    for b in pieces:
        cx = used.x0 + b.cx
        i = min(range(len(cells)), key=lambda j: abs((cells[j].x0 + cells[j].x1) / 2 - cx))
        per_cell[i].append(b)
    glyphs, filled = [], []
    for i, items in enumerate(per_cell):
        if not any(is_tall(b, cells[i].height, lengths) for b in items):
            continue
        # Once a cell holds a digit, every piece in it is part of that digit: a faint 5 loses
        # its bar, a broken 0 half its ring, if only the tall pieces are kept.
        span = Box.around(items)
        glyphs.append(glyph_image(mask, span.x0, span.y0, span.x1, span.y1))
        filled.append(i)
    if not filled:
        return FieldReading(spec.key, None, 0.9, (), region)
    cnn_reading = _cnn_reading(cnn.classify(glyphs)) if cnn is not None else None
    ocr_reading = None
    if ocr is not None:
        line = np.where(mask > 0, 0, 255).astype(np.uint8)
        ocr_reading = _ocr_reading_of_count(ocr, line, _ocr_reading(ocr, line), len(filled), may_shorten=True)
    # -- candidates and evidence: a comb field holds one digit per cell, so only strings of
    # that many digits are candidates (the readers' other strings get no share).
    reading = combine(cnn_reading, ocr_reading, allows=lambda text: len(text) == len(cells))
    if len(filled) != len(cells):
        return FieldReading(spec.key, None, reading.confidence * 0.5,
                            (Reason.of("digit_count", spec.key, count=len(filled), expected=len(cells)),), region)
    return comb_field_reading(spec, reading, region, cnn_reading)


def comb_field_reading(spec: CombDigitsField, reading: NumberReading, region: Box,
                       counted: NumberReading | None = None) -> FieldReading:
    """A comb field from its number's candidates (only strings of one digit per cell are any), flagged
    ``digit_count`` where there is none; ``counted`` is the reading whose length that reason reports."""
    if not reading.candidates:
        count = len(counted.text) if counted is not None else len(reading.text)
        return FieldReading(spec.key, None, 0.0, (Reason.of("digit_count", spec.key, count=count, expected=len(spec.cells)),), region)
    candidates = tuple((_as_format(spec, text), p) for text, p in reading.candidates)
    return FieldReading(spec.key, candidates[0][0], reading.confidence,
                        tuple(r.naming(spec.key) for r in reading.reasons), region, candidates,
                        notes=disputed_note(spec.key, reading))


def disputed_note(key: str, reading: NumberReading, part: str | None = None) -> tuple[Reason, ...]:
    """The readers' disagreement as a note (data for the reviewer and the audit, never a flag by itself)."""
    if reading.disputed is None:
        return ()
    where = {"part": part} if part else {}
    return (Reason.of("readers_disagree", key, **where, first=reading.disputed[0], second=reading.disputed[1]),)


def _as_format(spec: CombDigitsField, text: str) -> str:
    """Digits in the field's printed format (e.g. 0180-99-NNNN)."""
    groups, start = [], 0
    for n in spec.groups:
        groups.append(text[start : start + n])
        start += n
    return spec.format.format(*groups)


def read_parts(aligned: AlignedPage, template: Template, spec: PartsField, cnn: DigitClassifier | None,
               ocr: TextRecogniser | None, received_year: int | None = None,
               ink: dict[str, np.ndarray] | None = None) -> tuple[dict[str, NumberReading | None], Box]:
    """Each free-space number of a date, time or phone field (None where nothing is written).

    ``received_year`` (the year the fax arrived) bounds a two-digit year by the template's year_window.
    ``ink`` is the field's :func:`parts_ink` where the caller has it already.
    """
    out: dict[str, NumberReading | None] = {}
    boxes = [template.px(b) for b in spec.parts.values()]
    whole = Box.around(boxes)
    masks = ink or parts_ink(aligned, template, spec)
    for name in spec.parts:
        mask = masks[name]
        out[name] = read_number(mask, tuple(spec.digits[name]), cnn, ocr,
                                allows=lambda text, name=name: spec.part_allows(name, text, received_year),
                                lengths=MaskLengths.of(template))
    return out, whole
