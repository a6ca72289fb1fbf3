"""A stamp: an office-use cell that is stamped or marked, or empty."""

from __future__ import annotations

from typing import Literal

from intake.kinds import FieldKind
from intake.kinds.base import FieldBase, PtBox, parse_yes_no
from intake.readers.marks import read_stamp


class StampField(FieldBase):
    kind: Literal["stamp"]
    box: PtBox


def read(aligned, template, spec: StampField, engines, received_year: int):
    return read_stamp(aligned, template, spec)


KINDS = (
    FieldKind("stamp", StampField, read, value_type=lambda spec: bool, parse=parse_yes_no,
              boxes=lambda template, spec: {"box": template.px(spec.box)}, colour=(120, 120, 0), bench_group="marks"),
)
