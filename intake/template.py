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
import re
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal, Union

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from intake.errors import TemplateError
from intake.model import Box

TEMPLATES_ENV = "INTAKE_TEMPLATES"


def templates_root() -> Path:
    """Where the form templates are: ``$INTAKE_TEMPLATES`` if set, else the installed ``form_templates`` package."""
    override = os.environ.get(TEMPLATES_ENV)
    if override:
        return Path(override)
    try:
        return Path(str(resources.files("form_templates")))
    except ModuleNotFoundError:
        raise TemplateError("the form_templates package is not installed; reinstall fax-intake") from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PtBox(_Strict):
    """A box in PDF points (1/72 inch), origin top-left."""

    x0: float
    y0: float
    x1: float
    y1: float

    @model_validator(mode="after")
    def _ordered(self) -> "PtBox":
        if not (self.x1 > self.x0 and self.y1 > self.y0):
            raise ValueError(f"box must have x1>x0 and y1>y0, got {self}")
        return self

    def to_px(self, dpi: float) -> Box:
        s = dpi / 72.0
        return Box(int(round(self.x0 * s)), int(round(self.y0 * s)), int(round(self.x1 * s)), int(round(self.y1 * s)))


class _FieldBase(_Strict):
    key: str = Field(pattern=r"^[a-z_][a-z0-9_.]*$")
    label: str = ""
    required: bool = False
    # Rows of a repeating table (e.g. the four target rows) share a group; a
    # group that is entirely blank is "unused" and its fields are null, not errors.
    group: str | None = None


class CombDigitsField(_FieldBase):
    """Digits written one per printed cell; ``format`` joins the digit groups."""

    kind: Literal["comb_digits"]
    cells: list[PtBox] = Field(min_length=1)
    groups: list[int] = Field(min_length=1)
    format: str

    @model_validator(mode="after")
    def _groups_cover_cells(self) -> "CombDigitsField":
        if sum(self.groups) != len(self.cells):
            raise ValueError(f"{self.key}: groups {self.groups} do not add up to {len(self.cells)} cells")
        return self


class PartsField(_FieldBase):
    """A value written as several free-space numbers between printed words (date, time, phone)."""

    kind: Literal["date", "time", "phone"]
    parts: dict[str, PtBox]
    # Digits allowed in each part, e.g. {"year": [2, 2], "month": [1, 2]}.
    digits: dict[str, tuple[int, int]]
    year_prefix: str = ""
    # What a part may be, as a regular expression over its digits, e.g. {"month": "0?[1-9]|1[0-2]"}.
    # Readers choose the most likely reading that fits (see readers/digits.py).
    patterns: dict[str, str] = {}
    # A two-digit year must lie within these years of the year the fax was received.
    year_window: tuple[int, int] | None = None

    @model_validator(mode="after")
    def _parts_known(self) -> "PartsField":
        needed = {"date": {"year", "month", "day"}, "time": {"hour", "minute"}, "phone": {"area", "local", "line"}}[self.kind]
        if set(self.parts) != needed or set(self.digits) != needed:
            raise ValueError(f"{self.key}: a {self.kind} field needs parts {sorted(needed)}")
        if not set(self.patterns) <= needed:
            raise ValueError(f"{self.key}: patterns for unknown parts {sorted(set(self.patterns) - needed)}")
        for name, rx in self.patterns.items():
            try:
                re.compile(rx)
            except re.error as exc:
                raise ValueError(f"{self.key}: pattern for {name} is not a regular expression ({exc})") from None
        if self.year_window is not None and self.kind != "date":
            raise ValueError(f"{self.key}: year_window applies to dates only")
        return self

    def part_allows(self, name: str, text: str, received_year: int | None = None) -> bool:
        """Whether ``text`` is a possible value of part ``name`` (pattern, and the year window)."""
        rx = self.patterns.get(name)
        if rx is not None and not re.fullmatch(rx, text):
            return False
        if name == "year" and self.year_window is not None and received_year is not None:
            if not text.isdigit():
                return False
            year = int(self.year_prefix + text) if self.year_prefix else int(text)
            lo, hi = self.year_window
            return received_year + lo <= year <= received_year + hi
        return True


class WeekdayField(_FieldBase):
    kind: Literal["weekday"]
    box: PtBox
    allowed: list[str] = Field(min_length=1)


class OptionChoice(_Strict):
    value: bool | str
    text: str
    box: PtBox  # the part of the cell that belongs to this option
    word: PtBox  # the printed word itself, which a circle goes around


class OptionPairField(_FieldBase):
    """Two printed options, one of which the writer circles or ticks (要 / 不要)."""

    kind: Literal["option_pair"]
    options: list[OptionChoice] = Field(min_length=2, max_length=2)
    # The printed words themselves: ink inside these is print, not a mark.
    box: PtBox


class CircledOptionField(_FieldBase):
    """One printed word that is circled or not (フリー)."""

    kind: Literal["circled_option"]
    box: PtBox
    text: PtBox


class StampField(_FieldBase):
    kind: Literal["stamp"]
    box: PtBox


class TextField(_FieldBase):
    kind: Literal["text"]
    box: PtBox
    multiline: bool = False
    # What the words are, so the lexicon can tell an unlikely reading: "person_name" is a
    # surname and a given name; "words" is anything else (companies, departments, remarks).
    content: Literal["words", "person_name"] = "words"


FieldSpec = Annotated[
    Union[CombDigitsField, PartsField, WeekdayField, OptionPairField, CircledOptionField, StampField, TextField],
    Field(discriminator="kind"),
]


class Rule(_Strict):
    """A cross-field rule checked by ``intake.validate`` (see its RULES table for the names)."""

    rule: str
    fields: list[str] = Field(min_length=1)
    message: str = ""


class Template(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    title: str
    source_pdf: str
    source_page: int
    page_size_pt: tuple[float, float]
    working_dpi: int = 200
    reference_image: str = "reference.png"
    # Ordered steps the aligner applies to an incoming page before registration.
    preprocessing: list[Literal["deskew_orientation", "feature_homography", "ecc_refine"]]
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
            for f in r.fields:
                if not fnmatch.filter(known, f):
                    raise ValueError(f"rule {r.rule} names unknown field {f}")
        return self

    # -- runtime helpers (not part of the file) ---------------------------------
    model_config = ConfigDict(extra="forbid", frozen=True, ignored_types=(cached_property,))

    @property
    def folder(self) -> Path:
        return templates_root() / self.id

    @property
    def size_px(self) -> tuple[int, int]:
        """(width, height) of the template frame in working pixels."""
        w, h = self.page_size_pt
        return int(round(w * self.working_dpi / 72)), int(round(h * self.working_dpi / 72))

    def px(self, box: PtBox) -> Box:
        return box.to_px(self.working_dpi)

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
        data = json.loads(path.read_text(encoding="utf-8"))
        return Template.model_validate(data)
    except FileNotFoundError:
        raise TemplateError(f"no template.json in {folder}") from None
    except (json.JSONDecodeError, ValidationError) as exc:
        raise TemplateError(f"{path} is not a valid template: {exc}") from None


def load_templates(root: str | Path | None = None) -> list[Template]:
    """Every template folder under ``root`` (default: ``templates_root()``)."""
    root = Path(root) if root else templates_root()
    folders = sorted(p for p in root.iterdir() if (p / "template.json").exists()) if root.exists() else []
    if not folders:
        raise TemplateError(f"no form templates found in {root}")
    return [load_template(p) for p in folders]


def field_boxes(template: Template, spec) -> dict[str, Box]:
    """Every box a field owns, named, in template pixels (used for drawing and cropping)."""
    if spec.kind == "comb_digits":
        return {f"cell{i}": template.px(b) for i, b in enumerate(spec.cells)}
    if spec.kind in ("date", "time", "phone"):
        return {name: template.px(b) for name, b in spec.parts.items()}
    if spec.kind == "option_pair":
        return {str(o.text): template.px(o.box) for o in spec.options}
    return {"box": template.px(spec.box)}


def draw_template(template: Template) -> np.ndarray:
    """The blank form with every field box drawn and labelled, for a person to check the geometry."""
    colours = {
        "comb_digits": (0, 0, 255), "date": (0, 140, 0), "time": (0, 140, 0), "phone": (160, 0, 160),
        "weekday": (255, 0, 0), "option_pair": (0, 150, 255), "circled_option": (0, 150, 255),
        "stamp": (120, 120, 0), "text": (200, 0, 120),
    }
    canvas = cv2.cvtColor(template.reference, cv2.COLOR_GRAY2BGR)
    for spec in template.fields:
        colour = colours[spec.kind]
        for name, b in field_boxes(template, spec).items():
            cv2.rectangle(canvas, (b.x0, b.y0), (b.x1 - 1, b.y1 - 1), colour, 2)
        first = next(iter(field_boxes(template, spec).values()))
        cv2.putText(canvas, spec.key, (first.x0 + 2, first.y1 + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38, colour, 1, cv2.LINE_AA)
    return canvas
