"""Exports out of the store and the review round trip back in.

Review round trip: ``export_review`` writes one row per record waiting for a person; they
correct cells in Excel; ``import_review_csv`` reads the sheet (``intake.csvio``), compares each
cell with what was exported, parses and validates every changed cell with the same rules the
pipeline uses, and applies a row only if the whole row is valid (with an audit row per changed
field). Every cell goes out neutralised against formula injection and comes back through
``unneutralise``; a cell a person typed that a spreadsheet would run as a formula is refused.

Messages about rows name the record, the field and the reason, never the value typed: the
values are personal data, and these lines end up in terminals, mails and tickets.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from intake.csvio import (
    Changes, ReviewFileError, as_sheet_shows, csv_text, export_bytes, looks_like_formula, unneutralise,
)
from intake.errors import ExitCode, IntakeError
from intake.messages import field_labels, language, render
from intake.review.sheet import DECISION_COLUMNS, FIELD_SUFFIXES, FLAG_MARK, read_review_sheet
from intake.store import Store, StoredRecord

FIXED_COLUMNS = ["record_id", "source_file", "page", "reasons"]
# What the desk's register says (shown, never imported): the registered contractor, each target row.
REGISTER_COLUMNS = ["register_contractor", "register_targets"]
MAX_VALUE_CHARS = 1000  # the longest handwritten field (remarks) holds a few dozen characters
SHEET_ENCODING = "cp932"  # the one legacy encoding a sheet may have been shown in
RECORD_ID = re.compile(r"[0-9a-f]{16}-[0-9]{1,4}")  # intake.store.record_id; anything else is not echoed


class ExportFormatError(IntakeError):
    """An export asked for in a form it cannot take (JSON Lines in cp932, an unknown format)."""

    reason = "export_format"
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


def _said(r: StoredRecord, reasons) -> str:
    """Reasons in the desk's words, one cell."""
    labels = field_labels(r.form)
    return "; ".join(render(reason, language(), labels) for reason in reasons)


def _reasons_cell(r: StoredRecord) -> str:
    return _said(r, r.reasons)


def _flagged_keys(records: Iterable[StoredRecord]) -> list[str]:
    return [k for k in _field_keys(records) if any(r.fields[k].review for r in records if k in r.fields)]


def _field_cells(r: StoredRecord, key: str, crops: dict[tuple[str, str], str]) -> dict[str, str]:
    """A flagged field's read-only cells: the 要確認 mark, its reasons, where its crop image is."""
    f = r.fields.get(key)
    if f is None or not f.review:
        return {key + ".flag": "", key + ".reason": "", key + ".crop": ""}
    return {key + ".flag": FLAG_MARK, key + ".reason": _said(r, f.reasons), key + ".crop": crops.get((r.id, key), "")}


def register_cells(register: dict | None, lang: str | None = None) -> list[str]:
    """The registered contractor's name, and per target row whose number it is, in the desk's language."""
    from intake.messages import language, render
    from intake.reasons import Reason

    if register is None:
        return ["", ""]
    lang = language(lang)
    rows = []
    for t in register["targets"]:
        case = "plan_not_on_number" if t.get("plan_on_number") is False else t["holder"]
        cell = Reason.of(f"register:cell_{case}", row=t["row"] + 1, holder=t.get("registered_holder"))
        rows.append(render(cell, lang))
    name = register["contractor"]["registered"] or render(Reason.of("register:cell_unregistered"), lang)
    return [name, "; ".join(rows)]


# -- writing ----------------------------------------------------------------------


def review_csv_text(records: list[StoredRecord], headers: str = "keys",
                    crops: dict[tuple[str, str], str] | None = None) -> str:
    """The review sheet: one row per record with an empty decision to fill in, each field's value, and
    for each field flagged in any row its 要確認 mark, reasons and crop image (intake.review.sheet)."""
    from intake.review.sheet import title

    keys, flagged = _field_keys(records), set(_flagged_keys(records))
    columns = FIXED_COLUMNS + DECISION_COLUMNS + REGISTER_COLUMNS
    columns += [c for k in keys for c in ([k, k + ".flag", k + ".reason", k + ".crop"] if k in flagged else [k])]
    rows = []
    for r in records:
        cells = dict(zip(FIXED_COLUMNS, [r.id, r.file_name, r.page, _reasons_cell(r)]))
        cells |= dict(zip(REGISTER_COLUMNS, register_cells(r.register)))
        for k in keys:
            cells[k] = cell_text(r.fields[k].value) if k in r.fields else ""
            if k in flagged:
                cells |= _field_cells(r, k, crops or {})
        rows.append([cells.get(c, "") for c in columns])
    return csv_text([title(c, headers) for c in columns], rows)


def records_csv_text(records: list[StoredRecord]) -> str:
    """A flat sheet for operations: one row per record, one column per field value."""
    keys = _field_keys(records)
    header = ["record_id", "source_file", "page", "sha256", "form", "review_state", "reviewer", "reviewed_at"] + keys
    rows = [
        [r.id, r.file_name, r.page, r.file_sha256, r.form, r.review_state, r.reviewer or "", r.reviewed_at or ""]
        + [cell_text(r.fields[k].value) if k in r.fields else "" for k in keys]
        for r in records
    ]
    return csv_text(header, rows)


def records_jsonl_text(records: list[StoredRecord]) -> str:
    return "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in records)


def export_review(store: Store, out: str | Path | None, encoding: str = "utf-8", *,
                  accept_lossy: bool = False, headers: str = "keys") -> tuple[int, Changes]:
    """Write the pending-review sheet (flagged crops copied beside it); returns the number of rows and
    what the encoding changed."""
    from intake.review.sheet import copy_crops

    records = store.pending_review()
    crops = copy_crops(records, Path(out)) if out is not None else {}
    changes = export_bytes(review_csv_text(records, headers, crops), out, encoding, bom=True,
                           accept_lossy=accept_lossy)
    return len(records), changes


def export_records(store: Store, out: str | Path | None, fmt: str = "jsonl", *, include_pending: bool = False,
                   encoding: str | None = None, accept_lossy: bool = False) -> tuple[int, Changes]:
    """Export actionable records (reviewed or straight through; every record with ``include_pending``).

    JSON Lines is always UTF-8 without a BOM, so it never loses a character; CSV is UTF-8 with
    a BOM (Excel) unless ``encoding`` says cp932.
    """
    records = store.records() if include_pending else store.actionable()
    if fmt == "jsonl":
        if encoding not in (None, "utf-8"):
            raise ExportFormatError("JSON Lines is always UTF-8; --encoding applies to CSV only")
        changes = export_bytes(records_jsonl_text(records), out, "utf-8", bom=False, accept_lossy=False)
    elif fmt == "csv":
        changes = export_bytes(records_csv_text(records), out, encoding or "utf-8", bom=True,
                               accept_lossy=accept_lossy)
    else:
        raise ExportFormatError(f"unknown export format {fmt!r}; use csv or jsonl")
    return len(records), changes


# -- what the desk reads about rows (Japanese first) --------------------------------

ROW_MESSAGES: dict[str, dict[str, str]] = {
    "ja": {
        "unknown_record": "この記録はありません",
        "bad_record_id": "record_id の列に記録番号がありません",
        "no_template": "この記録の様式 ({form}) のテンプレートがありません",
        "already_done": "確認済みのため、この行は読み飛ばしました",
        "duplicate_row": "同じ行がもう一つあります (一度だけ使いました)",
        "conflicting_rows": "この記録の行が {count} 行あり、内容が違います。一行にしてください",
        "read_only": "この列は変更できません (記録ID、ファイル、ページ、理由、要確認、画像は読み取り専用です)",
        "no_decision": "判断の列が空欄のため、この行は適用していません (確認・保留・差戻しのどれかを入れてください)",
        "bad_decision": "判断の列には 確認・保留・差戻し のどれかを入れてください",
        "refused": "この判断はできません ({decision}: 保留・差戻しにはメモが必要です。確認には、残る様式違反を直すか、記入どおり認める理由コードが必要です)",
        "not_a_field": "この様式の項目ではありません",
        "nul": "NUL 文字が含まれています",
        "line_break": "改行が含まれています。この項目は一行です",
        "too_long": "{length} 文字あります。{limit} 文字までです",
        "formula": "= + - @ またはタブで始まっています。表計算ソフトが数式として実行するため受け付けません",
        "invalid_value": "値が正しくありません ({hint} で入力してください)",
        "required": "必須の項目が空です",
        "rule_failed": "様式の確認に合いません: {rules}",
    },
    "en": {
        "unknown_record": "no such record in the store",
        "bad_record_id": "the record_id cell does not hold a record id",
        "no_template": "no template for form {form}",
        "already_done": "already reviewed; row ignored",
        "duplicate_row": "the same row appears twice (used once)",
        "conflicting_rows": "the sheet has {count} rows for this record with different values; keep one",
        "read_only": "this column cannot be changed (record_id, source_file, page, reasons, flags and crops are read-only)",
        "no_decision": "the decision cell is blank: row not applied (write 確認, 保留 or 差戻し)",
        "bad_decision": "the decision cell must say 確認, 保留 or 差戻し",
        "refused": "this decision cannot be made ({decision}: hold and return need a note; confirming needs the remaining rule breaks corrected or accepted by code)",
        "not_a_field": "not a field of this form",
        "nul": "contains a NUL character",
        "line_break": "contains a line break; this field is one line",
        "too_long": "{length} characters; at most {limit}",
        "formula": "starts with = + - @ or a tab, which a spreadsheet runs as a formula; not accepted",
        "invalid_value": "not a valid value (type {hint})",
        "required": "required but blank",
        "rule_failed": "fails the form's checks: {rules}",
    },
}

HINTS = {
    "date": "YYYY-MM-DD",
    "time": "HH:MM",
    "phone": "03-1234-5678",
    "weekday": "月火水木金土日",
    "option_pair": "TRUE/FALSE, 要/不要",
    "circled_option": "TRUE/FALSE",
    "stamp": "TRUE/FALSE",
}


def _hint(spec) -> str:
    if spec.kind == "comb_digits":
        return spec.format.format(*("N" * n for n in spec.groups))
    return HINTS.get(spec.kind, "text")


@dataclass
class RowProblem:
    """Why a row (``key`` "") or one of its cells was not applied: a code and value-free parameters."""

    record_id: str
    key: str
    code: str
    params: dict[str, Any] = field(default_factory=dict)
    line: int | None = None

    def message(self, lang: str | None = None) -> str:
        from intake.messages import language

        table = ROW_MESSAGES.get(language(lang), ROW_MESSAGES["en"])
        return table[self.code].format(**self.params)

    def __str__(self) -> str:
        where = f" {self.key}" if self.key else ""
        line = f" (line {self.line})" if self.line else ""
        return f"{self.record_id}{where}{line}: {self.message()} [{self.code}]"


@dataclass
class ImportReport:
    applied: list[str] = field(default_factory=list)  # record ids marked reviewed
    changed_fields: int = 0
    skipped: list[RowProblem] = field(default_factory=list)  # not an error (e.g. already reviewed)
    unread_columns: list[str] = field(default_factory=list)  # columns a person added: not imported
    rejected: list[RowProblem] = field(default_factory=list)  # rows NOT applied, with every reason

    @property
    def rejected_rows(self) -> set[str]:
        return {p.record_id for p in self.rejected}


# -- reading corrections back -------------------------------------------------------


def import_review_csv(store: Store, path: str | Path, reviewer: str, *, encoding: str = "auto",
                      templates: dict | None = None) -> ImportReport:
    """Apply a corrected review sheet. A row is applied only if every cell passes and the record validates.

    Raises ``ReviewFileError`` (with its reason code) when the sheet as a whole cannot be used;
    any problem with a row rejects that row only.
    """
    if not reviewer.strip():
        raise ReviewFileError("a reviewer name is required (--reviewer)")
    sheet = read_review_sheet(path, encoding)
    templates = templates if templates is not None else _templates_by_id()
    keys = {spec.key for t in templates.values() for spec in t.fields}
    known = set(FIXED_COLUMNS + DECISION_COLUMNS + REGISTER_COLUMNS) | keys | {k + s for k in keys for s in FIELD_SUFFIXES}
    report = ImportReport(unread_columns=[c for c in sheet.header if c not in known])
    by_record: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for line, row in sheet.rows:
        rid = unneutralise(row.get("record_id") or "").strip()
        if not RECORD_ID.fullmatch(rid):
            report.rejected.append(RowProblem("?", "record_id", "bad_record_id", line=line))  # may hold anything typed
        else:
            by_record.setdefault(rid, []).append((line, row))
    for rid, rows in by_record.items():
        line, row = rows[0]
        distinct = {tuple(sorted((k, v or "") for k, v in r.items())) for _, r in rows}
        if len(distinct) > 1:
            report.rejected += [RowProblem(rid, "", "conflicting_rows", {"count": len(rows)}, n) for n, _ in rows]
            continue
        if len(rows) > 1:
            report.skipped.append(RowProblem(rid, "", "duplicate_row", line=rows[1][0]))
        _import_row(store, rid, line, row, reviewer.strip(), templates, report)
    return report


def _templates_by_id() -> dict:
    from intake.template import load_templates

    return {t.id: t for t in load_templates()}


def _import_row(store: Store, rid: str, line: int, row: dict[str, str | None], reviewer: str, templates: dict,
                report: ImportReport) -> None:
    """Apply one row's decision (intake.review.decisions) with its changed cells; a row without one is not applied."""
    from intake.errors import ReviewError
    from intake.review import decisions
    from intake.review.sheet import decision_of

    rec = store.get_record(rid)
    if rec is None:
        report.rejected.append(RowProblem(rid, "", "unknown_record", line=line))
        return
    if decisions.state_of(rec) != "waiting":
        report.skipped.append(RowProblem(rid, "", "already_done", line=line))
        return
    template = templates.get(rec.form)
    if template is None:
        report.rejected.append(RowProblem(rid, "", "no_template", {"form": rec.form}, line))
        return
    problems = [RowProblem(rid, col, "read_only", line=line) for col in _changed_read_only(rec, row)]
    changes, cell_problems = _changed_values(rec, row, template)
    problems += [RowProblem(rid, key, code, params, line) for key, code, params in cell_problems]
    try:
        decision = decision_of(unneutralise(row.get("decision") or ""))
    except ValueError:
        problems.append(RowProblem(rid, "decision", "bad_decision", line=line))
        decision = "invalid"
    if decision is None and not problems:
        report.skipped.append(RowProblem(rid, "", "no_decision", line=line))
        return
    accept = tuple(re.split(r"[\s,;、]+", unneutralise(row.get("accept") or "").strip())) if row.get("accept") else ()
    if not problems and decision == "confirmed":
        values = rec.values() | changes
        open_keys = {k for r in decisions.breaches(template, values)
                     if not decisions.acceptable(r) or r.code not in accept for k in (r.fields or ("",))}
        problems += [RowProblem(rid, key, code, params, line) for key, code, params in _checks(template, values)
                     if key in open_keys or not key]
    if problems:
        report.rejected += problems
        return
    note = unneutralise(row.get("note") or "").strip() or None
    try:
        decisions.decide(store, template, rid, decisions.Decision(decision, reviewer, changes, note, accept))
    except ReviewError:
        report.rejected.append(RowProblem(rid, "", "refused", {"decision": decision}, line))
        return
    report.changed_fields += len(changes)
    report.applied.append(rid)


def _same_text(typed: str | None, exported: str) -> bool:
    """True if a cell still shows what we exported: as written, or as a cp932 sheet showed it (? for emoji,
    ～ for 〜), with or without the ' that kept it from being a formula."""
    if typed is None:
        return True  # column deleted by the reviewer: nothing changed
    typed, exported = unneutralise(typed).strip(), exported.strip()
    return typed == exported or typed == as_sheet_shows(exported, SHEET_ENCODING).strip()


def _same_number(typed: str | None, exported: str) -> bool:
    """Excel rewrites numbers it opens (0.50 -> 0.5): compare page and confidences as numbers."""
    if _same_text(typed, exported):
        return True
    try:
        return abs(float(unneutralise(typed or "").strip()) - float(exported)) < 1e-9
    except ValueError:
        return False


def _changed_read_only(rec: StoredRecord, row: dict[str, str | None]) -> list[str]:
    """The read-only columns whose cells differ from what was exported."""
    shown = [("source_file", rec.file_name), ("reasons", _reasons_cell(rec)),
             *zip(REGISTER_COLUMNS, register_cells(rec.register))]
    for key in rec.fields:
        if key + ".flag" in row:
            cells = _field_cells(rec, key, {})
            shown += [(key + ".flag", cells[key + ".flag"]), (key + ".reason", cells[key + ".reason"])]
            crop = unneutralise(row.get(key + ".crop") or "").strip()
            if crop and not re.fullmatch(rf"[^\\/]*_crops\\{re.escape(rec.id)}_{re.escape(key)}\.png", crop):
                shown.append((key + ".crop", ""))
    changed = [col for col, now in shown if not _same_text(row.get(col), now)]
    if not _same_number(row.get("page"), str(rec.page)):
        changed.append("page")
    return changed


def _cell_problem(text: str) -> tuple[str, dict[str, Any]] | None:
    """What makes a typed cell unacceptable whatever the field: the code and value-free parameters."""
    if "\x00" in text:
        return "nul", {}
    if "\r" in text.strip() or "\n" in text.strip():
        return "line_break", {}
    if len(text) > MAX_VALUE_CHARS:
        return "too_long", {"length": len(text), "limit": MAX_VALUE_CHARS}
    if looks_like_formula(text):
        return "formula", {}
    return None


def _changed_values(rec: StoredRecord, row: dict[str, str | None], template
                    ) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    """Parse only the cells whose text differs from what we exported; return real changes and problems."""
    from intake.validate import parse_value

    changes: dict[str, Any] = {}
    problems: list[tuple[str, str, dict[str, Any]]] = []
    for key, f in rec.fields.items():
        typed = row.get(key)
        if _same_text(typed, cell_text(f.value)):
            continue
        text = unneutralise(typed)
        bad = _cell_problem(text)
        if bad:
            problems.append((key, *bad))
            continue
        try:
            spec = template.field(key)
        except KeyError:
            problems.append((key, "not_a_field", {}))
            continue
        try:
            new = parse_value(spec, text)
        except ValueError:
            problems.append((key, "invalid_value", {"hint": _hint(spec)}))
            continue
        if new != f.value:  # e.g. Excel rewrote 2026-05-01 as 2026/5/1: same value, no change
            changes[key] = new
    return changes, problems


def _checks(template, values: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """The record's problems under the pipeline's own checks, said without the values they involve:
    each field a problem names, with the rule it breaks or the form its value must take."""
    from intake.validate import check_values

    out = []
    for reason in check_values(template, values):
        for key in reason.fields or ("",):
            try:
                spec = template.field(key) if key else None
            except KeyError:
                spec = None
            if reason.code == "rule:required":
                out.append((key, "required", {}))
            elif reason.family == "rule":
                out.append((key, "rule_failed", {"rules": _rule_words(template, reason)}))
            else:
                out.append((key, "invalid_value", {"hint": _hint(spec) if spec else "text"}))
    return out


def _rule_words(template, reason) -> str:
    """How the template words the rule a reason breaks (its message), else the rule's name."""
    name = reason.code.removeprefix("rule:")
    for rule in template.rules:
        if rule.rule == name and rule.message and any(fnmatch.fnmatch(k, p) for k in reason.fields for p in rule.fields):
            return rule.message
    return name
