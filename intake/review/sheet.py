"""The review sheet's columns for people: Japanese titles, the decision column, crops a desk PC can open.

Inside the program a column has a stable name (``record_id``, ``decision``, ``stop.date``,
``stop.date.flag``); the sheet shows it with the template's printed label (停止日, 停止日 要確認)
unless ``--headers keys`` asks for the names. Reading a sheet back accepts either.

A row says what to do with its record in the 判断 (decision) column: 確認, 保留 or 差戻し (a note
in メモ for the last two). A row with no decision is not applied, and the import says so.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from intake.csvio import NoRecordIdColumnError, Sheet, read_sheet
from intake.private import make_private_dir, write_private
from intake.review.words import field_label

HEADER_STYLES = ("ja", "keys")
DECISION_COLUMNS = ["decision", "note", "accept"]
FIELD_SUFFIXES = (".flag", ".reason", ".crop")  # per field flagged somewhere in the sheet
FLAG_MARK = "要確認"

TITLES = {
    "record_id": "記録ID", "source_file": "ファイル", "page": "ページ", "reasons": "理由",
    "decision": "判断 (確認/保留/差戻し)", "note": "メモ", "accept": "記入どおり認める (理由コード)",
    "register_contractor": "台帳の契約者", "register_targets": "台帳の対象",
}
SUFFIX_TITLES = {".flag": " 要確認", ".reason": " 理由", ".crop": " 画像"}
DECISIONS = {
    "確認": "confirmed", "確認済": "confirmed", "confirmed": "confirmed", "confirm": "confirmed",
    "保留": "on_hold", "on_hold": "on_hold", "hold": "on_hold",
    "差戻し": "returned", "差戻": "returned", "差し戻し": "returned", "returned": "returned", "return": "returned",
}


@lru_cache(maxsize=1)
def _template():
    from intake.template import load_templates

    return load_templates()[0]


def title(column: str, style: str) -> str:
    """What the sheet's header shows for a column."""
    if style == "keys":
        return column
    if column in TITLES:
        return TITLES[column]
    for suffix, words in SUFFIX_TITLES.items():
        if column.endswith(suffix):
            return field_label(_template(), column[: -len(suffix)]) + words
    return field_label(_template(), column)


def read_review_sheet(path: str | Path, encoding: str = "auto") -> Sheet:
    """Read a review sheet with either header style; cells come back under the column names."""
    try:
        sheet = read_sheet(path, encoding)
    except NoRecordIdColumnError:
        sheet = read_sheet(path, encoding, required=TITLES["record_id"])
    names = {title(c, "ja"): c for c in _all_columns()}
    header = [names.get(h, h) for h in sheet.header]
    rows = [(line, {names.get(h, h): v for h, v in row.items()}) for line, row in sheet.rows]
    return Sheet(header, rows)


def _all_columns() -> list[str]:
    keys = [f.key for f in _template().fields]
    return list(TITLES) + keys + [k + s for k in keys for s in FIELD_SUFFIXES]


def decision_of(text: str | None) -> str | None:
    """The decision a cell asks for; None when blank; ValueError when it is not one."""
    s = (text or "").strip()
    if not s:
        return None
    if s.lower() in DECISIONS or s in DECISIONS:
        return DECISIONS.get(s) or DECISIONS[s.lower()]
    raise ValueError(s)


def copy_crops(records, sheet_path: Path) -> dict[tuple[str, str], str]:
    """Copy each flagged field's crop into ``<sheet>_crops/`` beside the sheet; returns the path written
    in the sheet for each (record, field): relative to the sheet, with Windows separators, so that a
    desk PC opening the sheet from a shared folder opens the image from the same folder."""
    folder = sheet_path.parent / f"{sheet_path.stem}_crops"
    out = {}
    for r in records:
        for key, f in r.fields.items():
            if not (f.review and f.crop_path and Path(f.crop_path).exists()):
                continue
            dest = make_private_dir(folder) / f"{r.id}_{key}.png"
            write_private(dest, Path(f.crop_path).read_bytes())
            out[(r.id, key)] = f"{folder.name}\\{dest.name}"
    return out
