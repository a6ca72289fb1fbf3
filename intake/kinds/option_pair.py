"""An option pair: two printed words, one of which the writer circles or ticks (要 / 不要)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from intake.kinds import FieldKind
from intake.kinds.base import FieldBase, PtBox, Strict, parse_yes_no
from intake.readers.marks import read_option_pair


class OptionChoice(Strict):
    value: bool | str
    text: str
    box: PtBox  # the part of the cell that belongs to this option
    word: PtBox  # the printed word itself, which a circle goes around


class OptionPairField(FieldBase):
    """Two printed options, one of which the writer circles or ticks (要 / 不要)."""

    kind: Literal["option_pair"]
    options: list[OptionChoice] = Field(min_length=2, max_length=2)
    # The printed words themselves: ink inside these is print, not a mark.
    box: PtBox


def read(aligned, template, spec: OptionPairField, engines, received_year: int):
    return read_option_pair(aligned, template, spec)


KINDS = (
    FieldKind("option_pair", OptionPairField, read, value_type=lambda spec: bool, parse=parse_yes_no,
              boxes=lambda template, spec: {str(o.text): template.px(o.box) for o in spec.options},
              colour=(0, 150, 255), bench_group="marks"),
)
