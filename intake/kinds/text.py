"""Free Japanese text: names, departments, remarks (NFKC-normalised, blank is null)."""

from __future__ import annotations

from typing import Literal

from intake.kinds import FieldKind
from intake.kinds.base import FieldBase, PtBox, checked_str, invalid
from intake.readers.text import read_text


class TextField(FieldBase):
    kind: Literal["text"]
    box: PtBox
    multiline: bool = False
    # What the words are, so the lexicon can tell an unlikely reading: "person_name" is a
    # surname and a given name; "words" is anything else (companies, departments, remarks).
    content: Literal["words", "person_name"] = "words"


def check(value: str) -> str:
    if not value.strip():
        raise invalid("text_empty")
    return value


def read(aligned, template, spec: TextField, engines, received_year: int):
    return read_text(aligned, template, spec, engines.text, engines.lexicon)


KINDS = (
    FieldKind("text", TextField, read, value_type=lambda spec: checked_str(check), parse=lambda spec, text: text,
              boxes=lambda template, spec: {"box": template.px(spec.box)}, colour=(200, 0, 120), bench_group="text"),
)
