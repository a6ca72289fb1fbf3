"""Evidence: settle each digit field's reading from what the record proves.

The readers give every digit field (comb numbers, dates, times, phone numbers) a distribution
over candidate values. This stage weighs those candidates with what the record itself proves,
as a keyer would, and gives each field its posterior:

* hard constraints (a candidate that breaks one gets no share): the value must be a value of
  its kind (a real date, a time of day, the printed format), and a phone number must fit the
  Japanese numbering plan (``numbering_plan_allows``); the parts' own constraints (month 1-12,
  the year window around the day the fax arrived, digit counts) were applied by the readers;
* the template's cross-field rules, as soft evidence over the dates they join: the weekday the
  writer gave beside a date (a 1-in-7 checksum; writers slip now and then, ``WEEKDAY_SLIP``),
  and the order of the sending, stop and restart dates (``ORDER_SLIP``); and the day the fax
  arrived, for a date the template expects near it (``received_within``: the sending date).

The dates that rules join are weighed jointly (every combination of their top candidates);
each field's posterior is its marginal. Belief the readers left unlisted stays in the
denominator as "some other value", which satisfies every constraint that cannot be checked on
it: a field's confidence (the posterior share of its likeliest value) is never overstated by
what was not enumerated. The value shown is the likeliest; its share is the raw score that
``intake.confidence`` calibrates and thresholds. A disagreement between the readers does not
flag a field: where the readers disagreed, the field carries a note of which evidence decided.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass, replace
from typing import Any, Callable

from intake.kinds import kind_of
from intake.kinds.parts import MOBILE_PREFIXES
from intake.kinds.weekday import WEEKDAYS
from intake.model import FieldReading
from intake.reasons import InvalidValue, Reason
from intake.template import Template

DIGIT_KINDS = ("comb_digits", "date", "time", "phone")
# Share of writers whose weekday does not match the date they wrote. The writer's weekday is
# then taken as right with 1 - WEEKDAY_SLIP, and as any one of the six others with WEEKDAY_SLIP / 6.
# Set at the slip rate of the validation forms' truth (about 5%; a real desk sees fewer, so
# this errs towards weaker evidence).
WEEKDAY_SLIP = 0.05
# Chance that dates written out of order (a stop before the sending) are what the writer meant.
ORDER_SLIP = 0.01
# Chance that a date expected near the day the fax arrived (``received_within``: the sending
# date) was written outside that window (a form filled long before it was sent).
RECEIVED_SLIP = 0.02
# At most this many candidates per date enter the joint (plus "some other value").
JOINT_TOP = 6
NON_GEOGRAPHIC = {"0120": (3, 3), "0570": (3, 3), "0800": (3, 4)}  # prefix: (local, line) digits
OTHER = None  # "some other value": the belief the readers left unlisted


def numbering_plan_allows(value: str) -> bool:
    """Whether ``area-local-line`` fits the Japanese numbering plan.

    Mobile and IP numbers (070/080/090/050) are 3-4-4 digits; free-dial and navi-dial numbers
    (0120, 0570, 0800) have their fixed groups; a geographic number has ten digits, an area code
    of two to five digits (0 included) and a local code that together make six, a four-digit line
    number, and a local code that does not start with 0.
    """
    m = re.fullmatch(r"(0\d{1,4})-(\d{1,4})-(\d{3,4})", value)
    if not m:
        return False
    area, local, line = m.groups()
    if area in MOBILE_PREFIXES:
        return len(local) == 4 and len(line) == 4
    if area in NON_GEOGRAPHIC:
        return (len(local), len(line)) == NON_GEOGRAPHIC[area]
    if area.startswith(MOBILE_PREFIXES) or area.startswith(tuple(NON_GEOGRAPHIC)):
        return False  # a mobile or free-dial prefix with its groups misplaced
    return len(area) + len(local) == 6 and len(line) == 4 and not local.startswith("0")


@dataclass(frozen=True)
class Belief:
    """One field's distribution: candidate values with their weight, and the unlisted weight."""

    values: tuple[tuple[Any, float], ...]
    other: float
    # Evidence that told this field's candidates apart (names, for the note).
    used: frozenset[str] = frozenset()

    def top(self, n: int) -> "Belief":
        """The ``n`` likeliest values; the rest joins the unlisted weight."""
        kept = self.values[:n]
        return Belief(kept, self.other + sum(w for _, w in self.values[n:]), self.used)


def _possible(spec, value: Any) -> bool:
    """Whether a candidate is a value of its field at all (kind, format, numbering plan)."""
    try:
        kind_of(spec).parse(spec, str(value))
    except InvalidValue:
        return False
    return spec.kind != "phone" or numbering_plan_allows(str(value))


# The evidence a candidate that is no value of its kind fails, by kind (names for the note).
HARD_EVIDENCE = {"comb_digits": "format", "date": "calendar", "time": "time_of_day", "phone": "numbering_plan"}


def field_belief(spec, reading: FieldReading) -> Belief | None:
    """The readers' candidates that are values of this field, and the unlisted belief."""
    if reading.value is None or not reading.candidates:
        return None
    listed = sum(w for _, w in reading.candidates)
    possible = tuple((v, w) for v, w in reading.candidates if _possible(spec, v))
    used = {HARD_EVIDENCE[spec.kind]} if len(possible) < len(reading.candidates) else set()
    return Belief(possible, max(0.0, 1.0 - listed), frozenset(used))


# -- the template's rules as soft evidence over dates ------------------------------
Factor = Callable[[dict[str, Any]], float]


def _weekday_factor(date_key: str, written: str) -> Factor:
    def factor(values: dict[str, Any]) -> float:
        d = values.get(date_key)
        if d is OTHER:
            return 1.0 / 7.0  # an unknown date has the written weekday one time in seven
        same = WEEKDAYS[dt.date.fromisoformat(d).weekday()] == written
        return 1.0 - WEEKDAY_SLIP if same else WEEKDAY_SLIP / 6.0
    return factor


def _order_factor(later_key: str, earlier_key: str) -> Factor:
    """A later date before an earlier one. (A same-day stop and restart are told apart by their
    times, which the joint does not weigh: the same day is no breach here.)"""
    def factor(values: dict[str, Any]) -> float:
        a, b = values.get(later_key), values.get(earlier_key)
        if a is OTHER or b is OTHER:
            return 1.0
        return ORDER_SLIP if a < b else 1.0  # ISO dates order as strings
    return factor


def _received_factor(date_key: str, received: dt.date, window: tuple[int, int]) -> Factor:
    lo, hi = (received + dt.timedelta(days=d) for d in window)

    def factor(values: dict[str, Any]) -> float:
        d = values.get(date_key)
        if d is OTHER:
            return 1.0
        return 1.0 if lo <= dt.date.fromisoformat(d) <= hi else RECEIVED_SLIP
    return factor


def date_rules(template: Template, readings: dict[str, FieldReading],
               received: dt.date | None = None) -> list[tuple[str, tuple[str, ...], Factor]]:
    """The template's rules that join dates, and the day the fax arrived where a date is expected
    near it, as (evidence name, the dates it weighs, factor)."""
    out = []
    if received is not None:
        for spec in template.fields:
            if spec.kind == "date" and spec.received_within is not None:
                out.append(("received", (spec.key,), _received_factor(spec.key, received, spec.received_within)))
    for rule in template.rules:
        if rule.rule == "weekday_matches_date":
            date_key, weekday_key = rule.fields
            written = readings.get(weekday_key)
            if written is not None and written.value in tuple(WEEKDAYS) and not written.review:
                out.append(("weekday", (date_key,), _weekday_factor(date_key, written.value)))
        elif rule.rule == "not_before":
            later, earlier = rule.fields
            out.append(("date_order", (later, earlier), _order_factor(later, earlier)))
        elif rule.rule == "after":
            later_date, _, earlier_date, _ = rule.fields
            out.append(("date_order", (later_date, earlier_date), _order_factor(later_date, earlier_date)))
    return out


def joint_posterior(beliefs: dict[str, Belief], factors: list[tuple[str, tuple[str, ...], Factor]]) -> dict[str, Belief]:
    """Each field's marginal posterior over the joint of ``beliefs`` weighed by ``factors``.

    Every combination of the fields' top candidates (and "some other value") is scored by
    the product of the readers' weights and the factors; the marginals are normalised.
    """
    keys = list(beliefs)
    factors = [f for f in factors if all(k in beliefs for k in f[1])]
    if not keys:
        return {}
    choices = [list(beliefs[k].values) + [(OTHER, beliefs[k].other)] for k in keys]
    marginal: dict[str, dict[Any, float]] = {k: {} for k in keys}
    seen: dict[str, dict[str, set[float]]] = {k: {} for k in keys}
    total = 0.0
    for combo in itertools.product(*choices):
        values = {k: v for k, (v, _) in zip(keys, combo)}
        weight = 1.0
        for _, w in combo:
            weight *= w
        if weight <= 0.0:
            continue
        for name, over, factor in factors:
            f = factor(values)
            weight *= f
            for k in over:
                if values[k] is not OTHER:
                    seen[k].setdefault(name, set()).add(f)
        total += weight
        for k in keys:
            marginal[k][values[k]] = marginal[k].get(values[k], 0.0) + weight
    out = {}
    for k in keys:
        m = marginal[k]
        z = total if total > 0 else 1.0
        listed = tuple(sorted(((v, w / z) for v, w in m.items() if v is not OTHER), key=lambda vw: -vw[1]))
        used = beliefs[k].used | {name for name, fs in seen[k].items() if len(fs) > 1}
        out[k] = Belief(listed, m.get(OTHER, 0.0) / z, frozenset(used))
    return out


def settle(readings: dict[str, FieldReading], template: Template, received: dt.date | None = None) -> dict[str, FieldReading]:
    """Every digit field's posterior: the likeliest value shown, its share as the (raw) confidence,
    the candidates by posterior, and a note of the evidence that decided a disagreement.
    ``received`` is the day the fax arrived (a sending date is expected near it)."""
    beliefs = {}
    for spec in template.fields:
        if spec.kind in DIGIT_KINDS:
            b = field_belief(spec, readings[spec.key])
            if b is not None:
                beliefs[spec.key] = b
    rules = date_rules(template, readings, received)
    joined = {k for _, over, _ in rules for k in over if k in beliefs}
    posterior = joint_posterior({k: beliefs[k].top(JOINT_TOP) for k in joined}, rules)
    for key, b in beliefs.items():
        if key not in posterior:
            posterior[key] = joint_posterior({key: b}, [])[key]
    out = dict(readings)
    for key, b in posterior.items():
        out[key] = _settled(readings[key], b)
    return out


def _settled(reading: FieldReading, belief: Belief) -> FieldReading:
    if not belief.values:
        # No candidate is a possible value: the reading stays as read, for the validator to report.
        return replace(reading, confidence=0.0)
    value, share = belief.values[0]
    notes = reading.notes
    disputes = [n for n in notes if n.code == "readers_disagree"]
    if disputes or value != reading.value:
        evidence = ",".join(sorted(belief.used)) or "readers"
        notes = notes + (Reason.of("settled_by_evidence", reading.key, evidence=evidence, was=reading.value, value=value),)
    return replace(reading, value=value, confidence=share, candidates=belief.values, notes=notes)
