"""The review round trip (export CSV -> person edits -> import) and the operations export."""

from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from intake.csvio import LossyExportError, read_sheet
from intake.review.sheet import read_review_sheet
from intake.export import export_records, export_review, import_review_csv
from intake.store import Store
from test_store import VALUES, make_record

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "data" / "intake.db") as s:
        yield s


@pytest.fixture
def queue(store):
    """Two records waiting for review and one clean record."""
    a = make_record("a1" * 32, 1, flagged={"stop.time": "low_confidence"}, values=VALUES | {"stop.time": "16:00"})
    b = make_record("b2" * 32, 1, flagged={"customer_contact.phone": "low_confidence"})
    c = make_record("c3" * 32, 1)
    ids = {}
    for rec in (a, b, c):
        [ids[rec.source.sha256[:2]]] = store.save_file(rec.source.sha256, f"fax_{rec.source.sha256[:2]}.tif", [rec])
    return ids


def read_rows(path: Path, encoding: str = "auto") -> list[dict[str, str]]:
    """The sheet's rows by column name, whichever header style it was written with."""
    return [row for _, row in read_review_sheet(path, encoding).rows]


def write_rows(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8-sig") -> None:
    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\r\n")
        w.writeheader()
        w.writerows(rows)


def test_review_sheet_has_one_row_per_pending_record(store, queue, tmp_path):
    out = tmp_path / "review.csv"
    assert export_review(store, out)[0] == 2
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel on Japanese Windows opens it as UTF-8
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = read_rows(out)
    assert [r["record_id"] for r in rows] == [queue["a1"], queue["b2"]]
    a = rows[0]
    assert a["stop.time"] == "16:00" and a["stop.time.flag"] == "要確認" and a["stop.time.reason"] == "停止時刻: 読み取りに自信がありません"
    assert a["decision"] == "" and a["note"] == "" and "stop.time.confidence" not in a
    assert a["contractor_name"] == VALUES["contractor_name"] and a["stop.free"] == "FALSE"
    assert a["reasons"] == "停止時刻: 読み取りに自信がありません"  # the reason in the desk's words
    # The crop lies beside the sheet, named in the cell as a desk PC opens it from the same folder.
    assert a["stop.time.crop"] == f"review_crops\\{queue['a1']}_stop.time.png"
    assert (tmp_path / "review_crops" / f"{queue['a1']}_stop.time.png").read_bytes()[:4] == b"\x89PNG"
    assert rows[1]["stop.time.flag"] == "" and rows[1]["customer_contact.phone.flag"] == "要確認"


def test_round_trip_changes_exactly_the_corrected_fields(store, queue, tmp_path):
    out = tmp_path / "review.csv"
    export_review(store, out)
    rows = read_rows(out)
    rows[0]["stop.time"] = "18:30"  # the correction
    rows[0]["stop.date"] = "2026/6/17"  # Excel reformatted a date: same value, not a change
    rows[1]["remarks"] = "訂正済み"
    rows[0]["decision"], rows[1]["decision"] = "確認", "確認"
    write_rows(out, rows)

    report = import_review_csv(store, out, "tanaka")
    assert report.rejected == [] and sorted(report.applied) == sorted([queue["a1"], queue["b2"]])
    assert report.changed_fields == 2
    a = store.get_record(queue["a1"])
    assert a.review_state == "reviewed" and a.fields["stop.time"].value == "18:30"
    assert a.values() == VALUES | {"stop.time": "18:30"}
    audit, decided = store.audit(queue["a1"])
    assert (audit["key"], audit["old_value"], audit["new_value"], audit["reviewer"]) == ("stop.time", "16:00", "18:30", "tanaka")
    assert (decided["key"], decided["old_value"], decided["new_value"]) == ("#decision", "waiting", "confirmed")
    assert [r["key"] for r in store.audit(queue["b2"])] == ["remarks", "#decision"]
    assert store.pending_review() == []
    # Importing the same sheet again changes nothing.
    again = import_review_csv(store, out, "suzuki")
    assert again.applied == [] and len(again.skipped) == 2 and len(store.audit()) == 4


def test_a_row_without_a_decision_is_not_applied_and_says_so(store, queue, tmp_path):
    out = tmp_path / "review.csv"
    export_review(store, out, headers="ja")
    rows = read_rows(out)
    rows[0]["stop.time"] = "18:30"  # corrected, but no decision: half-finished
    write_rows(out, rows)
    report = import_review_csv(store, out, "tanaka")
    assert report.applied == [] and [p.code for p in report.skipped] == ["no_decision", "no_decision"]
    assert "判断の列が空欄" in report.skipped[0].message("ja") and store.audit() == []
    # A sheet cut down to its record ids decides nothing either.
    write_rows(out, [{"record_id": r["record_id"]} for r in rows])
    assert import_review_csv(store, out, "tanaka").applied == [] and len(store.pending_review()) == 2
    # Hold needs a note; with one, the record leaves the queue on hold.
    write_rows(out, [rows[1] | {"decision": "保留"}])
    assert [p.code for p in import_review_csv(store, out, "tanaka").rejected] == ["refused"]
    write_rows(out, [rows[1] | {"decision": "保留", "note": "お客様確認中"}])
    assert import_review_csv(store, out, "tanaka").applied == [queue["b2"]]
    assert store.get_record(queue["b2"]).decision == "on_hold"


def test_japanese_headers_and_accepting_a_rule_as_written(store, tmp_path):
    rec = make_record("f7" * 32, flagged={"notify.after_stop.sales": "blank"},
                      values=VALUES | {"notify.after_stop.sales": None})
    [rid] = store.save_file(rec.source.sha256, "fax.tif", [rec])
    out = tmp_path / "review.csv"
    export_review(store, out, headers="ja")
    header = read_sheet(out, required="記録ID").header
    assert header[:5] == ["記録ID", "ファイル", "ページ", "理由", "判断 (確認/保留/差戻し)"]
    assert "送付年月日" in header and "停止日" in header and "停止後販売担当者連絡 要確認" in header
    assert not any("." in h for h in header)
    rows = read_rows(out)
    write_rows(out, [rows[0] | {"decision": "確認"}])
    assert [p.key for p in import_review_csv(store, out, "tanaka").rejected] == ["notify.after_stop.sales"]
    write_rows(out, [rows[0] | {"decision": "確認", "accept": "rule:required"}])
    assert import_review_csv(store, out, "tanaka").applied == [rid]
    assert [a["new_value"] for a in store.audit(rid) if a["key"] == "#accept"] == ["rule:required"]


def test_invalid_rows_are_reported_and_not_applied(store, queue, tmp_path):
    out = tmp_path / "review.csv"
    export_review(store, out)
    rows = read_rows(out)
    rows[0]["stop.time"] = "25:99"  # cannot parse
    rows[0]["remarks"] = "この変更も適用されない"  # valid, but its row is rejected as a whole
    rows[1]["resume.date"] = "2026-06-01"  # parses, but resume before stop: cross-field rule
    rows[0]["decision"], rows[1]["decision"] = "確認", "確認"
    write_rows(out, rows)

    report = import_review_csv(store, out, "tanaka")
    assert report.applied == []
    assert report.rejected_rows == {queue["a1"], queue["b2"]}
    keys = {(p.record_id, p.key) for p in report.rejected}
    assert (queue["a1"], "stop.time") in keys
    assert any(rid == queue["b2"] for rid, _ in keys)
    assert store.audit() == []
    assert store.get_record(queue["a1"]).values()["remarks"] == VALUES["remarks"]
    assert {r.review_state for r in store.pending_review()} == {"pending"} and len(store.pending_review()) == 2


def test_cp932_export_is_refused_when_lossy_and_counts_what_it_changed(store, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("INTAKE_LANG", "en")
    rec = make_record("d4" * 32, flagged={"remarks": "low_confidence"}, values=VALUES | {"remarks": "停止🙂再開 👍 10〜12時"})
    [rid] = store.save_file(rec.source.sha256, "fax.tif", [rec])
    out = tmp_path / "review_sjis.csv"
    with pytest.raises(LossyExportError) as exc:
        export_review(store, out, "cp932")
    assert exc.value.reason == "lossy_export" and exc.value.exit_code == 8
    assert "1 character(s) changed to a look-alike (〜→～ ×1)" in str(exc.value)
    assert "2 character(s) replaced by '?' (symbol/emoji ×2)" in str(exc.value)
    assert not out.exists()  # nothing half-written

    n, changes = export_review(store, out, "cp932", accept_lossy=True)
    assert n == 1 and sum(changes.replaced.values()) == 2 and changes.mapped == {("〜", "～"): 1}
    assert "since --accept-lossy was given" in capsys.readouterr().err
    raw = out.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("cp932")  # strict: the whole file is valid cp932
    assert VALUES["contractor_name"] in text and "停止?再開 ? 10～12時" in text
    # The cp932 sheet imports back (auto-detected); cells the encoding changed are not "changes".
    rows = read_rows(out)
    rows[0]["stop.time"] = "18:45"
    rows[0]["decision"] = "確認"
    write_rows(out, rows, encoding="cp932")
    report = import_review_csv(store, out, "tanaka")
    assert report.rejected == [] and report.applied == [rid]
    assert [a["key"] for a in store.audit(rid)] == ["stop.time", "#decision"]
    assert store.get_record(rid).fields["remarks"].value == "停止🙂再開 👍 10〜12時"


def test_utf8_without_bom_is_accepted(store, queue, tmp_path):
    out = tmp_path / "review.csv"
    export_review(store, out)
    rows = read_rows(out)
    rows[0]["stop.time"] = "17:00"
    rows[0]["decision"] = "確認"
    write_rows(out, rows[:1], encoding="utf-8")
    assert import_review_csv(store, out, "tanaka").applied == [queue["a1"]]


def test_operations_export_jsonl_and_csv(store, queue, tmp_path):
    store.apply_review(queue["a1"], {"stop.time": "18:30"}, "tanaka")
    out = tmp_path / "ops.jsonl"
    assert export_records(store, out, "jsonl")[0] == 2  # reviewed + straight through, not the pending one
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert {d["id"] for d in lines} == {queue["a1"], queue["c3"]}
    for d in lines:
        assert set(d) == {"id", "source", "form", "review", "fields"}
        assert set(d["source"]) == {"file", "page", "sha256"} and d["review"]["needed"] is False
        assert set(d["fields"]["stop.time"]) == {"value", "confidence", "review"}
    a = next(d for d in lines if d["id"] == queue["a1"])
    assert a["fields"]["stop.time"]["value"] == "18:30"

    flat = tmp_path / "ops.csv"
    assert export_records(store, flat, "csv", include_pending=True)[0] == 3
    rows = read_rows(flat)
    assert [r["review_state"] for r in rows] == ["reviewed", "pending", "straight_through"]
    assert rows[0]["stop.time"] == "18:30" and rows[0]["reviewer"] == "tanaka"


def test_cli_round_trip(tmp_path, queue, store):
    """The commands as a person runs them (the desk CLI on its own)."""
    db = str(store.path)
    sheet = tmp_path / "sheet.csv"

    def run(*args):
        return subprocess.run([sys.executable, "-m", "intake.desk_cli", *args, "--db", db], cwd=REPO,
                              capture_output=True, text=True, timeout=60, env=os.environ | {"INTAKE_LANG": "en"})

    r = run("export", "--review", "--out", str(sheet))
    assert r.returncode == 0, r.stderr
    rows = read_rows(sheet)
    rows[0]["stop.time"] = "99:99"
    rows[1]["decision"] = "確認"
    write_rows(sheet, rows)
    r = run("import-review", str(sheet), "--reviewer", "tanaka")
    assert r.returncode == 1 and f"rejected {queue['a1']} stop.time (line 2): not a valid value (type HH:MM) [invalid_value]" in r.stderr
    r = run("purge", "--older-than", "0", "--dry-run")
    assert r.returncode == 0 and "would remove 3 files, 3 records" in r.stdout
    r = run("export", "--format", "jsonl")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 2  # b2 was reviewed above, c3 straight through
