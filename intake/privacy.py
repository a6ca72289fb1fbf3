"""Requests from the people in the records: which records hold my data, give it to me, erase it.

The privacy policy on page 1 of the form promises disclosure, correction and deletion on
request. Correction is the review round trip; this module finds a person's records (by name or
phone number), writes them out for the person, and erases them with every stored copy.

Nothing here prints or logs a value: a search answers with record ids and field keys, an
erasure is logged with the record id, who, when and counts of what went.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from intake.csvio import write_output
from intake.errors import ExitCode, IntakeError
from intake.store import ErasureReport, Store, StoredRecord, iso, to_json_value, utcnow

MIN_NAME_CHARS = 2  # one character matches half the store
MIN_PHONE_DIGITS = 6
SOURCE_FILE = "source_file"  # fax servers put the sender's number in the file name
NAME_KINDS = ("text",)  # names, departments, remarks
PHONE_KINDS = ("text", "phone")  # not dates, times or Teledome numbers, whose digits would match by chance


class PrivacyRequestError(IntakeError):
    reason = "privacy_request_invalid"
    exit_code = ExitCode.bad_args


class UnknownRecordError(PrivacyRequestError):
    reason = "unknown_record"


def name_key(text: str) -> str:
    """A name as compared: NFKC (full-width and half-width alike), no whitespace, case-folded."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).casefold()


def phone_key(text: str) -> str:
    """A phone number as compared: its digits only (full-width digits too)."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch.isascii() and ch.isdigit())


@dataclass(frozen=True)
class Match:
    record_id: str
    keys: tuple[str, ...]  # the fields (or source_file) that hold the name or number


def find(store: Store, *, name: str | None = None, phone: str | None = None,
         templates: dict | None = None) -> list[Match]:
    """Every record that holds the name (in a text field) or the phone number (in a phone or text field, or
    the file name). A name or number is found inside a longer value too (株式会社 山田 for 山田)."""
    if (name is None) == (phone is None):
        raise PrivacyRequestError("give exactly one of --name or --phone")
    if name is not None:
        wanted, key_of, kinds = name_key(name), name_key, NAME_KINDS
        if len(wanted) < MIN_NAME_CHARS:
            raise PrivacyRequestError(f"a name to search for has at least {MIN_NAME_CHARS} characters")
    else:
        wanted, key_of, kinds = phone_key(phone or ""), phone_key, PHONE_KINDS
        if len(wanted) < MIN_PHONE_DIGITS:
            raise PrivacyRequestError(f"a phone number to search for has at least {MIN_PHONE_DIGITS} digits")
    if templates is None:
        from intake.template import load_templates

        templates = {t.id: t for t in load_templates()}
    matches = []
    for rec in store.records():
        template = templates.get(rec.form)
        kind = {spec.key: spec.kind for spec in template.fields} if template else {}
        texts = {k: f.value for k, f in rec.fields.items() if isinstance(f.value, str) and kind.get(k, "text") in kinds}
        if phone is not None:
            texts[SOURCE_FILE] = rec.file_name
        keys = tuple(k for k, v in texts.items() if wanted in key_of(v))
        if keys:
            matches.append(Match(rec.id, keys))
    return matches


def _records(store: Store, ids: list[str]) -> list[StoredRecord]:
    """The records named, each once, in the order given; every id must exist (nothing is done otherwise)."""
    ids = list(dict.fromkeys(ids))
    found = {rid: store.get_record(rid) for rid in ids}
    missing = [rid for rid, rec in found.items() if rec is None]
    if missing:
        raise UnknownRecordError(f"no record {', '.join(missing)} in the store; nothing was done")
    return [found[rid] for rid in ids]


def disclosure(store: Store, ids: list[str]) -> dict:
    """Everything the store holds about these records, as the person is shown it."""
    out = []
    for rec in _records(store, ids):
        row = store.lookup_file(rec.file_sha256)
        out.append(rec.to_json() | {
            "received": row.received if row else None,
            "review_state": rec.review_state,
            "reviewed_at": rec.reviewed_at,
            "corrections": [{"field": a["key"], "before": to_json_value(a["old_value"]),
                             "after": to_json_value(a["new_value"]), "at": a["at"]} for a in store.audit(rec.id)],
        })
    return {"exported_at": iso(utcnow()), "records": out}


def export(store: Store, ids: list[str], out: str | Path) -> int:
    """Write the records for the person: JSON, UTF-8, owner-only, atomically. Returns the number of records."""
    data = disclosure(store, ids)
    write_output((json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8"), out)
    return len(data["records"])


def erase(store: Store, ids: list[str], by: str) -> list[ErasureReport]:
    """Remove the records, their crops, corrections and (with the last record of a fax) the fax itself."""
    if not by.strip():
        raise PrivacyRequestError("say who erases (--by NAME); it is kept in the erasure log")
    records = _records(store, ids)
    return store.erase_records([r.id for r in records], by.strip())
