"""A circled option: one printed word that is circled (or ticked) or not (フリー)."""

from __future__ import annotations

from typing import Literal

from intake.kinds import FieldKind
from intake.kinds.base import FieldBase, PtBox, parse_yes_no
from intake.readers.marks import read_circled_option


class CircledOptionField(FieldBase):
    """One printed word that is circled or not (フリー)."""

    kind: Literal["circled_option"]
    box: PtBox
    text: PtBox


def read(aligned, template, spec: CircledOptionField, engines, received_year: int):
    return read_circled_option(aligned, template, spec)


KINDS = (
    FieldKind("circled_option", CircledOptionField, read, value_type=lambda spec: bool, parse=parse_yes_no,
              boxes=lambda template, spec: {"box": template.px(spec.box)}, colour=(0, 150, 255), bench_group="marks"),
)
