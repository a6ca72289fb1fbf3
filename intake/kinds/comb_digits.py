"""Comb digits: a number written one digit per printed cell, joined into a printed format
(テレドーム番号 0180-99-NNNN, 企画番号 4-NNNN-NN)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from intake.kinds import FieldKind
from intake.kinds.base import FieldBase, PtBox, checked_str, invalid
from intake.readers.digits import comb_ink, read_comb_digits
from intake.readers.typed import read_typed_comb


class CombDigitsField(FieldBase):
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


def check(spec: CombDigitsField, value: str) -> str:
    pattern = re.escape(spec.format)
    for i, n in enumerate(spec.groups):
        pattern = pattern.replace(re.escape("{" + str(i) + "}"), rf"\d{{{n}}}")
    if not re.fullmatch(pattern, value):
        raise invalid("format_mismatch", value=value, format=spec.format)
    return value


def read(aligned, template, spec: CombDigitsField, engines, received_year: int):
    ink = comb_ink(aligned, template, spec)
    # Print is read as print (intake.readers.typed); everything else as handwriting.
    if engines.print_digits is not None:
        typed = read_typed_comb(ink, template, spec, engines.print_digits, engines.digits_ocr)
        if typed is not None:
            return typed
    return read_comb_digits(aligned, template, spec, engines.digits_cnn, engines.digits_ocr, ink)


def boxes(template, spec: CombDigitsField):
    return {f"cell{i}": template.px(b) for i, b in enumerate(spec.cells)}


KINDS = (
    FieldKind("comb_digits", CombDigitsField, read, value_type=lambda spec: checked_str(lambda v: check(spec, v)),
              parse=check, boxes=boxes, colour=(0, 0, 255), bench_group="digits"),
)
