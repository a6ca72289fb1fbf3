"""Review decisions: explicit, audited, reopenable; rule breaks accepted only by code; unread faxes; status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from intake.errors import ReviewError, VersionConflict
from intake.review.decisions import Decision, breaches, decide, decide_unread, reopen, reopen_unread, state_of
from intake.review.queue import counts
from intake.store import Store
from test_store import VALUES, make_record

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def japanese(monkeypatch):
    monkeypatch.setenv("INTAKE_LANG", "ja")


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "data" / "intake.db") as s:
        yield s


def add(store, n: int, **kw) -> str:
    sha = f"{n:02x}" * 32
    [rid] = store.save_file(sha, f"fax_{n}.tif", [make_record(sha, 1, **kw)])
    return rid


def test_confirm_with_a_correction_is_audited(store, template):
    rid = add(store, 1, flagged={"stop.time": "unsure"}, values=VALUES | {"stop.time": "16:00"})
    assert state_of(store.get_record(rid)) == "waiting"
    version = decide(store, template, rid, Decision("confirmed", "tanaka", {"stop.time": "18:00"}, version=0))
    rec = store.get_record(rid)
    assert version == 1 and state_of(rec) == "confirmed" and rec.fields["stop.time"].value == "18:00"
    assert [(a["key"], a["old_value"], a["new_value"], a["reviewer"]) for a in store.audit(rid)] == [
        ("stop.time", "16:00", "18:00", "tanaka"), ("#decision", "waiting", "confirmed", "tanaka")]
    assert [r.id for r in store.actionable()] == [rid] and store.pending_review() == []


def test_a_rule_broken_as_written_needs_an_explicit_accept(store, template):
    blank = VALUES | {"notify.after_stop.sales": None}
    rid = add(store, 2, flagged={"notify.after_stop.sales": "circle 要 or 不要"}, values=blank)
    assert [r.code for r in breaches(template, blank)] == ["rule:required"]
    with pytest.raises(ReviewError, match="rule:required"):
        decide(store, template, rid, Decision("confirmed", "tanaka", {}))
    assert state_of(store.get_record(rid)) == "waiting" and store.audit(rid) == []
    decide(store, template, rid, Decision("confirmed", "tanaka", {}, accept=("rule:required",)))
    accepts = [a for a in store.audit(rid) if a["key"] == "#accept"]
    assert [(a["new_value"], a["note"]) for a in accepts] == [("rule:required", "notify.after_stop.sales")]


def test_a_wrong_weekday_can_be_accepted_but_a_malformed_value_never(store, template):
    rid = add(store, 3, flagged={"stop.weekday": "weekday"}, values=VALUES | {"stop.weekday": "月"})
    decide(store, template, rid, Decision("confirmed", "sato", {}, accept=("rule:weekday_matches_date",)))
    rid2 = add(store, 4, flagged={"stop.date": "bad"}, values=VALUES | {"stop.date": "2026-13-01"})
    with pytest.raises(ReviewError, match=r"直してください \(stop.date\)"):
        decide(store, template, rid2, Decision("confirmed", "sato", {}, accept=("not_a_date", "rule:required")))


def test_hold_return_need_a_note_and_reopen_puts_it_back(store, template):
    rid = add(store, 5, flagged={"remarks": "unsure"})
    with pytest.raises(ReviewError, match="メモが必要です"):
        decide(store, template, rid, Decision("on_hold", "tanaka", {}))
    decide(store, template, rid, Decision("on_hold", "tanaka", {}, note="お客様確認中"))
    rec = store.get_record(rid)
    assert state_of(rec) == "on_hold" and rec.decision_note == "お客様確認中" and store.actionable() == []
    assert counts(store).on_hold == 1 and counts(store).waiting == 0
    with pytest.raises(ReviewError, match="先に再開してください"):
        decide(store, template, rid, Decision("returned", "tanaka", {}, note="x"))
    reopen(store, rid, "sato")
    decide(store, template, rid, Decision("returned", "sato", {}, note="FAX不鮮明"))
    reopen(store, rid, "sato")
    decide(store, template, rid, Decision("confirmed", "sato", {}))
    trail = [(a["old_value"], a["new_value"]) for a in store.audit(rid) if a["key"] == "#decision"]
    assert trail == [("waiting", "on_hold"), ("on_hold", "waiting"), ("waiting", "returned"),
                     ("returned", "waiting"), ("waiting", "confirmed")]


def test_two_reviewers_one_record_the_second_is_refused_and_nothing_is_lost(store, template):
    rid = add(store, 6, flagged={"stop.time": "unsure"})
    seen = store.get_record(rid).version
    decide(store, template, rid, Decision("on_hold", "a", {"stop.time": "19:00"}, note="確認中", version=seen))
    with pytest.raises((VersionConflict, ReviewError)):
        decide(store, template, rid, Decision("confirmed", "b", {"stop.time": "20:00"}, version=seen))
    with pytest.raises(VersionConflict):
        store.record_decision(rid, "confirmed", "b", changes={"stop.time": "20:00"}, expected_version=seen)
    assert store.get_record(rid).fields["stop.time"].value == "19:00"
    assert [a["reviewer"] for a in store.audit(rid)] == ["a", "a"]


def test_unread_faxes_wait_until_a_person_decides(store, template):
    store.save_file("aa" * 32, "cover.tif", [])
    store.save_quarantined("bb" * 32, "broken.pdf", "corrupt_file: bad xref")
    assert [f.name for f in store.unread_files()] == ["cover.tif", "broken.pdf"]
    assert counts(store).unread == 2 and counts(store).total_waiting == 2
    decide_unread(store, None, "aa" * 32, "not_a_request", "tanaka", note="送付状")
    typed = {k: ("" if v is None else str(v)) for k, v in VALUES.items()}
    typed |= {k: ("要" if v else "不要") for k, v in VALUES.items() if isinstance(v, bool)}
    [rid] = decide_unread(store, template, "bb" * 32, "keyed", "tanaka", note="手入力", typed=typed)
    rec = store.get_record(rid)
    assert state_of(rec) == "confirmed" and rec.values() == VALUES
    assert {a["key"] for a in store.audit(rid)} >= {"sent_date", "#decision"}
    assert store.unread_files() == [] and counts(store).total_waiting == 0
    reopen_unread(store, "aa" * 32, "sato")
    assert [f.name for f in store.unread_files()] == ["cover.tif"]
    assert [(a["old_value"], a["new_value"]) for a in store.file_audit("aa" * 32)] == [
        ("waiting", "not_a_request"), ("not_a_request", "waiting")]


def run_cli(*args, db: Path, stdin: str | None = None):
    env = dict(os.environ, PYTHONPATH=str(REPO), INTAKE_LANG="ja")
    return subprocess.run([sys.executable, "-m", "intake", *args, "--db", str(db)], cwd=REPO, env=env,
                          input=stdin, capture_output=True, text=True, timeout=60)


def test_cli_status_list_decide_reopen(tmp_path):
    db = tmp_path / "data" / "intake.db"
    with Store(db) as s:
        rid = add(s, 7, flagged={"stop.time": "unsure"}, values=VALUES | {"stop.time": "16:00"})
        held = add(s, 8, flagged={"remarks": "unsure"})
        s.save_file("cc" * 32, "junk.tif", [])
    out = run_cli("status", db=db)
    assert out.returncode == 0 and "確認待ち: 3 件 (記録 2 件、読めなかったFAX 1 件)" in out.stdout
    listing = run_cli("review", "list", db=db).stdout
    assert rid in listing and held in listing and "読めなかったFAX" in listing
    refused = run_cli("review", "hold", held, "--reviewer", "tanaka", db=db)
    assert refused.returncode == 2 and "[review_refused]" in refused.stderr
    assert run_cli("review", "hold", held, "--note", "お客様確認中", "--reviewer", "tanaka", db=db).returncode == 0
    ok = run_cli("review", "confirm", rid, "--set", "stop.time=１８：００", "--reviewer", "tanaka", db=db)
    assert ok.returncode == 0 and "確認済" in ok.stdout, ok.stderr
    assert run_cli("review", "reopen", rid, "--reviewer", "sato", db=db).returncode == 0
    shown = run_cli("review", "show", rid, db=db).stdout
    assert "未処理" in shown and "停止時刻" in shown and "18:00" in shown
    assert run_cli("review", "unread", "cccc", "not_a_request", "--note", "広告", "--reviewer", "t", db=db).returncode == 0
    status = run_cli("status", "--lang", "en", db=db).stdout
    assert "waiting: 1 (1 records, 0 unread faxes)" in status and "on hold: 1" in status
    assert run_cli("review", "add-user", "tanaka", "--password-stdin", db=db, stdin="correct horse\n").returncode == 0
    with Store(db) as s:
        assert s.reviewer_hash("tanaka").startswith("scrypt$")
