"""Requests from the people in the records: find, disclose, erase (real store, real files, real CLI)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from intake.privacy import PrivacyRequestError, UnknownRecordError, erase, export, find, name_key, phone_key
from intake.store import MIGRATIONS, SCHEMA_VERSION, Move, Store
from test_store import VALUES, make_record, store  # noqa: F401  (store: the fixture)

REPO = Path(__file__).resolve().parents[1]
SAMPLE_FAX = REPO / "samples" / "fax_0004.tif"  # a generated fax: the bytes stand for an archived copy


def archive_copy(store: Store, sha: str, name: str) -> Path:
    """Put a copy of a real fax in the archive and register it as the store does."""
    folder = store.path.parent / "archive" / "2026-06-01"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    shutil.copy(SAMPLE_FAX, path)
    store.set_stored_path(sha, path)
    return path


@pytest.fixture
def people(store):
    """Three faxes: Kobayashi on two of them (one a two-page fax shared with Suzuki), Sato on one."""
    kobayashi = VALUES
    suzuki = VALUES | {"customer_contact.name": "鈴木 一郎", "customer_contact.phone": "03-5555-0101",
                       "contractor_name": "鈴木商事"}
    sato = VALUES | {"customer_contact.name": "佐藤 花子", "customer_contact.phone": "045-123-4567",
                     "contractor_name": "佐藤工業", "remarks": "担当は佐藤"}
    two_pages = [make_record("aa" * 32, 1, values=kobayashi, flagged={"stop.time": "low_confidence"}),
                 make_record("aa" * 32, 2, values=suzuki)]
    one = make_record("bb" * 32, 1, values=kobayashi)
    other = make_record("cc" * 32, 1, values=sato)
    ids = {
        "two_page": store.save_file("aa" * 32, "fax_from_0312345678.tif", two_pages),
        "kobayashi": store.save_file("bb" * 32, "fax_b.tif", [one]),
        "sato": store.save_file("cc" * 32, "fax_c.tif", [other]),
    }
    files = {"two_page": archive_copy(store, "aa" * 32, "fax_from_0312345678.tif"),
             "kobayashi": archive_copy(store, "bb" * 32, "fax_b.tif"),
             "sato": archive_copy(store, "cc" * 32, "fax_c.tif")}
    return ids, files


def test_keys_ignore_width_space_and_punctuation_of_numbers():
    assert name_key("小林　さくら") == name_key("小林さくら") == name_key(" 小林 さくら ")
    assert name_key("ＫＯＢＡＹＡＳＨＩ Sakura") == name_key("kobayashi sakura")
    assert phone_key("０７０（２５４４）１０９８") == phone_key("070-2544-1098") == "07025441098"


def test_find_by_name_and_phone_lists_ids_and_fields_only(store, people):
    ids, _ = people
    [two_page_1, two_page_2], [kobayashi], [sato] = ids["two_page"], ids["kobayashi"], ids["sato"]
    by_name = find(store, name="小林　さくら")
    assert [(m.record_id, m.keys) for m in by_name] == [(two_page_1, ("customer_contact.name",)),
                                                         (kobayashi, ("customer_contact.name",))]
    assert {m.record_id for m in find(store, phone="０７０ ２５４４ １０９８")} == {two_page_1, kobayashi}
    assert [m.record_id for m in find(store, name="佐藤")] == [sato]
    assert find(store, name="佐藤")[0].keys == ("contractor_name", "customer_contact.name", "remarks")
    # The sender's number in the fax's file name finds every record of that fax.
    assert [(m.record_id, m.keys) for m in find(store, phone="03-1234-5678")] == [
        (two_page_1, ("source_file",)), (two_page_2, ("source_file",))]
    # Dates and Teledome numbers are not phone numbers: their digits do not match by chance.
    assert find(store, phone="0180-99-9395") == [] and find(store, phone="20260617") == []
    assert find(store, name="山田") == []


@pytest.mark.parametrize("kwargs", [{"name": "小"}, {"phone": "123"}, {}, {"name": "小林", "phone": "0312345678"}])
def test_find_refuses_a_search_that_would_match_everyone_or_nothing_given(store, kwargs):
    with pytest.raises(PrivacyRequestError):
        find(store, **kwargs)


def test_export_writes_everything_held_about_the_records(store, people, tmp_path):
    ids, _ = people
    two_page_1 = ids["two_page"][0]
    store.apply_review(two_page_1, {"stop.time": "18:30"}, "tanaka")
    out = tmp_path / "for_kobayashi.json"
    assert export(store, [two_page_1, ids["kobayashi"][0], two_page_1], out) == 2
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    raw = out.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    data = json.loads(raw.decode("utf-8"))
    first, second = data["records"]
    assert first["id"] == two_page_1 and first["fields"]["customer_contact.name"]["value"] == "小林 さくら"
    assert first["corrections"] == [{"field": "stop.time", "before": "18:00", "after": "18:30",
                                     "at": first["reviewed_at"]}]
    assert first["source"]["file"] == "fax_from_0312345678.tif" and first["received"]
    assert second["id"] == ids["kobayashi"][0] and second["corrections"] == []
    with pytest.raises(UnknownRecordError):
        export(store, [two_page_1, "ffffffffffffffff-1"], tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


def test_erase_removes_rows_crops_fax_and_logs_counts_only(store, people):
    ids, files = people
    [kobayashi] = ids["kobayashi"]
    crops = [Path(f.crop_path) for f in store.get_record(kobayashi).fields.values()]
    store.apply_review(kobayashi, {"stop.time": "18:30"}, "tanaka")
    [report] = erase(store, [kobayashi], "suzuki (privacy desk)")
    assert store.get_record(kobayashi) is None and store.audit(kobayashi) == []
    assert store.lookup_file("bb" * 32) is None  # its only record: the fax goes too
    assert not any(p.exists() for p in crops) and not (store.crops_dir / kobayashi).exists()
    assert not files["kobayashi"].exists()
    assert report.counts() == {"fields": len(VALUES), "audit_rows": 1, "crop_files": len(VALUES),
                               "fax_copies": 1, "file_row": 1}
    [entry] = store.erasures()
    assert (entry["record_id"], entry["by"], entry["removed"]) == (kobayashi, "suzuki (privacy desk)", report.counts())
    # Nothing of the fax is left in the database files: deleted rows are overwritten (secure_delete)
    # and the WAL is emptied, so the file name with the sender's number is gone from the bytes too.
    leftovers = b"".join(p.read_bytes() for p in store.path.parent.glob("intake.db*"))
    assert b"fax_b.tif" not in leftovers and b"fax_c.tif" in leftovers


def test_erasing_one_record_of_a_shared_fax_keeps_the_fax_until_the_last(store, people):
    ids, files = people
    two_page_1, two_page_2 = ids["two_page"]
    [report] = erase(store, [two_page_1], "suzuki")
    assert report.fax_kept_for == [two_page_2] and report.fax_copies == 0 and not report.file_row
    assert files["two_page"].exists() and store.get_record(two_page_2) is not None
    [last] = erase(store, [two_page_2], "suzuki")
    assert last.fax_kept_for == [] and last.fax_copies == 1 and last.file_row
    assert not files["two_page"].exists() and store.lookup_file("aa" * 32) is None
    assert [e["record_id"] for e in store.erasures()] == [two_page_1, two_page_2]


def test_erase_drops_a_journalled_move_so_a_restart_cannot_bring_the_fax_back(store, people):
    ids, files = people
    work = store.data_dir / "work" / "claimed.tif"
    work.parent.mkdir()
    shutil.copy(SAMPLE_FAX, work)
    dest = store.rel(files["sato"].parent / "fax_c-1.tif")
    store.plan_move(Move("cc" * 32, dest, store.rel(work), b"inbox/fax_c.tif", (1, 2, 3, 4)))
    [report] = erase(store, ids["sato"], "suzuki")
    assert store.pending_moves() == [] and not work.exists() and not files["sato"].exists()
    assert report.fax_copies == 2  # the archived copy and the claimed one (the planned destination was never written)


def test_erase_is_all_or_nothing(store, people):
    ids, files = people
    with pytest.raises(UnknownRecordError):
        erase(store, [ids["sato"][0], "ffffffffffffffff-1"], "suzuki")
    assert store.get_record(ids["sato"][0]) is not None and files["sato"].exists() and store.erasures() == []
    with pytest.raises(PrivacyRequestError):
        erase(store, [ids["sato"][0]], "  ")


def test_an_old_store_gains_the_erasure_log(tmp_path):
    db = tmp_path / "old.db"
    before = next(i for i, m in enumerate(MIGRATIONS) if "CREATE TABLE erasures" in m)
    old = sqlite3.connect(db)
    for migration in MIGRATIONS[:before]:
        old.executescript(migration)
    old.execute(f"PRAGMA user_version = {before}")
    old.close()
    with Store(db) as s:
        assert s.version == SCHEMA_VERSION and s.erasures() == []


# -- the commands, on faxes read by the real pipeline ---------------------------------------


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    """Two generated faxes processed by the watcher into a fresh store."""
    samplegen = pytest.importorskip("samplegen")
    from intake.watch import watch

    root = tmp_path_factory.mktemp("desk")
    inbox = root / "inbox"
    inbox.mkdir()
    samplegen.generate(inbox, 2, seed=11, writers="test")
    for extra in inbox.glob("*.json*"):
        extra.unlink()
    db = root / "data" / "intake.db"
    watch(inbox, db=db, once=True, settle=0.05, progress=False)
    return db


def run(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "intake", "privacy", *args, "--db", str(db)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, env=os.environ | {"INTAKE_LANG": "en"})


def test_cli_find_export_erase_on_processed_faxes(desk, tmp_path):
    with Store(desk) as store:
        records = store.records()
        target = next(r for r in records if r.fields["customer_contact.name"].value)
        name = target.fields["customer_contact.name"].value
        copies = store._copies(target.file_sha256)
        crop_dir = store.crops_dir / target.id
    assert copies and all(p.exists() for p in copies) and crop_dir.is_dir()
    asked = unicodedata.normalize("NFKC", name).replace(" ", "　　")  # as a person may type it: other spaces

    found = run(desk, "find", "--name", asked)
    assert found.returncode == 0 and target.id in found.stdout
    assert name not in found.stdout + found.stderr and name.split()[0] not in found.stdout + found.stderr

    out = tmp_path / "disclosure.json"
    r = run(desk, "export", target.id, "--out", str(out))
    assert r.returncode == 0 and name not in r.stdout + r.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["records"][0]["fields"]["customer_contact.name"]["value"] == name

    r = run(desk, "erase", target.id, "--by", "privacy-desk")
    assert r.returncode == 0 and f"{target.id}: erased" in r.stdout and name not in r.stdout + r.stderr
    assert not crop_dir.exists() and not any(p.exists() for p in copies)
    assert target.id not in run(desk, "find", "--name", asked).stdout
    with Store(desk) as store:
        assert store.get_record(target.id) is None and store.erasures()[-1]["by"] == "privacy-desk"

    gone = run(desk, "erase", target.id, "--by", "privacy-desk")
    assert gone.returncode == 2 and "[unknown_record]" in gone.stderr
    link = tmp_path / "link.json"
    link.symlink_to(out)
    assert run(desk, "export", records[-1].id, "--out", str(link)).returncode == 2
