"""Images for the station: a record's page drawn from its crops, an unread fax's pages from the stored file.

The record page is the blank form with each field's saved crop put back at its box and the boxes
drawn (flagged fields in red), so a reviewer sees every field in place without the store keeping a
second full-page copy. An unread fax is rendered from its archived or quarantined file on demand.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from intake.errors import IntakeError
from intake.model import Box
from intake.store import StoredRecord
from intake.template import Template, field_boxes

FLAGGED = (0, 0, 220)
OTHER = (0, 150, 0)
MAX_WIDTH = 1400


def outer_box(template: Template, key: str) -> Box:
    return Box.around(field_boxes(template, template.field(key)).values())


def record_page(template: Template, record: StoredRecord) -> np.ndarray:
    """The form with the record's crops in place and every field box drawn (BGR)."""
    canvas = cv2.cvtColor(template.reference, cv2.COLOR_GRAY2BGR)
    h, w = canvas.shape[:2]
    for key, f in record.fields.items():
        try:
            box = outer_box(template, key)
        except KeyError:
            continue
        crop = cv2.imread(f.crop_path, cv2.IMREAD_GRAYSCALE) if f.crop_path and Path(f.crop_path).exists() else None
        if crop is not None:
            ch, cw = crop.shape
            cx, cy = (box.x0 + box.x1) // 2, (box.y0 + box.y1) // 2
            x0, y0 = max(0, cx - cw // 2), max(0, cy - ch // 2)
            x1, y1 = min(w, x0 + cw), min(h, y0 + ch)
            canvas[y0:y1, x0:x1] = cv2.cvtColor(crop[: y1 - y0, : x1 - x0], cv2.COLOR_GRAY2BGR)
        colour = FLAGGED if f.review else OTHER
        cv2.rectangle(canvas, (box.x0, box.y0), (box.x1 - 1, box.y1 - 1), colour, 3 if f.review else 1)
    return canvas


def fax_pages(path: str | Path) -> list[np.ndarray]:
    """Every page of a stored fax as greyscale images; raises IntakeError if it cannot be decoded."""
    from intake.ingest import load_pages

    return [p.image for p in load_pages(path)]


def png(image: np.ndarray, max_width: int = MAX_WIDTH) -> bytes:
    if image.shape[1] > max_width:
        scale = max_width / image.shape[1]
        image = cv2.resize(image, (max_width, int(image.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise IntakeError("could not encode an image")
    return buf.tobytes()


def crop_png(path: str | None) -> bytes | None:
    if not path or not Path(path).exists():
        return None
    return Path(path).read_bytes()
