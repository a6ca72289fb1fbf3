"""The weekday kanji (月 … 日), read as written: a weekday that does not match its date is the
rule ``weekday_matches_date``'s to report, never corrected here."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from intake.kinds import FieldKind
from intake.kinds.base import FieldBase, PtBox, checked_str, invalid
from intake.readers.text import read_weekday

WEEKDAYS = "月火水木金土日"  # Monday first, like datetime.weekday()


class WeekdayField(FieldBase):
    kind: Literal["weekday"]
    box: PtBox
    allowed: list[str] = Field(min_length=1)


def check(spec: WeekdayField, value: str) -> str:
    if value not in spec.allowed:
        raise invalid("weekday_not_allowed", value=value, allowed="".join(spec.allowed))
    return value


def parse(spec: WeekdayField, text: str) -> str:
    return check(spec, text.removesuffix("曜日").removesuffix("曜"))


def read(aligned, template, spec: WeekdayField, engines, received_year: int):
    return read_weekday(aligned, template, spec, engines.text)


KINDS = (
    FieldKind("weekday", WeekdayField, read, value_type=lambda spec: checked_str(lambda v: check(spec, v)), parse=parse,
              boxes=lambda template, spec: {"box": template.px(spec.box)}, colour=(255, 0, 0), bench_group="weekday"),
)
