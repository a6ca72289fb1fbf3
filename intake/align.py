"""Align: register a form page onto its template's frame and say how well it fits.

The coarse homography from classification is refined with ECC on the ruled
lines (which handwriting does not move), then scored by how much of the
template's ruled lines land on ink in the warped page. A page whose score is
below the template's threshold, and whose own surviving lines do not lie on the
form's either, is flagged ``alignment_failed``: its fields are never read as if
they were trustworthy.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from intake.model import AlignedPage, Classification, Page
from intake.reasons import Reason
from intake.template import Template

log = logging.getLogger("intake.align")

ECC_SCALE = 0.5
LINE_TOLERANCE_PX = 3
# The feature homography is usually already within a pixel; ECC (the slowest step) runs only
# when the ruled lines say it is not.
GOOD_ENOUGH_QUALITY = 0.97
# A page whose print has faded is still aligned when the lines it does show lie on the form's.
# Measured: a light print sent at 98 dpi showed 22% of the form's line pixels, 93% of them on
# the form's lines; a page shifted a few millimetres puts 7% of its lines there.
LINE_PRECISION_MIN = 0.8
MIN_VISIBLE_LINES = 0.15

_LINE_MASKS: dict[tuple[str, int], np.ndarray] = {}


def ruled_lines(image: np.ndarray, dpi: float) -> np.ndarray:
    """Long horizontal and vertical strokes (the form's table), as a 0/255 mask."""
    ink = (image < 128).astype(np.uint8) * 255
    length = max(15, int(dpi * 0.25))
    horiz = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1)))
    vert = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, length)))
    return cv2.bitwise_or(horiz, vert)


def template_lines(template: Template) -> np.ndarray:
    key = (template.id, id(template))
    if key not in _LINE_MASKS:
        _LINE_MASKS[key] = ruled_lines(template.reference, template.working_dpi)
    return _LINE_MASKS[key]


def alignment_quality(warped: np.ndarray, template: Template) -> float:
    """Share of the template's ruled-line pixels that have ink within a few pixels in the page."""
    lines = template_lines(template) > 0
    ink = (warped < 160).astype(np.uint8)
    near = cv2.dilate(ink, np.ones((2 * template.scaled(LINE_TOLERANCE_PX) + 1,) * 2, np.uint8)) > 0
    total = int(lines.sum())
    return float((near & lines).sum()) / total if total else 0.0


def line_precision(warped: np.ndarray, template: Template) -> tuple[float, float]:
    """(share of the page's own ruled-line pixels that lie on the template's lines, how much line
    the page shows relative to the template). A faded or light print loses lines, which lowers
    ``alignment_quality``; the lines that remain still sit on the form's lines if the fit is right."""
    own = ruled_lines(warped, template.working_dpi) > 0
    lines = template_lines(template)
    near = cv2.dilate(lines, np.ones((2 * template.scaled(LINE_TOLERANCE_PX) + 1,) * 2, np.uint8)) > 0
    total = int((lines > 0).sum())
    if not own.any() or not total:
        return 0.0, 0.0
    return float((own & near).sum()) / float(own.sum()), float(own.sum()) / total


def _ecc_lines(small: np.ndarray, template: Template) -> np.ndarray:
    """A page at ECC_SCALE as ECC compares it: its blurred line drawing, so that handwriting and
    speckle weigh little."""
    return cv2.GaussianBlur(ruled_lines(small, template.working_dpi * ECC_SCALE), (0, 0), 2).astype(np.float32)


_ECC_LINES: dict[tuple[str, int], np.ndarray] = {}


def _template_ecc_lines(template: Template) -> np.ndarray:
    key = (template.id, id(template))
    if key not in _ECC_LINES:
        ref = cv2.resize(template.reference, None, fx=ECC_SCALE, fy=ECC_SCALE, interpolation=cv2.INTER_AREA)
        _ECC_LINES[key] = _ecc_lines(ref, template)
    return _ECC_LINES[key]


def _ecc_refine(warped: np.ndarray, template: Template) -> np.ndarray | None:
    """A small corrective homography (template frame -> template frame), or None if ECC fails."""
    img = cv2.resize(warped, None, fx=ECC_SCALE, fy=ECC_SCALE, interpolation=cv2.INTER_AREA)
    ref_l = _template_ecc_lines(template)
    img_l = _ecc_lines(img, template)
    warp = np.eye(3, dtype=np.float32)
    try:
        _, warp = cv2.findTransformECC(ref_l, img_l, warp, cv2.MOTION_HOMOGRAPHY,
                                       (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 60, 1e-5), None, 1)
    except cv2.error:
        return None
    s = np.diag([ECC_SCALE, ECC_SCALE, 1.0])
    return np.linalg.inv(s) @ warp.astype(np.float64) @ s


Fit = tuple[np.ndarray, np.ndarray, float]  # (page->form homography, the page warped by it, its quality)


def _warp(page: Page, homography: np.ndarray, template: Template) -> Fit:
    warped = cv2.warpPerspective(page.image, homography, template.size_px, flags=cv2.INTER_LINEAR, borderValue=255)
    return homography, warped, alignment_quality(warped, template)


def ecc_refine(page: Page, fit: Fit, template: Template) -> Fit:
    """The fit corrected by ECC on the ruled lines, where the lines say it needs it and it helps."""
    homography, warped, quality = fit
    if quality >= GOOD_ENOUGH_QUALITY:
        return fit
    correction = _ecc_refine(warped, template)
    if correction is None:
        return fit
    # ECC maps template coordinates to warped-page coordinates; invert to refine page->template.
    refined = _warp(page, np.linalg.inv(correction) @ homography, template)
    return refined if refined[2] >= quality else fit


# The template's ``preprocessing`` steps, by name, applied in its order.
REFINEMENTS = {"ecc_refine": ecc_refine}


def align_to_template(page: Page, classification: Classification, template: Template) -> AlignedPage:
    """Warp ``page`` into ``template``'s frame (template dpi, template size), refine the fit by the
    template's ``preprocessing`` steps, and score it."""
    if not classification.geometry_ok:
        log.debug("page %d: geometry not trusted; not aligned", page.source.page)
        return _untrusted(page, classification, template)
    fit = _warp(page, np.asarray(classification.homography, dtype=np.float64), template)
    log.debug("page %d: coarse alignment quality %.3f", page.source.page, fit[2])
    for step in template.preprocessing:
        fit = REFINEMENTS[step](page, fit, template)
        log.debug("page %d: after %s, alignment quality %.3f", page.source.page, step, fit[2])
    homography, warped, quality = fit
    ok = quality >= template.min_alignment_quality
    if not ok:  # faded print? (see LINE_PRECISION_MIN)
        precision, visible = line_precision(warped, template)
        ok = precision >= LINE_PRECISION_MIN and visible >= MIN_VISIBLE_LINES
    return AlignedPage(warped, template.id, page.source, quality, homography, ok, () if ok else _failed(quality),
                       off_page(page, homography, template))


def off_page(page: Page, homography: np.ndarray, template: Template) -> np.ndarray:
    """Where the template's frame falls outside the received page, as a boolean mask."""
    w, h = template.size_px
    sent = np.full(page.image.shape[:2], 255, np.uint8)
    inside = cv2.warpPerspective(sent, homography, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
    return inside == 0


def _untrusted(page: Page, classification: Classification, template: Template) -> AlignedPage:
    """The form was recognised but its geometry is not a plausible fax of it: keep the page as a
    record flagged ``alignment_failed``, warped as well as the homography allows (or simply fitted
    to the form's frame) so that a person can see it."""
    w, h = template.size_px
    homography = None if classification.homography is None else np.asarray(classification.homography, dtype=np.float64)
    if homography is None or not np.all(np.isfinite(homography)) or abs(np.linalg.det(homography)) < 1e-12:
        ph, pw = page.image.shape
        homography = np.diag([w / pw, h / ph, 1.0])
    warped = cv2.warpPerspective(page.image, homography, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)
    quality = alignment_quality(warped, template)
    return AlignedPage(warped, template.id, page.source, quality, homography, False, _failed(quality))


def _failed(quality: float) -> tuple[Reason, ...]:
    return (Reason.of("alignment_failed", quality=round(quality, 3)),)
