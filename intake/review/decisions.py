"""Review decisions: nothing leaves the queue, and nothing changes, without an explicit decision.

A flagged record waits until a person decides:
  confirmed (確認済)   its values (with the person's corrections) go to operations;
  on_hold (保留)       parked with a note (e.g. お客様確認中), not waiting, not actionable;
  returned (差戻し)    sent back to the sender with a note.
A decided record can be reopened: it waits again. Confirming a record that still breaks a form
rule (the customer left 要/不要 blank, the weekday does not match the date) needs that rule accepted
as written, by reason code; the acceptance is an audit row. A value that cannot be a value at all
(a 13th month) can never be accepted: it must be corrected.

A fax that gave no record (no form found, untrusted geometry, undecodable pages) waits as an unread
fax until a person decides: not a request, keyed by hand (the typed record is validated like any
other and stored confirmed), or asked the sender again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from intake.errors import ReviewError, VersionConflict
from intake.model import FieldReading, Record, SourceRef
from intake.reasons import InvalidValue, Reason
from intake.store import Store, StoredRecord
from intake.messages import language
from intake.review.words import refusal
from intake.template import Template

RECORD_DECISIONS = ("confirmed", "on_hold", "returned")
FILE_DECISIONS = ("not_a_request", "keyed", "asked_again")
NEEDS_NOTE = ("on_hold", "returned", "not_a_request", "asked_again")


def state_of(record: StoredRecord) -> str:
    """waiting, confirmed, on_hold, returned or straight_through."""
    if record.decision:
        return record.decision
    if record.review_state == "pending":
        return "waiting"
    return "confirmed" if record.review_state == "reviewed" else record.review_state


def breaches(template: Template, values: Mapping[str, Any]) -> list[Reason]:
    """Every problem the values have, by code: the form's rules (``rule:<name>``) and malformed values."""
    from intake.validate import check_values

    return list(check_values(template, dict(values)))


def acceptable(reason: Reason) -> bool:
    """A rule the customer may have broken as written; a malformed value is never acceptable."""
    return reason.code.startswith("rule:")


def parse_typed(template: Template, typed: Mapping[str, str | None]) -> tuple[dict[str, Any], list[Reason]]:
    """What a person typed, per field key, as typed values, and the reasons for the cells that do not parse."""
    from intake.validate import parse_value

    values: dict[str, Any] = {}
    problems: list[Reason] = []
    for key, text in typed.items():
        try:
            values[key] = parse_value(template.field(key), text)
        except KeyError:
            problems.append(Reason.of("not_a_field", key))
        except InvalidValue as exc:
            problems.append(exc.reason.naming(key))
        except ValueError as exc:
            problems.append(Reason.of("value_invalid", key, value=str(exc)))
    return values, problems


@dataclass
class Decision:
    """What a reviewer decided about one record (``changes`` are typed values, already parsed)."""

    decision: str
    reviewer: str
    changes: dict[str, Any]
    note: str | None = None
    accept: tuple[str, ...] = ()  # reason codes accepted as written
    version: int | None = None  # the version the reviewer saw (None: do not check)


def refuse(code: str, **params) -> ReviewError:
    """A refused decision, said in the desk's language (``exc.code`` keeps the reason)."""
    exc = ReviewError(refusal(code, language(), **params))
    exc.code = code
    return exc


def _check_common(decision: str, allowed: tuple[str, ...], reviewer: str, note: str | None) -> None:
    if decision not in allowed:
        raise refuse("unknown_decision", decision=decision, allowed=", ".join(allowed))
    if not reviewer.strip():
        raise refuse("no_reviewer")
    if decision in NEEDS_NOTE and not (note or "").strip():
        raise refuse("needs_note", decision=decision)


def decide(store: Store, template: Template, rid: str, d: Decision) -> int:
    """Apply one decision to a waiting record; returns the record's new version."""
    _check_common(d.decision, RECORD_DECISIONS, d.reviewer, d.note)
    record = store.get_record(rid)
    if record is None:
        raise refuse("no_record", id=rid)
    if d.version is not None and record.version != d.version:
        raise VersionConflict(refusal("changed", language(), id=rid))
    state = state_of(record)
    if state != "waiting":
        raise refuse("not_waiting", id=rid, state=state)
    accepted: list[tuple[str, tuple[str, ...]]] = []
    if d.decision == "confirmed":
        open_breaches = breaches(template, record.values() | d.changes)
        invalid = [r for r in open_breaches if not acceptable(r)]
        if invalid:
            raise refuse("correct_first", id=rid, fields=", ".join(k for r in invalid for k in r.fields))
        missing = sorted({r.code for r in open_breaches} - set(d.accept))
        if missing:
            raise refuse("rule_not_accepted", id=rid, codes=", ".join(missing))
        accepted = [(r.code, r.fields) for r in open_breaches]
    return store.record_decision(rid, d.decision, d.reviewer.strip(), changes=d.changes, note=d.note,
                                 accepted=accepted, expected_version=d.version)


def reopen(store: Store, rid: str, reviewer: str, *, note: str | None = None, version: int | None = None) -> int:
    """Put a decided record back in the queue (the audit keeps what it was)."""
    record = store.get_record(rid)
    if record is None:
        raise refuse("no_record", id=rid)
    if state_of(record) in ("waiting", "straight_through"):
        raise refuse("nothing_to_reopen", id=rid, state=state_of(record))
    if not reviewer.strip():
        raise refuse("no_reviewer")
    return store.record_decision(rid, None, reviewer.strip(), note=note, expected_version=version)


def decide_unread(store: Store, template: Template | None, sha256: str, decision: str, reviewer: str, *,
                  note: str | None = None, typed: Mapping[str, str | None] | None = None, page: int = 1,
                  accept: tuple[str, ...] = (), version: int | None = None) -> list[str]:
    """Decide an unread fax; ``keyed`` needs the record typed from its pages (``typed``: key -> text)."""
    _check_common(decision, FILE_DECISIONS, reviewer, note)
    row = store.lookup_file(sha256)
    if row is None or row.state not in ("no_form", "quarantined"):
        raise refuse("no_unread_fax", id=sha256[:12])
    if row.decision is not None:
        raise refuse("already_decided", id=sha256[:12], state=row.decision)
    keyed, accepted = [], []
    if decision == "keyed":
        if template is None or not typed:
            raise refuse("keyed_needs_values")
        values, problems = parse_typed(template, typed)
        values = {spec.key: values.get(spec.key) for spec in template.fields}
        found = problems + breaches(template, values)
        if not all(acceptable(r) for r in found):
            raise refuse("correct_first", id=sha256[:12],
                         fields=", ".join(k for r in found if not acceptable(r) for k in r.fields))
        missing = sorted({r.code for r in found} - set(accept))
        if missing:
            raise refuse("rule_not_accepted", id=sha256[:12], codes=", ".join(missing))
        accepted = [(r.code, r.fields) for r in found]
        fields = {k: FieldReading(k, v, 1.0) for k, v in values.items()}
        keyed.append((Record(SourceRef(row.name, page, sha256), template.id, fields), "keyed by hand"))
    return store.decide_file(sha256, decision, reviewer.strip(), note=note, keyed=keyed, accepted=accepted,
                             expected_version=version)


def reopen_unread(store: Store, sha256: str, reviewer: str, *, note: str | None = None) -> None:
    row = store.lookup_file(sha256)
    if row is None or row.decision is None:
        raise refuse("nothing_to_reopen", id=sha256[:12], state="waiting")
    if row.decision == "keyed":
        raise refuse("keyed_reopen", id=sha256[:12])
    store.decide_file(sha256, None, reviewer.strip(), note=note)
