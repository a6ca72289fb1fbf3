"""Validate: check every value and the template's cross-field rules; each failure is a review reason.

Values are checked by a pydantic model built from the template (one typed,
optional attribute per field), so a person's correction in the review CSV goes
through exactly the same rules as a machine reading.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import unicodedata
from typing import Any, Callable, Optional

from pydantic import Field, ValidationError, create_model

from intake.kinds import kind_of
from intake.kinds.weekday import WEEKDAYS
from intake.model import FieldReading
from intake.reasons import InvalidValue, Reason, unique
from intake.template import Template

_MODELS: dict[int, type] = {}


def values_model(template: Template):
    """A pydantic model with one Optional typed attribute per template field (aliases are the keys)."""
    if id(template) not in _MODELS:
        attrs = {}
        for i, spec in enumerate(template.fields):
            # Field keys contain dots, so attributes are f0, f1, ... with the key as alias.
            attrs[f"f{i}"] = (Optional[kind_of(spec).value_type(spec)], Field(default=None, alias=spec.key))
        _MODELS[id(template)] = create_model(f"{template.id}_values", **attrs)  # type: ignore[call-overload]
    return _MODELS[id(template)]


# -- cross-field rules -----------------------------------------------------------
# A rule that finds fields contradicting each other cannot tell which one was misread (a
# weekday that does not match the date may be a misread date), so one breach is one reason
# naming every field the rule names, attached to each of them: none may pass unreviewed.
# A rule function returns None when the rule holds, else the values that show the breach.
Breach = dict[str, Any] | None


def _dt(date: str | None, time: str | None) -> dt.datetime | None:
    if not date:
        return None
    d = dt.date.fromisoformat(date)
    t = dt.time.fromisoformat(time) if time else dt.time(0, 0)
    return dt.datetime.combine(d, t)


def _expand(template: Template, patterns: list[str]) -> list[str]:
    keys = [f.key for f in template.fields]
    return list(dict.fromkeys(k for pattern in patterns for k in fnmatch.filter(keys, pattern)))


def rule_required(values, fields) -> Breach:
    return {} if any(values.get(f) is None for f in fields) else None


def rule_row_complete(values, fields) -> Breach:
    present = [f for f in fields if values.get(f) is not None]
    return {} if present and len(present) != len(fields) else None


def rule_weekday_matches_date(values, fields) -> Breach:
    date_key, weekday_key = fields
    date, weekday = values.get(date_key), values.get(weekday_key)
    if date and weekday and weekday in WEEKDAYS:
        actual = WEEKDAYS[dt.date.fromisoformat(date).weekday()]
        if actual != weekday:
            return {"date": date, "actual": actual, "written": weekday}
    return None


def rule_exactly_one(values, fields) -> Breach:
    given = [f for f in fields if values.get(f) not in (None, False)]
    return None if len(given) == 1 else {"given": len(given)}


def rule_not_before(values, fields) -> Breach:
    later, earlier = fields
    a, b = values.get(later), values.get(earlier)
    return {"later": a, "earlier": b} if a and b and a < b else None


def rule_after(values, fields) -> Breach:
    later_date, later_time, earlier_date, earlier_time = fields
    a = _dt(values.get(later_date), values.get(later_time))
    b = _dt(values.get(earlier_date), values.get(earlier_time))
    if a and b and a <= b:
        return {"later": a.isoformat(" ", "minutes"), "earlier": b.isoformat(" ", "minutes")}
    return None


def rule_at_least_one(values, fields) -> Breach:
    return None if any(values.get(k) is not None for k in fields) else {}


RULES: dict[str, Callable[[dict, list[str]], Breach]] = {
    "required": rule_required,
    "row_complete": rule_row_complete,
    "weekday_matches_date": rule_weekday_matches_date,
    "exactly_one": rule_exactly_one,
    "not_before": rule_not_before,
    "after": rule_after,
    "at_least_one": rule_at_least_one,
}


def check_values(template: Template, values: dict[str, Any]) -> tuple[Reason, ...]:
    """Every problem with a set of field values, each once, naming the fields it concerns."""
    problems: list[Reason] = []
    model = values_model(template)
    checked = dict(values)
    try:
        model.model_validate({k: v for k, v in values.items()})
    except ValidationError as exc:
        for err in exc.errors():
            loc = str(err["loc"][0])
            key = template.fields[int(loc[1:])].key if loc.startswith("f") else loc
            cause = err.get("ctx", {}).get("error")
            reason = cause.reason if isinstance(cause, InvalidValue) else Reason.of("value_invalid", value=str(err.get("input")))
            problems.append(reason.naming(key))
            checked[key] = None  # rules below must not trip over a malformed value
    malformed = {k for r in problems for k in r.fields}
    for spec in template.fields:
        if spec.required and checked.get(spec.key) is None and spec.key not in malformed:
            problems.append(Reason.of("rule:required", spec.key))
    for rule in template.rules:
        check = RULES.get(rule.rule)
        if check is None:
            problems.append(Reason.of("rule_unknown", (), rule=rule.rule))
            continue
        if rule.when and all(checked.get(k) in (None, False) for k in _expand(template, rule.when)):
            continue  # nothing it depends on is written
        fields = _expand(template, rule.fields)
        if rule.rule == "required" and set(fields) <= malformed:
            continue  # already explained by what was wrong with the value
        breach = check(checked, fields)
        if breach is not None:
            problems.append(Reason.of(f"rule:{rule.rule}", fields, **breach))
    return unique(problems)


def validate_record(template: Template, readings: dict[str, FieldReading]) -> tuple[dict[str, FieldReading], tuple[Reason, ...]]:
    """Attach every problem to each field it names; return the problems that name no field too."""
    out = dict(readings)
    record_reasons: list[Reason] = []
    for reason in check_values(template, {k: r.value for k, r in readings.items()}):
        named = [k for k in reason.fields if k in out]
        for key in named:
            out[key] = out[key].with_reason(reason)
        if not named:
            record_reasons.append(reason)
    return out, tuple(record_reasons)


# -- parsing what a person typed (review CSV) -------------------------------------
def parse_value(spec, text: str | None) -> Any:
    """The typed value of a cell a person typed for this field; '' -> None; InvalidValue if unparseable."""
    if text is None:
        return None
    s = unicodedata.normalize("NFKC", str(text)).strip()
    if s == "" or s.lower() in {"null", "none"}:
        return None
    return kind_of(spec).parse(spec, s)
