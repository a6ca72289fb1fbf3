"""Form templates: declarative files in ``form_templates/<id>/template.json``.

A template says where every field is on the blank form (boxes in PDF points,
measured from the official PDF by ``tools/build_template.py``), what kind of
field it is, and which cross-field rules a record must pass. Adding a form
means adding a folder; no code changes.
"""

from __future__ import annotations

import fnmatch
import json
import os
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from pydantic import ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from intake.errors import TemplateError
from intake.kinds import field_spec_type, kind_of
from intake.kinds.base import PtBox, Strict
from intake.model import Box

TEMPLATES_ENV = "INTAKE_TEMPLATES"
# The resolution the readers' pixel lengths (margins, search distances, speck sizes) were measured
# at. A template read at another working dpi gets them scaled by ``Template.scaled``.
TUNED_DPI = 200


def templates_root() -> Path:
    """Where the form templates are: ``$INTAKE_TEMPLATES`` if set, else the installed ``form_templates`` package."""
    override = os.environ.get(TEMPLATES_ENV)
    if override:
        return Path(override)
    try:
        return Path(str(resources.files("form_templates")))
    except ModuleNotFoundError:
        raise TemplateError("the form_templates package is not installed; reinstall fax-intake") from None


# Each field kind's schema lives with the rest of that kind, in intake/kinds/.
FieldSpec = field_spec_type()


class Rule(Strict):
    """A cross-field rule checked by ``intake.validate`` (see its RULES table for the names)."""

    rule: str
    fields: list[str] = Field(min_length=1)
    message: str = ""
    # The rule applies only when one of these fields holds a value (a blank 開始 is a restart not
    # decided yet: no time or フリー is owed for it).
    when: list[str] = []


class Template(Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    title: str
    source_pdf: str
    source_page: int
    page_size_pt: tuple[float, float]
    working_dpi: int = 200
    reference_image: str = "reference.png"
    # The refinements the aligner applies, in order, to the page->form homography classification
    # found (which already undoes the page's rotation, skew and scale): see intake.align.REFINEMENTS.
    preprocessing: list[Literal["ecc_refine"]]
    min_alignment_quality: float = Field(0.6, ge=0, le=1)
    fields: list[FieldSpec]
    rules: list[Rule] = []

    @model_validator(mode="after")
    def _unique_keys(self) -> "Template":
        keys = [f.key for f in self.fields]
        dup = {k for k in keys if keys.count(k) > 1}
        if dup:
            raise ValueError(f"duplicate field keys: {sorted(dup)}")
        known = set(keys)
        for r in self.rules:
            for f in [*r.fields, *r.when]:
                if not fnmatch.filter(known, f):
                    raise ValueError(f"rule {r.rule} names unknown field {f}")
        return self

    # -- runtime helpers (not part of the file) ---------------------------------
    model_config = ConfigDict(extra="forbid", frozen=True, ignored_types=(cached_property,))
    _loaded_from: Path | None = PrivateAttr(default=None)

    @property
    def folder(self) -> Path:
        """The template's folder: where it was loaded from, else its place among the installed templates."""
        return self._loaded_from or templates_root() / self.id

    @property
    def size_px(self) -> tuple[int, int]:
        """(width, height) of the template frame in working pixels."""
        w, h = self.page_size_pt
        return int(round(w * self.working_dpi / 72)), int(round(h * self.working_dpi / 72))

    def px(self, box: PtBox) -> Box:
        return box.to_px(self.working_dpi)

    def scaled(self, length_px: float, *, whole: bool = True) -> int | float:
        """A length the readers measured at TUNED_DPI, in this template's pixels: whole pixels (at
        least one), or with ``whole=False`` as a fraction (a mean thickness compared with it)."""
        if not whole:
            return length_px * self.working_dpi / TUNED_DPI
        return max(1, round(length_px * self.working_dpi / TUNED_DPI)) if length_px else 0

    def scaled_area(self, area_px: float) -> int:
        """An area (a count of pixels) measured at TUNED_DPI, in this template's pixels."""
        return max(1, round(area_px * (self.working_dpi / TUNED_DPI) ** 2))

    def field(self, key: str):
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(key)

    @cached_property
    def reference(self) -> np.ndarray:
        """The blank form, greyscale, in the template frame."""
        path = self.folder / self.reference_image
        img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise TemplateError(f"reference image {path} is missing or unreadable; rebuild it with tools/build_template.py")
        w, h = self.size_px
        if img.shape != (h, w):
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        return img


def load_template(folder: str | Path) -> Template:
    """Load and validate one ``template.json``; raises TemplateError with the first problem."""
    path = Path(folder) / "template.json"
    try:
        template = Template.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise TemplateError(f"no template.json in {folder}") from None
    except (json.JSONDecodeError, ValidationError) as exc:
        raise TemplateError(f"{path} is not a valid template: {exc}") from None
    template._loaded_from = Path(folder)
    return template


def load_templates(root: str | Path | None = None) -> list[Template]:
    """Every template folder under ``root`` (default: ``templates_root()``)."""
    root = Path(root) if root else templates_root()
    folders = sorted(p for p in root.iterdir() if (p / "template.json").exists()) if root.exists() else []
    if not folders:
        raise TemplateError(f"no form templates found in {root}")
    return [load_template(p) for p in folders]


def field_boxes(template: Template, spec) -> dict[str, Box]:
    """Every box a field owns, named, in template pixels (used for drawing and cropping)."""
    return kind_of(spec).boxes(template, spec)


def draw_template(template: Template) -> np.ndarray:
    """The blank form with every field box drawn and labelled, for a person to check the geometry."""
    canvas = cv2.cvtColor(template.reference, cv2.COLOR_GRAY2BGR)
    for spec in template.fields:
        colour = kind_of(spec).colour
        boxes = field_boxes(template, spec)
        for b in boxes.values():
            cv2.rectangle(canvas, (b.x0, b.y0), (b.x1 - 1, b.y1 - 1), colour, 2)
        first = next(iter(boxes.values()))
        cv2.putText(canvas, spec.key, (first.x0 + 2, first.y1 + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38, colour, 1, cv2.LINE_AA)
    return canvas
