"""The record store: round trip, migrations, crash-safe file bookkeeping, purge, permissions."""

from __future__ import annotations

import sqlite3
import stat
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from intake.errors import StoreError
from intake.model import FieldReading, Record, SourceRef
from intake.reasons import Reason
from intake.store import MIGRATIONS, SCHEMA_VERSION, Store, record_id, utcnow

# A valid record (from samplegen truth); check_values(template, VALUES) == {}.
VALUES = {
    "sent_date": "2026-05-04", "contractor_name": "加藤開発株式会社",
    "targets.0.teledome_number": "0180-99-9395", "targets.0.plan_number": "4-7276-03",
    "targets.1.teledome_number": "0180-99-5304", "targets.1.plan_number": "4-2607-88",
    "targets.2.teledome_number": None, "targets.2.plan_number": None,
    "targets.3.teledome_number": None, "targets.3.plan_number": None,
    "stop.date": "2026-06-17", "stop.weekday": "水", "stop.time": "18:00", "stop.free": False,
    "resume.date": "2026-06-18", "resume.weekday": "木", "resume.time": "03:30", "resume.free": False,
    "notify.before_stop.customer": True, "notify.before_stop.sales": True,
    "notify.after_stop.customer": False, "notify.after_stop.sales": False,
    "notify.before_resume.customer": True, "notify.before_resume.sales": True,
    "notify.after_resume.customer": True, "notify.after_resume.sales": True,
    "customer_contact.department": "営業部", "customer_contact.name": "小林 さくら",
    "customer_contact.phone": "070-2544-1098",
    "ntt_contact.department": None, "ntt_contact.name": None, "ntt_contact.phone": None,
    "remarks": "キャンペーン終了のため",
    "office_use.received": False, "office_use.stopped": False, "office_use.started": False,
}


def make_record(sha: str = "ab" * 32, page: int = 1, *, values: dict | None = None,
                flagged: dict[str, str] | None = None, record_reasons: tuple[Reason, ...] = ()) -> Record:
    """A Record as the pipeline would build it, with a crop image for every field."""
    values = dict(VALUES if values is None else values)
    flagged = flagged or {}
    fields = {
        k: FieldReading(k, v, 0.55 if k in flagged else 0.97, (Reason.of(flagged[k], k),) if k in flagged else ())
        for k, v in values.items()
    }
    rng = np.random.default_rng(page)
    crops = {k: rng.integers(0, 256, (20, 40), dtype=np.uint8) for k in values}
    return Record(SourceRef(f"fax_{page}.tif", page, sha), "teledome_stop_request", fields, record_reasons, 0.9, crops)


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "data" / "intake.db") as s:
        yield s


def test_round_trip_keeps_every_field_and_the_contract(store):
    rec = make_record(flagged={"stop.time": "low_confidence"})
    ids = store.save_file(rec.source.sha256, "fax_1.tif", [rec])
    assert ids == [record_id(rec.source.sha256, 1)]
    got = store.get_record(ids[0])
    assert got.review_state == "pending" and got.values() == VALUES
    want = rec.to_json()
    have = got.to_json()
    assert have["id"] == ids[0]
    assert {k: have[k] for k in want} == want  # the record contract, unchanged
    # Every crop is a PNG on disk.
    assert all(Path(f.crop_path).is_file() for f in got.fields.values())
    assert store.lookup_file(rec.source.sha256).state == "processed"


def test_reasons_are_kept_as_data_and_old_strings_load_as_legacy(store):
    rec = make_record(flagged={"stop.time": "low_confidence"})
    [rid] = store.save_file(rec.source.sha256, "a.tif", [rec])
    assert store.get_record(rid).reasons == [Reason.of("low_confidence", "stop.time")]
    # A store written when reasons were sentences keeps them, as code "legacy".
    store.db.execute("UPDATE records SET reasons = ? WHERE id = ?", ('["stop.time: unsure digit"]', rid))
    store.db.commit()
    got = store.get_record(rid)
    assert got.reasons == [Reason.of("legacy", (), text="stop.time: unsure digit")]
    assert got.to_json()["review"]["reasons"] == [
        {"code": "legacy", "fields": [], "values": {"text": "stop.time: unsure digit"}, "message": "stop.time: unsure digit"}]


def test_clean_record_is_straight_through(store):
    rec = make_record("cd" * 32)
    [rid] = store.save_file(rec.source.sha256, "a.tif", [rec])
    assert store.get_record(rid).review_state == "straight_through"
    assert [r.id for r in store.actionable()] == [rid] and store.pending_review() == []


def test_no_form_file_is_stored_with_its_reason(store):
    store.save_file("ef" * 32, "cover.tif", [], [(1, "not a known form")], no_form_reason="no_form_found: page 1")
    row = store.lookup_file("ef" * 32)
    assert row.state == "no_form" and "no_form_found" in row.reason
    assert store.record_ids_of("ef" * 32) == []


def test_save_is_one_transaction(store):
    """A failure half-way through leaves nothing behind (no file row without its records)."""
    good = make_record("12" * 32, 1)
    clash = make_record("12" * 32, 1)  # same page twice: the second insert fails
    with pytest.raises(sqlite3.IntegrityError):
        store.save_file("12" * 32, "x.tif", [good, clash])
    assert store.lookup_file("12" * 32) is None and store.records() == []


def test_wal_and_schema_version(store):
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.version == SCHEMA_VERSION == len(MIGRATIONS)


def test_migrates_an_old_database_in_place(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute("INSERT INTO files (sha256, name, received, state) VALUES ('aa', 'old.tif', '2020-01-01', 'no_form')")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with Store(path) as s:
        assert s.version == SCHEMA_VERSION
        assert s.lookup_file("aa").name == "old.tif"
        names = {r[0] for r in s.db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "records_by_state" in names


def test_refuses_a_newer_schema(tmp_path):
    path = tmp_path / "new.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer"):
        Store(path)


def test_apply_review_writes_audit_rows(store):
    rec = make_record(flagged={"stop.time": "low_confidence"})
    [rid] = store.save_file(rec.source.sha256, "a.tif", [rec])
    n = store.apply_review(rid, {"stop.time": "19:00", "stop.weekday": "水"}, "tanaka")  # weekday unchanged
    assert n == 1
    [row] = store.audit(rid)
    assert (row["key"], row["old_value"], row["new_value"], row["reviewer"]) == ("stop.time", "18:00", "19:00", "tanaka")
    got = store.get_record(rid)
    assert got.review_state == "reviewed" and got.reviewer == "tanaka" and got.fields["stop.time"].value == "19:00"
    assert got.to_json()["review"]["needed"] is False


def test_files_and_folders_are_owner_only(tmp_path):
    with Store(tmp_path / "d" / "intake.db") as s:
        rec = make_record()
        [rid] = s.save_file(rec.source.sha256, "a.tif", [rec])
        crop = Path(s.get_record(rid).fields["stop.time"].crop_path)
        assert mode(s.path) == 0o600 and mode(s.path.parent) == 0o700
        assert mode(crop) == 0o600 and mode(crop.parent) == 0o700
        for suffix in ("-wal", "-shm"):
            side = Path(str(s.path) + suffix)
            if side.exists():
                assert mode(side) & 0o077 == 0


def test_purge_removes_old_records_crops_and_faxes(store, tmp_path):
    old, new = make_record("0a" * 32), make_record("0b" * 32)
    [old_id] = store.save_file(old.source.sha256, "old.tif", [old], received=utcnow() - timedelta(days=40))
    [new_id] = store.save_file(new.source.sha256, "new.tif", [new])
    store.apply_review(old_id, {"stop.time": "19:00"}, "tanaka")
    fax = tmp_path / "archive" / "2020-01-01" / "old.tif"
    fax.parent.mkdir(parents=True)
    fax.write_bytes(b"II*\x00")
    store.set_stored_path(old.source.sha256, fax)
    resent = fax.parent / "old-1.tif"  # the same fax delivered again: a second archived copy
    resent.write_bytes(b"II*\x00")
    store.set_stored_path(old.source.sha256, resent)

    dry = store.purge(30, dry_run=True)
    assert (dry.files, dry.records, dry.crop_folders, dry.faxes) == (1, 1, 1, 2)
    assert store.get_record(old_id) is not None and fax.exists()

    done = store.purge(30)
    assert (done.files, done.records, done.crop_folders, done.faxes) == (1, 1, 1, 2)
    assert store.get_record(old_id) is None and store.audit(old_id) == []
    assert not (store.crops_dir / old_id).exists() and not fax.exists() and not resent.exists()
    assert not fax.parent.exists()
    assert store.get_record(new_id) is not None and (store.crops_dir / new_id).is_dir()


def test_a_quarantined_file_that_later_reads_supersedes_its_quarantine_row(store):
    sha = "9f" * 32
    store.save_quarantined(sha, "x.tif", "internal_error: bug")
    store.set_stored_path(sha, "/q/x.tif")
    rec = make_record(sha)
    store.save_file(sha, "x.tif", [rec])
    row = store.lookup_file(sha)
    assert row.state == "processed" and row.reason is None
    assert store._copies(sha) == [Path("/q/x.tif")]  # the quarantined copy is still found by purge
    with pytest.raises(StoreError, match="already stored"):
        store.save_file(sha, "x.tif", [])
