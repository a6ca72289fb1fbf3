"""Classify: is this page one of our forms, which way up is it, and roughly where?

Faxes often carry the privacy-policy and notes pages, a cover sheet or a blank
page besides the form. Each page is matched against every template's blank
reference with ORB features and a RANSAC homography; a page is a form only if
enough features, spread over the sheet, agree on one plausible geometry. ORB is
rotation-invariant, so upside-down and sideways pages (two to a sheet) are found
by the same match; forms printed at 45-140% of their size are found too, matched
a second time at their print scale when the first match is weak.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np

from intake.model import Classification, Page
from intake.template import Template

log = logging.getLogger("intake.classify")

MATCH_DPI = 100.0
# Measured on generated faxes at print scales 50-130%, two to a sheet and cut edges: form pages
# have >= 101 consistent features spread over >= 31% of the sheet; privacy, notes and cover pages
# at the same scales <= 90, and those over <= 21% (an enlarged notes page matches the title only).
MIN_INLIERS = 70
MIN_SPREAD = 0.25
# A geometry no fax produces is taken for the form (a flagged record) only on twice the evidence:
# an enlarged notes page matched with a stretched geometry on 83 features.
UNTRUSTED_MIN_INLIERS = 2 * MIN_INLIERS
MIN_INLIER_RATIO = 0.12
BLANK_INK_RATIO = 0.002
PAGE_FEATURES = 6000
TEMPLATE_FEATURES = 5000
# Reduced prints ("fit to page", two pages to a sheet at ~69%) and enlarged copies.
MIN_PRINT_SCALE = 0.45
MAX_PRINT_SCALE = 1.4
# The ratio test's runner-up must lie elsewhere on the form (see _distinctive).
NEIGHBOURS = 4
SAME_PLACE_MM = 1.5
# Second match: a weak match with this many consistent features says the print scale; it is worth
# matching again when that is more than one ORB pyramid step (1.2) from the form's size.
HINT_MIN_INLIERS = 12
RESCALE_MIN = 1.2
ENLARGED_PRINT_SCALE = 1.3
EXTENT_DPI = 50.0


@dataclass(frozen=True)
class _Features:
    points: np.ndarray  # (n, 2) keypoint positions in source pixels
    descriptors: np.ndarray


def _prepare(image: np.ndarray, dpi: float, match_dpi: float) -> tuple[np.ndarray, float]:
    scale = match_dpi / dpi
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    # Fax binarisation leaves jagged edges and speckle; a light blur gives ORB stabler corners.
    return cv2.GaussianBlur(small, (3, 3), 0), scale


def _features(image: np.ndarray, dpi: float, count: int = PAGE_FEATURES, match_dpi: float = MATCH_DPI) -> _Features:
    small, scale = _prepare(image, dpi, match_dpi)
    orb = cv2.ORB_create(nfeatures=count, scaleFactor=1.2, nlevels=8, edgeThreshold=15, patchSize=31, fastThreshold=10)
    kps, desc = orb.detectAndCompute(small, None)
    if desc is None:
        return _Features(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8))
    return _Features(np.float32([k.pt for k in kps]) / scale, desc)


_TEMPLATE_FEATURES: dict[tuple[str, int], _Features] = {}


def _template_features(template: Template) -> _Features:
    key = (template.id, id(template))
    if key not in _TEMPLATE_FEATURES:
        _TEMPLATE_FEATURES[key] = _features(template.reference, template.working_dpi, TEMPLATE_FEATURES)
    return _TEMPLATE_FEATURES[key]


def ink_ratio(image: np.ndarray) -> float:
    """Share of dark pixels: a blank page (or the back of a sheet) has almost none."""
    return float(np.count_nonzero(image < 128)) / image.size


def rotation_of(h: np.ndarray) -> int:
    """The page's rotation (0/90/180/270) implied by a page->template homography."""
    vx = h[0, 0], h[1, 0]
    angle = math.degrees(math.atan2(vx[1], vx[0]))
    return int(round(angle / 90.0)) % 4 * 90


def homography_is_plausible(h: np.ndarray, page_dpi: float, template_dpi: float) -> tuple[bool, str]:
    """A faxed page is a similarity transform of the template plus mild skew; reject anything else."""
    if h is None or not np.all(np.isfinite(h)):
        return False, "no homography"
    a = h[:2, :2] / h[2, 2]
    sx, sy = np.linalg.norm(a[:, 0]), np.linalg.norm(a[:, 1])
    expected = template_dpi / page_dpi
    # The page->template scale is the inverse of the print scale (a form printed at 50% maps at 2x).
    lo, hi = expected / MAX_PRINT_SCALE, expected / MIN_PRINT_SCALE
    if not (lo < sx < hi and lo < sy < hi):
        return False, f"printed at {expected / sx:.0%}x{expected / sy:.0%} of the form's size"
    if abs(sx - sy) / max(sx, sy) > 0.12:
        return False, "page is stretched in one direction"
    if abs(h[2, 0]) > 2e-4 or abs(h[2, 1]) > 2e-4:
        return False, "perspective too strong for a fax"
    det = np.linalg.det(a)
    if det <= 0:
        return False, "page is mirrored"
    return True, ""


def classify_page(page: Page, templates: list[Template]) -> Classification:
    """Decide which template (if any) this page is, with a coarse page->template homography."""
    ink = ink_ratio(page.image)
    if ink < BLANK_INK_RATIO:
        return Classification(None, "blank page", 0.0)
    feats = _features(page.image, page.dpi)
    if len(feats.points) < MIN_INLIERS:
        return Classification(None, "too little printed structure to be a form", 0.0)
    best, print_scale = _best_match(feats, page, templates)
    if best.form is None:
        # ORB's pyramid steps by 1.2, and a form printed between its levels (a small print, an
        # enlarged copy) finds few matches. Match once more with the page resampled to put the form
        # at its own size: the print scale a weak match suggests, else the one the printed area's
        # extent suggests; a page that fills the sheet and still did not match may be an enlarged copy.
        guess = print_scale or printed_extent_scale(page, templates)
        if abs(math.log(guess)) < math.log(RESCALE_MIN):
            guess = ENLARGED_PRINT_SCALE
        match_dpi = min(page.dpi, MATCH_DPI / guess)
        again = _best_match(_features(page.image, page.dpi, PAGE_FEATURES, match_dpi), page, templates)
        best = choose([(best, print_scale), again])[0]
    log.debug("page %d: classified as %s, rotation %d, score %.2f", page.source.page, best.form, best.rotation, best.score)
    return best


def printed_extent_scale(page: Page, templates: list[Template]) -> float:
    """The print scale the printed area's size suggests: its height and width against the forms'
    (rows and columns with a little ink in them; the sending machine's header line is left out)."""
    small = cv2.resize(page.image, None, fx=EXTENT_DPI / page.dpi, fy=EXTENT_DPI / page.dpi, interpolation=cv2.INTER_AREA)
    ink = small < 200
    margin = int(0.04 * ink.shape[0])
    ink = ink[margin: ink.shape[0] - margin]
    rows = np.flatnonzero(ink.sum(axis=1) > 0.01 * ink.shape[1])
    cols = np.flatnonzero(ink.sum(axis=0) > 0.01 * ink.shape[0])
    if len(rows) < 2 or len(cols) < 2:
        return 1.0
    height, width = (rows[-1] - rows[0]) / EXTENT_DPI, (cols[-1] - cols[0]) / EXTENT_DPI
    ratios = []
    for template in templates:
        form_height, form_width = _printed_size(template)
        ratios += [height / form_height, width / form_width]
    return float(np.clip(np.mean(ratios), MIN_PRINT_SCALE, MAX_PRINT_SCALE))


_PRINTED_SIZE: dict[tuple[str, int], tuple[float, float]] = {}


def _printed_size(template: Template) -> tuple[float, float]:
    """Height and width of the blank form's printed area, in inches."""
    key = (template.id, id(template))
    if key not in _PRINTED_SIZE:
        ys, xs = np.nonzero(template.reference < 128)
        _PRINTED_SIZE[key] = ((ys.max() - ys.min()) / template.working_dpi, (xs.max() - xs.min()) / template.working_dpi)
    return _PRINTED_SIZE[key]


def _best_match(feats: _Features, page: Page, templates: list[Template]) -> tuple[Classification, float | None]:
    """The best match among the templates, and the print scale its geometry suggests (None if none)."""
    results = [_match(feats, page, template) for template in templates]
    for c, _ in results:
        log.debug("page %d: %s (score %.2f)", page.source.page, c.reason, c.score)
    return choose(results)


def choose(results: list[tuple[Classification, float | None]]) -> tuple[Classification, float | None]:
    """The best real match: a template the page matches with a plausible geometry wins over one it
    matches only implausibly, and that over no match at all, whatever their scores (an implausible
    geometry can score high); within each, the higher score."""
    return max(results, key=lambda r: (r[0].form is not None and r[0].geometry_ok, r[0].form is not None, r[0].score))


def _distinctive(distances: np.ndarray, neighbours: np.ndarray, points: np.ndarray, dpi: float) -> np.ndarray:
    """For each page feature (a row of its nearest template features, nearest first), whether its best
    match is clearly better than the best one elsewhere on the form (Lowe's ratio test). ORB describes
    a corner at several pyramid levels, so the runner-up is often the same corner seen at another
    scale; that one says nothing against the match and is passed over."""
    valid = neighbours >= 0
    if neighbours.shape[1] < 2:
        return valid[:, 0]
    where = points[np.maximum(neighbours, 0)]
    elsewhere = (np.abs(where[:, 1:] - where[:, :1]).max(axis=2) > SAME_PLACE_MM * dpi / 25.4) & valid[:, 1:]
    has_rival = elsewhere.any(axis=1)
    rival = np.take_along_axis(distances[:, 1:], elsewhere.argmax(axis=1)[:, None], axis=1)[:, 0]
    clear = distances[:, 0].astype(np.float64) < 0.8 * rival.astype(np.float64)
    return valid[:, 0] & (~has_rival | clear)


def _spread(points: np.ndarray, template: Template) -> float:
    """The share of the form's sheet covered by the convex hull of the matched points."""
    w, h = template.size_px
    return float(cv2.contourArea(cv2.convexHull(points.astype(np.float32)))) / (w * h)


def print_scale_of(h: np.ndarray, page_dpi: float, template_dpi: float) -> float:
    """How large the form is printed on the page relative to its own size (1.0 = as designed)."""
    a = h[:2, :2] / h[2, 2]
    return float(template_dpi / page_dpi / math.sqrt(abs(np.linalg.det(a))))


def _match(feats: _Features, page: Page, template: Template) -> tuple[Classification, float | None]:
    ref = _template_features(template)
    if len(ref.points) == 0 or len(feats.points) == 0:
        return Classification(None, "no features to match", 0.0), None
    # The brute-force Hamming search BFMatcher.knnMatch runs, as arrays: no match object per feature.
    distances, neighbours = cv2.batchDistance(feats.descriptors, ref.descriptors, cv2.CV_32S,
                                              normType=cv2.NORM_HAMMING, K=min(NEIGHBOURS, len(ref.points)))
    good = np.flatnonzero(_distinctive(distances, neighbours, ref.points, template.working_dpi))
    if len(good) < HINT_MIN_INLIERS:
        return Classification(None, f"does not look like {template.id} ({len(good)} feature matches)", 0.0), None
    src = feats.points[good]
    dst = ref.points[neighbours[good, 0]]
    h, mask = cv2.findHomography(src, dst, cv2.RANSAC, ransacReprojThreshold=6.0 * template.working_dpi / MATCH_DPI,
                                 maxIters=5000, confidence=0.999)
    inliers = int(mask.sum()) if mask is not None else 0
    spread = _spread(dst[mask.ravel() > 0], template) if inliers >= 3 else 0.0
    ratio = inliers / max(1, len(good))
    score = min(1.0, inliers / 200.0) * min(1.0, ratio / 0.3)
    plausible, why = homography_is_plausible(h, page.dpi, template.working_dpi)
    if inliers < MIN_INLIERS or ratio < MIN_INLIER_RATIO or spread < MIN_SPREAD:
        hint = print_scale_of(h, page.dpi, template.working_dpi) if plausible and inliers >= HINT_MIN_INLIERS else None
        return Classification(None, f"does not look like {template.id} ({inliers} consistent features over {spread:.0%})", score), hint
    if not plausible:
        if inliers < UNTRUSTED_MIN_INLIERS:
            return Classification(None, f"matched {template.id} only weakly and with an implausible geometry ({why})", score), None
        # Enough of the form agrees that this is the form; where it lies cannot be trusted, so
        # the page becomes a record flagged for a person rather than being skipped.
        return Classification(template.id, f"{template.id} ({inliers} consistent features) with an implausible geometry ({why})",
                              score, 0, h, geometry_ok=False), None
    return Classification(template.id, f"{template.id} ({inliers} consistent features over {spread:.0%})", score, rotation_of(h), h), None
