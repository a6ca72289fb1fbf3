"""The small typed objects that flow through the pipeline, one stage to the next.

ingest -> Page -> classify -> Classification -> align -> AlignedPage
       -> readers -> FieldReading -> validate -> Record
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SourceRef:
    """Where a page came from: the file as given, its 1-based page number, the file's SHA-256."""

    file: str
    page: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "page": self.page, "sha256": self.sha256}


@dataclass(frozen=True)
class Page:
    """One scanned page: an 8-bit greyscale image with square pixels (ink dark, paper white)."""

    image: np.ndarray
    dpi: float
    source: SourceRef
    original_dpi: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class Classification:
    """Which form a page is (``form`` is None for any other page) and how it roughly maps onto it.

    ``homography`` maps page pixels to template pixels (at the template's working dpi).
    """

    form: str | None
    reason: str
    score: float = 0.0
    rotation: int = 0
    homography: np.ndarray | None = None


@dataclass(frozen=True)
class AlignedPage:
    """A form page warped into the template's frame, with a quality score in [0, 1]."""

    image: np.ndarray
    form: str
    source: SourceRef
    quality: float
    homography: np.ndarray
    ok: bool
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in template pixels (x0, y0 inclusive; x1, y1 exclusive)."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def crop(self, image: np.ndarray) -> np.ndarray:
        return image[self.y0 : self.y1, self.x0 : self.x1]


@dataclass(frozen=True)
class FieldReading:
    """What one field says, how sure we are, and why it may need a human look."""

    key: str
    value: Any
    confidence: float
    reasons: tuple[str, ...] = ()
    box: Box | None = None
    # Values the ink also supports, with their share of the readers' joint belief (likeliest
    # first); filled for comb-cell numbers, where the register may settle a reader's doubt.
    candidates: tuple[tuple[Any, float], ...] = field(default=(), repr=False, compare=False)

    @property
    def review(self) -> bool:
        return bool(self.reasons)

    def with_reason(self, reason: str) -> "FieldReading":
        if reason in self.reasons:
            return self
        return replace(self, reasons=self.reasons + (reason,))

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "confidence": round(float(self.confidence), 4), "review": self.review}


@dataclass(frozen=True)
class Record:
    """One form page read and validated: the unit that is reviewed, stored and exported."""

    source: SourceRef
    form: str
    fields: dict[str, FieldReading]
    reasons: tuple[str, ...] = ()
    alignment_quality: float = 0.0
    crops: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    # What the desk's register says about this record (intake.register), when one was loaded.
    register: dict[str, Any] | None = None

    @property
    def review_needed(self) -> bool:
        return bool(self.reasons) or any(f.review for f in self.fields.values())

    def review_reasons(self) -> list[str]:
        """Record-level reasons first, then every flagged field's reasons, each once, in field order."""
        out: list[str] = list(self.reasons)
        for f in self.fields.values():
            for r in f.reasons:
                if r not in out:
                    out.append(r)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source.to_json(),
            "form": self.form,
            "review": {"needed": self.review_needed, "reasons": self.review_reasons()},
            "fields": {k: f.to_json() for k, f in self.fields.items()},
        } | ({"register": self.register} if self.register is not None else {})
