"""Classify: is this page one of our forms, which way up is it, and roughly where?

Faxes often carry the privacy-policy and notes pages, a cover sheet or a blank
page besides the form. Each page is matched against every template's blank
reference with ORB features and a RANSAC homography; a page is a form only if
enough features agree on one plausible geometry. ORB is rotation-invariant, so
upside-down and sideways pages are found by the same match.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from intake.model import Classification, Page
from intake.template import Template

MATCH_DPI = 100.0
MIN_INLIERS = 100  # measured on 80 generated faxes: form pages >= 196, other pages <= 46
MIN_INLIER_RATIO = 0.12
BLANK_INK_RATIO = 0.002
PAGE_FEATURES = 6000
TEMPLATE_FEATURES = 5000


@dataclass(frozen=True)
class _Features:
    keypoints: tuple
    descriptors: np.ndarray
    scale: float  # multiply these keypoint coordinates by 1/scale to get source pixels


def _prepare(image: np.ndarray, dpi: float) -> tuple[np.ndarray, float]:
    scale = MATCH_DPI / dpi
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    # Fax binarisation leaves jagged edges and speckle; a light blur gives ORB stabler corners.
    return cv2.GaussianBlur(small, (3, 3), 0), scale


def _features(image: np.ndarray, dpi: float, count: int = PAGE_FEATURES) -> _Features:
    small, scale = _prepare(image, dpi)
    orb = cv2.ORB_create(nfeatures=count, scaleFactor=1.2, nlevels=8, edgeThreshold=15, patchSize=31, fastThreshold=10)
    kps, desc = orb.detectAndCompute(small, None)
    return _Features(tuple(kps), desc if desc is not None else np.zeros((0, 32), np.uint8), scale)


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
    if not (0.8 * expected < sx < 1.25 * expected and 0.8 * expected < sy < 1.25 * expected):
        return False, f"scale {sx / expected:.2f}x{sy / expected:.2f} of expected"
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
    if len(feats.keypoints) < MIN_INLIERS:
        return Classification(None, "too little printed structure to be a form", 0.0)
    best: Classification | None = None
    for template in templates:
        result = _match(feats, page, template)
        if best is None or result.score > best.score:
            best = result
    assert best is not None
    return best


def _match(feats: _Features, page: Page, template: Template) -> Classification:
    ref = _template_features(template)
    if len(ref.keypoints) == 0 or len(feats.keypoints) == 0:
        return Classification(None, "no features to match", 0.0)
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(feats.descriptors, ref.descriptors, k=2)
    good = [m for m, *rest in (p for p in pairs if p) if not rest or m.distance < 0.8 * rest[0].distance]
    if len(good) < MIN_INLIERS:
        return Classification(None, f"does not look like {template.id} ({len(good)} feature matches)", 0.0)
    src = np.float32([feats.keypoints[m.queryIdx].pt for m in good]) / feats.scale
    dst = np.float32([ref.keypoints[m.trainIdx].pt for m in good]) / ref.scale
    h, mask = cv2.findHomography(src, dst, cv2.RANSAC, ransacReprojThreshold=6.0 * template.working_dpi / MATCH_DPI,
                                 maxIters=5000, confidence=0.999)
    inliers = int(mask.sum()) if mask is not None else 0
    ratio = inliers / max(1, len(good))
    score = min(1.0, inliers / 200.0) * min(1.0, ratio / 0.3)
    if inliers < MIN_INLIERS or ratio < MIN_INLIER_RATIO:
        return Classification(None, f"does not look like {template.id} ({inliers} consistent features)", score)
    ok, why = homography_is_plausible(h, page.dpi, template.working_dpi)
    if not ok:
        return Classification(None, f"matched {template.id} only with an implausible geometry ({why})", score)
    return Classification(template.id, f"{template.id} ({inliers} consistent features)", score, rotation_of(h), h)
