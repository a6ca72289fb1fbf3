"""Turn one handwritten digit crop into an MNIST-style 28x28 input.

Training (``training/train_digits.py``) and inference
(``intake.readers.engines.onnx_digits``) both go through :func:`normalise_glyph`,
so whatever the fax did to a digit, the network sees it prepared the same way.

Steps follow the original MNIST preprocessing: binarise, keep the ink, take the
tight bounding box, scale its longer side to 20 px (aspect kept, anti-aliased),
and paste it into a 28x28 canvas so that its centre of mass sits at the centre.
"""

from __future__ import annotations

import cv2
import numpy as np

SIZE = 28  # network input side
BOX = 20  # longer side of the digit inside the canvas (as in MNIST)

# Below this ink contrast (0..255) a crop is treated as blank paper.
_MIN_CONTRAST = 64
# Connected components smaller than this (px), or than this share of the
# largest component, are fax speckle rather than pen strokes.
_SPECKLE_PX = 3
_SPECKLE_SHARE = 0.03
# A ruled cell border left in the crop: a row/column in the outer band of the
# crop whose ink covers at least this share of its length and runs out to both
# ends (a ruled line crosses the whole crop; a '7' bar in a crop with even a
# pixel or two of margin does not).
_BORDER_BAND = 0.2
_BORDER_COVER = 0.85


def _to_grey(crop: np.ndarray) -> np.ndarray:
    a = np.asarray(crop)
    if a.ndim == 3:
        a = cv2.cvtColor(a[..., :3].astype(np.uint8), cv2.COLOR_RGB2GRAY) if a.shape[2] >= 3 else a[..., 0]
    if a.dtype != np.uint8:
        a = np.asarray(a, dtype=np.float64)
        if a.size and a.max() <= 1.0:  # float image in 0..1
            a = a * 255.0
        a = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    return a


def _ink_mask(grey: np.ndarray) -> np.ndarray:
    """Binary ink mask (bool) from a dark-on-light greyscale crop."""
    ink = 255 - grey
    if int(ink.max()) - int(ink.min()) < _MIN_CONTRAST or int(ink.max()) < _MIN_CONTRAST:
        return np.zeros(ink.shape, dtype=bool)
    t, _ = cv2.threshold(ink, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Otsu on nearly-binary fax crops can land anywhere between the two modes;
    # clamp it so light grey paper noise is never ink and dark ink always is.
    t = float(np.clip(t, 64, 160))
    return ink > t


def _strip_border_lines(mask: np.ndarray) -> np.ndarray:
    """Clear long straight rows/columns near the crop edges (cell ruling)."""
    h, w = mask.shape
    out = mask.copy()
    for axis, n, length in ((0, h, w), (1, w, h)):
        if length < 8:
            continue
        lines = out if axis == 0 else out.T  # one entry per row (axis 0) or column
        cover = lines.sum(axis=1) / float(length)
        to_ends = lines[:, :2].any(axis=1) & lines[:, -2:].any(axis=1)
        band = max(1, int(round(n * _BORDER_BAND)))
        for idx in list(range(band)) + list(range(n - band, n)):
            if cover[idx] >= _BORDER_COVER and to_ends[idx]:
                if axis == 0:
                    out[idx, :] = False
                else:
                    out[:, idx] = False
    return out


def _drop_speckle(mask: np.ndarray) -> np.ndarray:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep_min = max(_SPECKLE_PX, _SPECKLE_SHARE * float(areas.max()))
    keep = np.zeros(n, dtype=bool)
    keep[1:] = areas >= keep_min
    return keep[labels]


def normalise_glyph(crop: np.ndarray) -> np.ndarray:
    """Return a float32 (28, 28) array in MNIST convention (ink high, 0..1).

    ``crop`` is a greyscale image of one handwritten digit, ink dark on light
    paper, any size; a little border or speckle is tolerated. A crop with no
    ink left after cleaning gives an all-zero array.
    """
    grey = _to_grey(crop)
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    if grey.ndim != 2 or grey.shape[0] < 2 or grey.shape[1] < 2:
        return out
    mask = _drop_speckle(_strip_border_lines(_ink_mask(grey)))
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return out
    box = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32)
    h, w = box.shape
    scale = BOX / float(max(h, w))
    nh, nw = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
    # INTER_AREA when shrinking gives MNIST-like grey edges; linear when growing.
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    small = np.clip(cv2.resize(box, (nw, nh), interpolation=interp), 0.0, 1.0)
    total = float(small.sum())
    if total <= 0.0:
        return out
    cy = float((small.sum(axis=1) * np.arange(nh)).sum()) / total
    cx = float((small.sum(axis=0) * np.arange(nw)).sum()) / total
    # Integer shift putting the centre of mass at the canvas centre, kept so the
    # whole glyph stays on the canvas.
    top = int(np.clip(round((SIZE - 1) / 2.0 - cy), 0, SIZE - nh))
    left = int(np.clip(round((SIZE - 1) / 2.0 - cx), 0, SIZE - nw))
    out[top : top + nh, left : left + nw] = small
    return out


def glyph_from_mnist(img28: np.ndarray, scale: int = 2, margin: int = 8) -> np.ndarray:
    """Turn an MNIST image (ink high) into a fax-like crop: uint8, ink dark on white.

    The image is enlarged ``scale`` times (a 200-dpi fax digit is about 40 px
    tall, MNIST's is 20) and padded with ``margin`` px of paper, so training
    augmentation works at run-time resolution before :func:`normalise_glyph`.
    """
    a = np.asarray(img28, dtype=np.uint8)
    paper = 255 - a
    if scale != 1:
        paper = cv2.resize(paper, (a.shape[1] * scale, a.shape[0] * scale), interpolation=cv2.INTER_CUBIC)
    return cv2.copyMakeBorder(paper, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=255)
