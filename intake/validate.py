"""Validate: check every value and the template's cross-field rules; each failure is a review reason.

Values are checked by a pydantic model built from the template (one typed,
optional attribute per field), so a person's correction in the review CSV goes
through exactly the same rules as a machine reading.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
import unicodedata

from typing import Annotated, Any, Callable, Optional

from pydantic import AfterValidator, Field, ValidationError, create_model

from intake.model import FieldReading
from intake.template import Template

WEEKDAYS = "月火水木金土日"  # Monday first, like datetime.weekday()
MOBILE_PREFIXES = ("070", "080", "090", "050")
AREA_CODE_LENGTHS = range(2, 6)


# -- value checks, one per kind ------------------------------------------------
def check_date(v: str) -> str:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
        raise ValueError(f"'{v}' is not a date written YYYY-MM-DD")
    try:
        dt.date.fromisoformat(v)
    except ValueError:
        raise ValueError(f"'{v}' is not a real calendar date") from None
    return v


def check_time(v: str) -> str:
    m = re.fullmatch(r"(\d{2}):(\d{2})", v)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ValueError(f"'{v}' is not a time of day HH:MM")
    return v


def check_phone(v: str) -> str:
    m = re.fullmatch(r"(0\d{1,4})-(\d{1,4})-(\d{3,4})", v)
    if not m:
        raise ValueError(f"'{v}' is not a phone number AREA-LOCAL-LINE")
    digits = "".join(m.groups())
    need = 11 if digits.startswith(MOBILE_PREFIXES) else 10
    if len(digits) != need:
        kind = "a mobile/IP number" if need == 11 else "a fixed-line or 0120 number"
        raise ValueError(f"'{v}' has {len(digits)} digits; {kind} has {need}")
    return v


def check_text(v: str) -> str:
    if not v.strip():
        raise ValueError("empty text")
    return v


def _format_regex(fmt: str, groups: list[int]) -> re.Pattern:
    pattern = re.escape(fmt)
    for i, n in enumerate(groups):
        pattern = pattern.replace(re.escape("{" + str(i) + "}"), rf"\d{{{n}}}")
    return re.compile(pattern)


def _value_type(spec) -> Any:
    kind = spec.kind
    if kind == "date":
        return Annotated[str, AfterValidator(check_date)]
    if kind == "time":
        return Annotated[str, AfterValidator(check_time)]
    if kind == "phone":
        return Annotated[str, AfterValidator(check_phone)]
    if kind == "comb_digits":
        rx = _format_regex(spec.format, spec.groups)

        def check_format(v: str, rx=rx, fmt=spec.format) -> str:
            if not rx.fullmatch(v):
                raise ValueError(f"'{v}' does not match {fmt}")
            return v

        return Annotated[str, AfterValidator(check_format)]
    if kind == "weekday":
        allowed = set(spec.allowed)

        def check_weekday(v: str, allowed=allowed) -> str:
            if v not in allowed:
                raise ValueError(f"'{v}' is not one of {''.join(sorted(allowed))}")
            return v

        return Annotated[str, AfterValidator(check_weekday)]
    if kind in ("option_pair", "circled_option", "stamp"):
        return bool
    return Annotated[str, AfterValidator(check_text)]


_MODELS: dict[int, type] = {}


def values_model(template: Template):
    """A pydantic model with one Optional typed attribute per template field (aliases are the keys)."""
    if id(template) not in _MODELS:
        attrs = {}
        for i, spec in enumerate(template.fields):
            # Field keys contain dots, so attributes are f0, f1, ... with the key as alias.
            attrs[f"f{i}"] = (Optional[_value_type(spec)], Field(default=None, alias=spec.key))
        _MODELS[id(template)] = create_model(f"{template.id}_values", **attrs)  # type: ignore[call-overload]
    return _MODELS[id(template)]


# -- cross-field rules -----------------------------------------------------------
# A rule that finds two fields contradicting each other cannot tell which one was misread
# (a weekday that does not match the date may be a misread date), so it flags every field
# it compared that holds a value: none of them may pass unreviewed.
def _dt(date: str | None, time: str | None) -> dt.datetime | None:
    if not date:
        return None
    d = dt.date.fromisoformat(date)
    t = dt.time.fromisoformat(time) if time else dt.time(0, 0)
    return dt.datetime.combine(d, t)


def _expand(template: Template, pattern: str) -> list[str]:
    return fnmatch.filter([f.key for f in template.fields], pattern)


def rule_required(values, fields, template):
    return {f: "required but blank or unreadable" for f in fields if values.get(f) is None}


def rule_row_complete(values, fields, template):
    present = [f for f in fields if values.get(f) is not None]
    if present and len(present) != len(fields):
        return {f: "the row is incomplete" for f in fields if values.get(f) is None}
    return {}


def rule_weekday_matches_date(values, fields, template):
    date_key, weekday_key = fields
    date, weekday = values.get(date_key), values.get(weekday_key)
    if date and weekday and weekday in WEEKDAYS:
        actual = WEEKDAYS[dt.date.fromisoformat(date).weekday()]
        if actual != weekday:
            return {weekday_key: f"written weekday {weekday} does not match {date} ({actual})",
                    date_key: f"{date} is a {actual}, but the weekday written is {weekday}"}
    return {}


def rule_exactly_one(values, fields, template):
    given = [f for f in fields if values.get(f) not in (None, False)]
    if len(given) == 1:
        return {}
    what = "both are given" if given else "neither is given"
    return {f: f"give exactly one of {', '.join(fields)}; {what}" for f in (given or fields)}


def rule_not_before(values, fields, template):
    later, earlier = fields
    a, b = values.get(later), values.get(earlier)
    if a and b and a < b:
        return dict.fromkeys((later, earlier), f"{later} {a} is before {earlier} {b}")
    return {}


def rule_after(values, fields, template):
    later_date, later_time, earlier_date, earlier_time = fields
    a = _dt(values.get(later_date), values.get(later_time))
    b = _dt(values.get(earlier_date), values.get(earlier_time))
    if a and b and a <= b:
        return dict.fromkeys([k for k in fields if values.get(k)], f"{later_date} is not after {earlier_date}")
    return {}


def rule_at_least_one(values, fields, template):
    keys = [k for pattern in fields for k in _expand(template, pattern)]
    if not any(values.get(k) is not None for k in keys):
        return {"": f"none of {', '.join(fields)} is given"}
    return {}


RULES: dict[str, Callable[[dict, list[str], Template], dict[str, str]]] = {
    "required": rule_required,
    "row_complete": rule_row_complete,
    "weekday_matches_date": rule_weekday_matches_date,
    "exactly_one": rule_exactly_one,
    "not_before": rule_not_before,
    "after": rule_after,
    "at_least_one": rule_at_least_one,
}


def check_values(template: Template, values: dict[str, Any]) -> dict[str, list[str]]:
    """Every problem with a set of field values: {field key or "" for the record: [reasons]}."""
    problems: dict[str, list[str]] = {}
    model = values_model(template)
    checked = dict(values)
    try:
        model.model_validate({k: v for k, v in values.items()})
    except ValidationError as exc:
        for err in exc.errors():
            alias = template.fields[int(str(err["loc"][0])[1:])].key if str(err["loc"][0]).startswith("f") else str(err["loc"][0])
            msg = str(err.get("ctx", {}).get("error", err["msg"])).removeprefix("Value error, ")
            problems.setdefault(alias, []).append(msg)
            checked[alias] = None  # rules below must not trip over a malformed value
    for spec in template.fields:
        if spec.required and checked.get(spec.key) is None and spec.key not in problems:
            problems.setdefault(spec.key, []).append("required but blank or unreadable")
    value_problems = set(problems)
    for rule in template.rules:
        check = RULES.get(rule.rule)
        if check is None:
            problems.setdefault("", []).append(f"template names unknown rule {rule.rule}")
            continue
        for key, why in check(checked, rule.fields, template).items():
            if rule.rule == "required" and key in value_problems:
                continue  # already explained by what was wrong with the value
            text = f"{why}" if not rule.message else f"{why} ({rule.message})"
            if text not in problems.get(key, []):
                problems.setdefault(key, []).append(text)
    return problems


def validate_record(template: Template, readings: dict[str, FieldReading]) -> tuple[dict[str, FieldReading], tuple[str, ...]]:
    """Attach every rule failure to its field as a review reason; return record-level reasons too."""
    values = {k: r.value for k, r in readings.items()}
    problems = check_values(template, values)
    out = dict(readings)
    record_reasons: list[str] = []
    for key, reasons in problems.items():
        for why in reasons:
            if key and key in out:
                out[key] = out[key].with_reason(f"{key}: {why}")
            else:
                record_reasons.append(why)
    return out, tuple(record_reasons)


# -- parsing what a person typed (review CSV) -------------------------------------
_TRUE = {"true", "1", "yes", "y", "要", "○", "〇", "済", "on"}
_FALSE = {"false", "0", "no", "n", "不要", "×", "off"}


def parse_value(spec, text: str | None) -> Any:
    """The typed value of a cell a person typed for this field; '' -> None; ValueError if unparseable."""
    if text is None:
        return None
    s = unicodedata.normalize("NFKC", str(text)).strip()
    if s == "" or s.lower() in {"null", "none"}:
        return None
    kind = spec.kind
    if kind in ("option_pair", "circled_option", "stamp"):
        low = s.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(f"'{s}' is not a yes/no value (use true/false or 要/不要)")
    if kind == "date":
        m = re.fullmatch(r"(\d{2,4})[-/.](\d{1,2})[-/.](\d{1,2})", s)
        if not m:
            raise ValueError(f"'{s}' is not a date (use YYYY-MM-DD)")
        y = int(m.group(1)) + (2000 if len(m.group(1)) == 2 else 0)
        return check_date(f"{y:04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}")
    if kind == "time":
        m = re.fullmatch(r"(\d{1,2})[:時](\d{1,2})分?", s)
        if not m:
            raise ValueError(f"'{s}' is not a time (use HH:MM)")
        return check_time(f"{int(m.group(1)):02d}:{int(m.group(2)):02d}")
    if kind == "phone":
        parts = [p for p in re.split(r"[-()\s]+", s) if p]
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            raise ValueError(f"'{s}' is not a phone number (use AREA-LOCAL-LINE, e.g. 03-1234-5678)")
        return check_phone("-".join(parts))
    if kind == "comb_digits":
        rx = _format_regex(spec.format, spec.groups)
        if not rx.fullmatch(s):
            raise ValueError(f"'{s}' does not match {spec.format}")
        return s
    if kind == "weekday":
        s = s.removesuffix("曜日").removesuffix("曜")
        if s not in spec.allowed:
            raise ValueError(f"'{s}' is not one of {''.join(spec.allowed)}")
        return s
    return s
