"""CSV and JSON Lines in and out of the store: the review round trip and the operations export.

Review round trip: ``write_review_csv`` writes one row per record waiting for a
person; they correct cells in Excel; ``import_review_csv`` parses and validates
every changed cell with the same rules the pipeline uses, and applies a row only
if the whole row is valid (with an audit row per changed field).
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, TextIO

from intake.errors import ExitCode, IntakeError
from intake.store import Store, StoredRecord

ENCODINGS = ("utf-8-sig", "cp932")
FIXED_COLUMNS = ["record_id", "source_file", "page", "reasons"]
CROPS_COLUMN = "flagged_crops"
CONFIDENCE_SUFFIX = ".confidence"


class ReviewFileError(IntakeError):
    """The review CSV cannot be used at all (missing, unreadable, wrong columns)."""

    reason = "review_file_invalid"
    exit_code = ExitCode.bad_args


# -- cells ------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """How a value is shown in a CSV cell (and what ``parse_value`` reads back)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"  # what Excel itself writes for booleans
    return str(value)


def _field_keys(records: Iterable[StoredRecord]) -> list[str]:
    """Every field key, in the order the records hold them (template order)."""
    keys: list[str] = []
    seen = set()
    for r in records:
        for k in r.fields:
            if k not in seen:
                seen.add(k)
                keys.append(k)
    return keys


# -- writing ----------------------------------------------------------------------


def open_private(path: str | Path, encoding: str) -> TextIO:
    """Open a file for writing that only its owner can read (exports hold personal data)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.chmod(path, 0o600)
    return open(fd, "w", encoding=encoding, newline="")


def write_text(text: str, out: str | Path | None, encoding: str, *, stderr: TextIO | None = None) -> int:
    """Write ``text`` to ``out`` (stdout if None); returns how many characters had to be replaced.

    cp932 cannot hold every character (e.g. emoji, some rare kanji, U+301C): those become '?',
    and we say so on stderr rather than crash.
    """
    replaced = 0
    if encoding != "utf-8-sig" and encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        replaced = sum(1 for ch in text if not _encodable(ch, encoding))
        if replaced:
            print(f"intake: warning: {replaced} character(s) cannot be written in {encoding} and were replaced by '?'",
                  file=stderr or sys.stderr)
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return replaced
    with open_private(out, encoding) as fh:
        fh.reconfigure(errors="replace")
        fh.write(text)
    return replaced


def _encodable(ch: str, encoding: str) -> bool:
    try:
        ch.encode(encoding)
        return True
    except UnicodeEncodeError:
        return False


def review_csv_text(records: list[StoredRecord]) -> str:
    """The review sheet: one row per record, each field's value and confidence, crops of flagged fields."""
    keys = _field_keys(records)
    header = FIXED_COLUMNS + [c for k in keys for c in (k, k + CONFIDENCE_SUFFIX)] + [CROPS_COLUMN]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")  # CRLF: what Excel writes and expects
    w.writerow(header)
    for r in records:
        row = [r.id, r.file_name, r.page, "; ".join(r.reasons)]
        for k in keys:
            f = r.fields.get(k)
            row += [cell_text(f.value), f"{f.confidence:.2f}"] if f else ["", ""]
        crops = [f"{k}: {f.crop_path}" for k, f in r.fields.items() if f.review and f.crop_path]
        row.append("; ".join(crops))
        w.writerow(row)
    return buf.getvalue()


def export_review(store: Store, out: str | Path | None, encoding: str = "utf-8-sig") -> int:
    """Write the pending-review sheet; returns the number of rows."""
    records = store.pending_review()
    write_text(review_csv_text(records), out, encoding)
    return len(records)


def records_jsonl_text(records: list[StoredRecord]) -> str:
    return "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in records)


def records_csv_text(records: list[StoredRecord]) -> str:
    """A flat sheet for operations: one row per record, one column per field value."""
    keys = _field_keys(records)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["record_id", "source_file", "page", "sha256", "form", "review_state", "reviewer", "reviewed_at"] + keys)
    for r in records:
        row = [r.id, r.file_name, r.page, r.file_sha256, r.form, r.review_state, r.reviewer or "", r.reviewed_at or ""]
        w.writerow(row + [cell_text(r.fields[k].value) if k in r.fields else "" for k in keys])
    return buf.getvalue()


def export_records(store: Store, out: str | Path | None, fmt: str = "jsonl", *, include_pending: bool = False,
                   encoding: str | None = None) -> int:
    """Export actionable records (reviewed or straight through; every record with ``include_pending``)."""
    records = store.records() if include_pending else store.actionable()
    if fmt == "jsonl":
        write_text(records_jsonl_text(records), out, encoding or "utf-8")
    elif fmt == "csv":
        write_text(records_csv_text(records), out, encoding or "utf-8-sig")
    else:
        raise ReviewFileError(f"unknown export format {fmt!r}; use csv or jsonl")
    return len(records)


# -- reading corrections back -------------------------------------------------------


@dataclass
class RowProblem:
    record_id: str
    key: str  # "" when the problem is the row itself
    reason: str

    def __str__(self) -> str:
        where = f" {self.key}" if self.key else ""
        return f"{self.record_id}{where}: {self.reason}"


@dataclass
class ImportReport:
    applied: list[str] = field(default_factory=list)  # record ids marked reviewed
    changed_fields: int = 0
    skipped: list[RowProblem] = field(default_factory=list)  # not an error (e.g. already reviewed)
    rejected: list[RowProblem] = field(default_factory=list)  # rows NOT applied, with every reason

    @property
    def rejected_rows(self) -> set[str]:
        return {p.record_id for p in self.rejected}


def read_csv_text(path: str | Path, encoding: str = "auto") -> str:
    """The text of a CSV as Excel may have saved it: UTF-8 with or without BOM, or cp932."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ReviewFileError(f"cannot read {path}: {exc.strerror or exc}", path=str(path)) from None
    if encoding != "auto":
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ReviewFileError(f"the file is not valid {encoding} ({exc.reason} at byte {exc.start})", path=str(path)) from None
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    for enc in ("utf-8", "cp932"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ReviewFileError("the file is neither UTF-8 nor Shift_JIS (cp932); save it again as CSV from Excel", path=str(path))


def import_review_csv(store: Store, path: str | Path, reviewer: str, *, encoding: str = "auto",
                      templates: dict | None = None) -> ImportReport:
    """Apply a corrected review sheet. A row is applied only if every cell parses and the record validates."""
    if not reviewer.strip():
        raise ReviewFileError("a reviewer name is required (--reviewer)")
    rows = list(csv.DictReader(io.StringIO(read_csv_text(path, encoding))))
    if rows and "record_id" not in rows[0]:
        raise ReviewFileError("no record_id column; export the sheet with `intake export --review` and edit that",
                              path=str(path))
    templates = templates if templates is not None else _templates_by_id()
    report = ImportReport()
    for row in rows:
        _import_row(store, row, reviewer.strip(), templates, report)
    return report


def _templates_by_id() -> dict:
    from intake.template import load_templates

    return {t.id: t for t in load_templates()}


def _import_row(store: Store, row: dict[str, str], reviewer: str, templates: dict, report: ImportReport) -> None:
    from intake.validate import check_values

    rid = (row.get("record_id") or "").strip()
    if not rid:
        return  # a blank line Excel left behind
    rec = store.get_record(rid)
    if rec is None:
        report.rejected.append(RowProblem(rid, "", "no such record in the store"))
        return
    if rec.review_state != "pending":
        report.skipped.append(RowProblem(rid, "", f"already {rec.review_state.replace('_', ' ')}; row ignored"))
        return
    template = templates.get(rec.form)
    if template is None:
        report.rejected.append(RowProblem(rid, "", f"no template for form {rec.form}"))
        return
    changes, problems = _changed_values(rec, row, template)
    if not problems:
        values = rec.values() | changes
        for key, reasons in check_values(template, values).items():
            problems += [RowProblem(rid, key, why) for why in reasons]
    if problems:
        report.rejected += problems
        return
    report.changed_fields += store.apply_review(rid, changes, reviewer)
    report.applied.append(rid)


def _same_text(typed: str, exported: str) -> bool:
    """True if a cell still shows what we exported, including as a cp932 sheet showed it ('?' for emoji)."""
    typed, exported = typed.strip(), exported.strip()
    return typed == exported or typed == exported.encode("cp932", errors="replace").decode("cp932")


def _changed_values(rec: StoredRecord, row: dict[str, str], template) -> tuple[dict[str, Any], list[RowProblem]]:
    """Parse only the cells whose text differs from what we exported; return real changes and parse errors."""
    from intake.validate import parse_value

    changes: dict[str, Any] = {}
    problems: list[RowProblem] = []
    for key, f in rec.fields.items():
        if key not in row or row[key] is None:
            continue  # column deleted by the reviewer: keep the stored value
        text = row[key]
        if _same_text(text, cell_text(f.value)):
            continue
        try:
            spec = template.field(key)
            new = parse_value(spec, text)
        except KeyError:
            problems.append(RowProblem(rec.id, key, "not a field of this form"))
            continue
        except ValueError as exc:
            problems.append(RowProblem(rec.id, key, str(exc)))
            continue
        if new != f.value:  # e.g. Excel rewrote 2026-05-01 as 2026/5/1: same value, no change
            changes[key] = new
    return changes, problems
