"""Dates, times and phone numbers: a value written as several free-space numbers between printed
words (令和 __年 __月 __日, __時 __分, ( __ ) __ - __), joined into the contract's string format."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import Literal

import numpy as np
from pydantic import model_validator

from intake.kinds import FieldKind
from intake.kinds.base import FieldBase, PtBox, checked_str, invalid
from intake.model import Box, FieldReading
from intake.readers.digits import disputed_note, parts_ink, read_parts
from intake.readers.number_decoding import NumberReading
from intake.readers.typed import read_typed_parts
from intake.reasons import Reason

PARTS = {"date": ("year", "month", "day"), "time": ("hour", "minute"), "phone": ("area", "local", "line")}
MOBILE_PREFIXES = ("070", "080", "090", "050")


class PartsField(FieldBase):
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
    # The date is expected within these days of the day the fax was received (the sending date):
    # evidence that weighs the readers' candidates (intake.evidence), not a rule.
    received_within: tuple[int, int] | None = None

    @model_validator(mode="after")
    def _parts_known(self) -> "PartsField":
        needed = set(PARTS[self.kind])
        if set(self.parts) != needed or set(self.digits) != needed:
            raise ValueError(f"{self.key}: a {self.kind} field needs parts {sorted(needed)}")
        if not set(self.patterns) <= needed:
            raise ValueError(f"{self.key}: patterns for unknown parts {sorted(set(self.patterns) - needed)}")
        for name, rx in self.patterns.items():
            try:
                re.compile(rx)
            except re.error as exc:
                raise ValueError(f"{self.key}: pattern for {name} is not a regular expression ({exc})") from None
        if (self.year_window is not None or self.received_within is not None) and self.kind != "date":
            raise ValueError(f"{self.key}: year_window and received_within apply to dates only")
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


# -- values ----------------------------------------------------------------------
def check_date(v: str) -> str:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
        raise invalid("not_a_date", value=v)
    try:
        dt.date.fromisoformat(v)
    except ValueError:
        raise invalid("not_a_date", value=v) from None
    return v


def check_time(v: str) -> str:
    m = re.fullmatch(r"(\d{2}):(\d{2})", v)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise invalid("not_a_time", value=v)
    return v


def check_phone(v: str) -> str:
    m = re.fullmatch(r"(0\d{1,4})-(\d{1,4})-(\d{3,4})", v)
    if not m:
        raise invalid("not_a_phone", value=v)
    digits = "".join(m.groups())
    need = 11 if digits.startswith(MOBILE_PREFIXES) else 10
    if len(digits) != need:
        raise invalid("phone_digit_count", value=v, count=len(digits), expected=need)
    return v


ERAS = {"令和": 2018, "r": 2018, "平成": 1988, "h": 1988, "昭和": 1925, "s": 1925}
_ERA_DATE = re.compile(r"(令和|平成|昭和|[rhs])\s*(\d{1,2}|元)\s*[年./-]\s*(\d{1,2})\s*[月./-]\s*(\d{1,2})\s*日?", re.I)


def era_date(text: str) -> str | None:
    """An era date as a desk worker types it (令和8年1月22日, R8.1.22, 令和元年5月1日) as YYYY-MM-DD; None if not one."""
    m = _ERA_DATE.fullmatch(text.strip())
    if not m:
        return None
    year = 1 if m.group(2) == "元" else int(m.group(2))
    return f"{ERAS[m.group(1).lower()] + year:04d}-{int(m.group(3)):02d}-{int(m.group(4)):02d}"


def parse_date(spec: PartsField, s: str) -> str:
    era = era_date(s)
    if era is not None:
        return check_date(era)
    m = re.fullmatch(r"(\d{2,4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", s)
    if not m:
        raise invalid("not_a_date", value=s)
    y = int(m.group(1)) + (2000 if len(m.group(1)) == 2 else 0)
    return check_date(f"{y:04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}")


def parse_time(spec: PartsField, s: str) -> str:
    m = re.fullmatch(r"(\d{1,2})[:時](\d{1,2})分?", s)
    if not m:
        raise invalid("not_a_time", value=s)
    return check_time(f"{int(m.group(1)):02d}:{int(m.group(2)):02d}")


def parse_phone(spec: PartsField, s: str) -> str:
    parts = [p for p in re.split(r"[-()\s]+", s) if p]
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise invalid("not_a_phone", value=s)
    return check_phone("-".join(parts))


# -- reading ---------------------------------------------------------------------
def joined(spec: PartsField, parts: dict[str, NumberReading | None]) -> tuple[str | None, float, tuple[Reason, ...]]:
    """Join the parts of a date, time or phone into the contract's string format."""
    present = {k: v for k, v in parts.items() if v is not None and v.text}
    if not present:
        return None, 0.95, ()
    reasons = tuple(dict.fromkeys(r.naming(spec.key) for v in present.values() for r in v.reasons))
    confidence = min(v.confidence for v in present.values())
    missing = [k for k in spec.parts if k not in present]
    if missing:
        return None, confidence * 0.5, reasons + (Reason.of("part_missing", spec.key, parts=",".join(missing)),)
    for name, v in present.items():
        lo, hi = spec.digits[name]
        if not lo <= len(v.text) <= hi:
            return None, confidence * 0.5, reasons + (Reason.of("digit_count", spec.key, part=name, count=len(v.text),
                                                                  expected=f"{lo}–{hi}" if lo != hi else lo),)
    return compose(spec, {k: v.text for k, v in present.items()}), confidence, reasons


def compose(spec: PartsField, t: dict[str, str]) -> str:
    """The contract's string for one reading of each part (parts of the right lengths)."""
    if spec.kind == "date":
        return f"{spec.year_prefix}{t['year']}-{int(t['month']):02d}-{int(t['day']):02d}"
    if spec.kind == "time":
        return f"{int(t['hour']):02d}:{int(t['minute']):02d}"
    return f"{t['area']}-{t['local']}-{t['line']}"


# A field's candidates are the products of its parts' candidates, down to this share.
FIELD_CANDIDATE_FLOOR = 1e-5
MAX_FIELD_CANDIDATES = 24


def field_candidates(spec: PartsField, parts: dict[str, NumberReading | None]) -> tuple[tuple[str, float], ...]:
    """Candidate values of the whole field with their share, the parts taken as independent.

    Combinations with a part of a length the form does not allow are impossible: they get
    no share, and the shares are of the possible belief. Belief in strings no part listed
    stays unlisted (1 - the sum of the shares).
    """
    if any(parts.get(k) is None or not parts[k].candidates for k in spec.parts):
        return ()
    names = list(spec.parts)
    found: list[tuple[str, float]] = []
    impossible = 0.0
    for combo in itertools.product(*(parts[k].candidates for k in names)):
        p = float(np.prod([c[1] for c in combo]))
        if p < FIELD_CANDIDATE_FLOOR:
            continue
        texts = {k: c[0] for k, c in zip(names, combo)}
        if all(spec.digits[k][0] <= len(texts[k]) <= spec.digits[k][1] for k in names):
            found.append((compose(spec, texts), p))
        else:
            impossible += p
    merged: dict[str, float] = {}
    for value, p in found:
        merged[value] = merged.get(value, 0.0) + p / max(1e-12, 1.0 - impossible)  # "09" and "9" are one month
    return tuple(sorted(merged.items(), key=lambda vp: -vp[1]))[:MAX_FIELD_CANDIDATES]


def read(aligned, template, spec: PartsField, engines, received_year: int) -> FieldReading:
    ink = parts_ink(aligned, template, spec)
    # Print is read as print (intake.readers.typed); everything else as handwriting.
    typed = None
    if engines.print_digits is not None:
        typed = read_typed_parts(ink, template, spec, engines.print_digits, engines.digits_ocr, received_year)
    if typed is not None:
        parts, box = typed, Box.around(template.px(b) for b in spec.parts.values())
    else:
        parts, box = read_parts(aligned, template, spec, engines.digits_cnn, engines.digits_ocr, received_year, ink)
    value, confidence, reasons = joined(spec, parts)
    notes = tuple(r for k, v in parts.items() if v is not None for r in disputed_note(spec.key, v, part=k))
    candidates = field_candidates(spec, parts) if value is not None else ()
    return FieldReading(spec.key, value, confidence, reasons, box, candidates, notes=notes)


def boxes(template, spec: PartsField):
    return {name: template.px(b) for name, b in spec.parts.items()}


def _kind(name: str, check, parse, colour) -> FieldKind:
    return FieldKind(name, PartsField, read, value_type=lambda spec: checked_str(check), parse=parse, boxes=boxes,
                     colour=colour, bench_group="digits")


KINDS = (
    _kind("date", check_date, parse_date, (0, 140, 0)),
    _kind("time", check_time, parse_time, (0, 140, 0)),
    _kind("phone", check_phone, parse_phone, (160, 0, 160)),
)
