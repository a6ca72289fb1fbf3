"""The small typed objects that flow through the pipeline, one stage to the next.

ingest -> Page -> classify -> Classification -> align -> AlignedPage
       -> readers -> FieldReading -> validate -> Record
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping

import numpy as np

from intake.reasons import Reason, unique


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
    ``geometry_ok`` is False when the page is clearly the form but the homography is not a
    plausible fax of it (alignment then flags the record instead of reading it).
    """

    form: str | None
    reason: str
    score: float = 0.0
    rotation: int = 0
    homography: np.ndarray | None = None
    geometry_ok: bool = True


@dataclass(frozen=True)
class AlignedPage:
    """A form page warped into the template's frame, with a quality score in [0, 1]."""

    image: np.ndarray
    form: str
    source: SourceRef
    quality: float
    homography: np.ndarray
    ok: bool
    reasons: tuple[Reason, ...] = ()
    # True where the template's frame lies beyond the received page (a form cut at an edge, an
    # enlarged copy): nothing there was sent, so a field reaching into it cannot be trusted.
    off_page: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in template pixels (x0, y0 inclusive; x1, y1 exclusive)."""

    x0: int
    y0: int
    x1: int
    y1: int

    @classmethod
    def around(cls, items: Iterable) -> "Box":
        """The smallest box holding every item (anything with x0, y0, x1, y1)."""
        items = list(items)
        return cls(min(b.x0 for b in items), min(b.y0 for b in items), max(b.x1 for b in items), max(b.y1 for b in items))

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
    reasons: tuple[Reason, ...] = ()
    box: Box | None = None
    # Values the ink also supports, with their share of the belief (likeliest first; the share
    # not listed is belief in values too unlikely to list); filled for digit fields, where the
    # record's evidence and the register may settle a reader's doubt.
    candidates: tuple[tuple[Any, float], ...] = field(default=(), repr=False, compare=False)
    # Informational reasons (the readers disagreed; which evidence settled it) for the reviewer
    # and the audit trail: unlike ``reasons`` they never make the field need review.
    notes: tuple[Reason, ...] = field(default=(), compare=False)

    @property
    def review(self) -> bool:
        return bool(self.reasons)

    def with_reason(self, reason: Reason) -> "FieldReading":
        if reason in self.reasons:
            return self
        return replace(self, reasons=self.reasons + (reason,))


@dataclass(frozen=True)
class Record:
    """One form page read and validated: the unit that is reviewed, stored and exported."""

    source: SourceRef
    form: str
    fields: dict[str, FieldReading]
    reasons: tuple[Reason, ...] = ()
    alignment_quality: float = 0.0
    crops: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    # What the desk's register says about this record (intake.register), when one was loaded.
    register: dict[str, Any] | None = None

    @property
    def review_needed(self) -> bool:
        return bool(self.reasons) or any(f.review for f in self.fields.values())

    def review_reasons(self) -> tuple[Reason, ...]:
        """Record-level reasons first, then every flagged field's reasons, each once, in field order
        (a rule breach attached to each field it names is listed once)."""
        return unique([*self.reasons, *(r for f in self.fields.values() for r in f.reasons)])

    def to_json(self, lang: str | None = None) -> dict[str, Any]:
        """The record contract (README, "Record JSON"), reasons' messages in ``lang`` (default: Japanese)."""
        return record_json(self.source.to_json(), self.form, self.review_needed, self.review_reasons(),
                           {k: (f.value, f.confidence, f.review) for k, f in self.fields.items()}, lang,
                           register=self.register, notes=unique(n for f in self.fields.values() for n in f.notes))


def record_json(source: dict[str, Any], form: str, review_needed: bool, reasons: Iterable[Reason],
                fields: Mapping[str, tuple[Any, float, bool]], lang: str | None = None,
                record_id: str | None = None, register: dict[str, Any] | None = None,
                notes: Iterable[Reason] = ()) -> dict[str, Any]:
    """The one serialiser of the record contract, for a record just read and for a stored one.

    ``fields`` maps each key to (value, confidence, review); ``review.reasons`` is data:
    ``{code, fields, values, message}`` with the message rendered in ``lang``. ``register`` is
    what the desk's register said about the record, when one was loaded. ``notes`` are
    informational reasons (a disagreement of the readers and the evidence that settled it),
    given as ``review.notes`` in the same form when there are any; they need no review.
    """
    from intake.messages import reasons_json

    out: dict[str, Any] = {"id": record_id} if record_id is not None else {}
    out |= {
        "source": source,
        "form": form,
        "review": {"needed": review_needed, "reasons": reasons_json(reasons, form, lang)}
        | ({"notes": reasons_json(notes, form, lang)} if notes else {}),
        "fields": {k: {"value": v, "confidence": round(float(c), 4), "review": r} for k, (v, c, r) in fields.items()},
    }
    return out | ({"register": register} if register is not None else {})
