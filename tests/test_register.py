"""The desk's register: loading (and refusing) its files, matching names, the checks, settling a
reader's doubt only where the ink supports it, the stored register object, reloading, and the
CLI on real sample faxes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO
from intake.errors import RegisterError
from intake.model import FieldReading, Record, SourceRef
from intake.reasons import Reason
from intake.register import (RegisterSource, check_against_register, configured_paths, load_register, name_key,
                             parse_contracts)

SAMPLES = REPO / "samples"
HEADER = "contractor_name,teledome_number,plan_number"
STAFF_HEADER = "department,name,phone"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def register_files(tmp_path):
    contracts = write(tmp_path / "contracts.csv", "\r\n".join([
        HEADER + ",memo",
        "株式会社山田商事,0180-99-1234,4-1111-22,main line",
        "山田商事株式会社,０１８０９９５６７８,４１１１１２２,",  # the same contractor, full-width, no hyphens
        "株式会社山田商事,0180-99-5678,4-3333-44,",  # a second plan on the same number
        "(有)東京物産,0180 99 4321,4-5555-66,",
        "株式会社山口商事,0180-99-9999,4-7777-88,",
    ]) + "\r\n", "utf-8-sig")
    staff = write(tmp_path / "staff.csv", "\r\n".join([
        STAFF_HEADER, "法人営業部,清水 聡,03-1234-5678", "第一営業部門,田中 花子,",
    ]) + "\r\n", "cp932")
    return contracts, staff


@pytest.fixture
def register(register_files):
    return load_register(*register_files)


VALUES = {
    "contractor_name": "株式会社山田商事",
    "targets.0.teledome_number": "0180-99-1234", "targets.0.plan_number": "4-1111-22",
    "targets.1.teledome_number": "0180-99-5678", "targets.1.plan_number": "4-3333-44",
    "targets.2.teledome_number": None, "targets.2.plan_number": None,
    "ntt_contact.department": "法人営業部", "ntt_contact.name": "清水聡", "ntt_contact.phone": "03-1234-5678",
}


def record_of(values: dict | None = None, **readings: FieldReading) -> Record:
    fields = {k: FieldReading(k, v, 0.99) for k, v in (values or VALUES).items()}
    fields.update(readings)
    return Record(SourceRef("fax.tif", 1, "ab" * 32), "teledome_stop_request", fields)


def codes_on(record: Record, key: str) -> list[str]:
    return [r.code for r in record.fields[key].reasons if r.family == "register"]


# -- loading -----------------------------------------------------------------------------


def test_both_encodings_and_every_spelling_of_a_number_load(register):
    yamada, tokyo = register.holders["0180-99-1234"], register.holders["0180-99-4321"]
    assert register.holders["0180-99-5678"] is yamada  # 株式会社X and X株式会社 are one contractor
    assert yamada.numbers["0180-99-5678"] == {"4-1111-22", "4-3333-44"}
    assert tokyo.key == ("有限会社", "東京物産")
    assert set(register.staff) == {"清水聡", "田中花子"}  # cp932 read, spaces ignored
    assert len(register.version.sha256) == 16 and register.version.loaded.endswith("+00:00")


BAD_FILES = {
    "wrong header": (b"name,number,plan\r\nA,0180-99-1234,4-1111-22\r\n", "line 1: the header lacks contractor_name"),
    "bad number": ((HEADER + "\nA,0180-99-123,4-1111-22\nB,0180-99-1235,4-1111\n").encode(),
                   "line 2: teledome_number '0180-99-123'"),
    "two holders": ((HEADER + "\nA株式会社,0180-99-1234,4-1111-22\nB株式会社,0180-99-1234,4-1111-22\n").encode(),
                    "line 3: teledome_number 0180-99-1234 is already held by another contractor (line 2)"),
    "undecodable": (HEADER.encode() + b"\nA,0180-99-1234,4-1111-22\n\x81\x20\xff,0180-99-1235,4-1111-22\n",
                    "line 3: the file is neither UTF-8 nor Shift_JIS"),
    "empty": (b"", "the file is empty"),
    "header only": ((HEADER + "\n").encode(), "no contracts after the header"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_contract_file_is_refused_whole_with_line_numbers(tmp_path, case):
    data, message = BAD_FILES[case]
    path = tmp_path / "contracts.csv"
    path.write_bytes(data)
    with pytest.raises(RegisterError) as err:
        load_register(path)
    assert err.value.reason == "register_invalid" and err.value.exit_code == 2
    assert message in str(err.value) and str(path) in str(err.value)


def test_every_bad_line_is_named_not_just_the_first():
    with pytest.raises(RegisterError) as err:
        parse_contracts(HEADER + "\nA,0180-99-12,4-1111-22\nB,0180-99-1235,4-1111-22\n,0180-99-1236,x\n")
    text = str(err.value)
    assert "2 problem(s)" in text and "line 2:" in text and "line 4: contractor_name is blank" in text
    assert "line 3" not in text


def test_a_bad_staff_phone_is_refused(tmp_path, register_files):
    staff = write(tmp_path / "staff_bad.csv", STAFF_HEADER + "\n営業部,山田 太郎,12-34\n")
    with pytest.raises(RegisterError, match="line 2: phone '12-34'"):
        load_register(register_files[0], staff)


def test_scan_refuses_a_bad_register_with_exit_2(tmp_path):
    bad = tmp_path / "contracts.csv"
    bad.write_bytes(BAD_FILES["two holders"][0])
    proc = subprocess.run([sys.executable, "-m", "intake", "scan", str(SAMPLES / "fax_0001.tif"), "--contracts", str(bad)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "[register_invalid]" in proc.stderr and "line 3" in proc.stderr


# -- names -------------------------------------------------------------------------------


@pytest.mark.parametrize("written", ["株式会社山田商事", "（株）山田商事", "㈱山田商事", "山田商事(株)", "山田商事 株式会社"])
def test_the_contractor_name_matches_as_written(register, written):
    assert register.match_contractor(written) == (register.holders["0180-99-1234"], "exact")


def test_a_small_misreading_still_finds_the_contractor(register):
    assert register.match_contractor("（有）東京物座") == (register.holders["0180-99-4321"], "close")
    assert register.match_contractor("有限会社東京座談") == (None, "none")


def test_two_registered_contractors_are_never_confused(register):
    # 山田商事 and 山口商事 are both registered, one character apart: a misreading of either is
    # taken for neither, even one nearer to one of them.
    assert register.match_contractor("株式会社山日商事") == (None, "none")
    assert register.match_contractor("株式会社山田商亊") == (None, "none")
    assert register.match_contractor("株式会社山口商事")[0] is register.holders["0180-99-9999"]
    assert register.match_contractor("有限会社山田商事") == (None, "none")  # another legal form is another company
    assert register.match_contractor("㈲東京物産")[0] is register.holders["0180-99-4321"]
    assert name_key("㈱ 山田商事") == name_key("山田商事株式会社") == ("株式会社", "山田商事")


# -- the checks --------------------------------------------------------------------------


def test_a_record_the_register_agrees_with_is_left_as_it_is(register):
    checked = check_against_register(record_of(), register)
    assert not checked.review_needed
    reg = checked.to_json()["register"]
    assert reg["contractor"] == {"as_written": "株式会社山田商事", "registered": "株式会社山田商事", "match": "exact"}
    assert [(t["row"], t["holder"], t["plan_on_number"]) for t in reg["targets"]] == [(0, "contractor", True),
                                                                                      (1, "contractor", True)]
    assert reg["ntt_contact"]["agrees"] is True and reg["reasons"] == []
    assert reg["version"] == register.version.to_json()


def test_a_number_not_held_by_the_contractor_flags_its_row_whatever_the_confidence(register):
    values = dict(VALUES, **{"targets.0.teledome_number": "0180-99-4321", "targets.1.teledome_number": "0180-99-0000"})
    checked = check_against_register(record_of(values), register)
    assert codes_on(checked, "targets.0.teledome_number") == ["register:number_held_by_other"]
    assert codes_on(checked, "targets.0.plan_number") == ["register:number_held_by_other"]
    assert codes_on(checked, "targets.1.teledome_number") == ["register:number_not_held"]
    rows = checked.register["targets"]
    assert rows[0]["holder"] == "other" and rows[0]["registered_holder"] == "(有)東京物産"
    assert rows[1]["holder"] == "none"
    # The other holder's name is in the register object only, never in a reason.
    assert "東京物産" not in json.dumps(checked.register["reasons"], ensure_ascii=False)
    assert all("東京物産" not in json.dumps(r.to_json(), ensure_ascii=False) for r in checked.review_reasons())


def test_plan_contractor_and_staff_checks(register):
    values = dict(VALUES, **{"targets.1.plan_number": "4-1111-23", "ntt_contact.phone": "03-1234-0000"})
    checked = check_against_register(record_of(values), register)
    assert codes_on(checked, "targets.1.plan_number") == ["register:plan_not_on_number"]
    assert codes_on(checked, "ntt_contact.phone") == ["register:staff_mismatch"]
    assert not checked.fields["ntt_contact.department"].review
    unknown = check_against_register(record_of(dict(VALUES, contractor_name="株式会社大阪電機")), register)
    assert codes_on(unknown, "contractor_name") == ["register:contractor_unknown"]
    assert unknown.register["targets"][0]["holder"] == "other"
    stranger = check_against_register(record_of(dict(VALUES, **{"ntt_contact.name": "森 学"})), register)
    assert not stranger.review_needed and stranger.register["ntt_contact"] == {"in_directory": False}


# -- the register as evidence for the reader ------------------------------------------------


def doubted(key: str, value: str, reason: Reason, candidates) -> FieldReading:
    return FieldReading(key, value, 0.5, (reason.naming(key),), None, tuple(candidates))


def test_a_doubt_the_ink_and_the_register_both_settle_is_lifted(register):
    key = "targets.0.teledome_number"
    # The readers disagree (1284 / 1234); the contractor holds 1234, which the ink gives 40%.
    tel = doubted(key, "0180-99-1284", Reason.of("readers_disagree", first="1284", second="1234"), [("0180-99-1284", 0.6), ("0180-99-1234", 0.4)])
    checked = check_against_register(record_of(**{key: tel}), register)
    assert checked.fields[key].value == "0180-99-1234" and not checked.review_needed
    assert checked.register["settled"] == [{"field": key, "read": "0180-99-1284", "registered": "0180-99-1234",
                                            "support": 0.4}]
    # Only low confidence, and the pair as read is held: the doubt is lifted, the value unchanged.
    low = doubted(key, "0180-99-1234", Reason.of("low_confidence", confidence=0.982), [("0180-99-1234", 0.98)])
    assert not check_against_register(record_of(**{key: low}), register).review_needed


def test_a_registered_number_the_ink_does_not_support_is_never_put_in(register):
    key = "targets.0.teledome_number"
    weak = doubted(key, "0180-99-1284", Reason.of("readers_disagree", first="1284", second="1264"), [("0180-99-1284", 0.9), ("0180-99-1234", 0.05)])
    checked = check_against_register(record_of(**{key: weak}), register)
    assert checked.fields[key].value == "0180-99-1284" and checked.register["settled"] == []
    assert "register:number_not_held" in codes_on(checked, key)
    # A confident reading (the customer's own wrong number) stays as written and flagged.
    sure = FieldReading(key, "0180-99-1284", 0.9999, (), None, (("0180-99-1284", 0.6), ("0180-99-1234", 0.4)))
    checked = check_against_register(record_of(**{key: sure}), register)
    assert checked.fields[key].value == "0180-99-1284" and "register:number_not_held" in codes_on(checked, key)
    # A doubt that is not the readers' (a broken digit) is not the register's to settle.
    broken = doubted(key, "0180-99-1234", Reason.of("digit_broken"), [("0180-99-1234", 1.0)])
    assert check_against_register(record_of(**{key: broken}), register).fields[key].review


def test_two_registered_candidates_settle_nothing(tmp_path):
    contracts = write(tmp_path / "c.csv", HEADER + "\n株式会社山田商事,0180-99-1234,4-1111-22\n"
                                                   "株式会社山田商事,0180-99-1284,4-1111-22\n")
    key = "targets.0.teledome_number"
    tel = doubted(key, "0180-99-1284", Reason.of("readers_disagree", first="1284", second="1234"), [("0180-99-1284", 0.6), ("0180-99-1234", 0.4)])
    values = dict(VALUES, **{"targets.1.teledome_number": None, "targets.1.plan_number": None})
    checked = check_against_register(record_of(values, **{key: tel}), load_register(contracts))
    assert checked.fields[key].review and checked.register["settled"] == []


# -- configuration and reloading -----------------------------------------------------------------


def test_the_config_file_and_the_environment_name_the_files(tmp_path, monkeypatch, register_files):
    monkeypatch.delenv("INTAKE_CONTRACTS", raising=False)
    monkeypatch.delenv("INTAKE_STAFF", raising=False)
    assert configured_paths(None, None, tmp_path) == (None, None)
    (tmp_path / "config.toml").write_text('[register]\ncontracts = "contracts.csv"\nstaff = "staff.csv"\n')
    assert configured_paths(None, None, tmp_path) == register_files
    monkeypatch.setenv("INTAKE_CONTRACTS", "/elsewhere/c.csv")
    assert configured_paths(None, None, tmp_path)[0] == Path("/elsewhere/c.csv")
    assert configured_paths("given.csv", None, tmp_path)[0] == Path("given.csv")
    (tmp_path / "config.toml").write_text("[register\n")
    monkeypatch.delenv("INTAKE_CONTRACTS")
    with pytest.raises(RegisterError, match="not valid TOML"):
        configured_paths(None, None, tmp_path)


def test_a_changed_file_is_reloaded_and_a_bad_change_keeps_the_last_good_version(register_files, caplog):
    contracts, staff = register_files
    source = RegisterSource(contracts, staff)
    first = source.current()
    assert source.current() is first  # unchanged files are not read again
    with contracts.open("a", encoding="utf-8") as f:
        f.write("株式会社大阪電機,0180-99-2468,4-2222-33\r\n")
    second = source.current()
    assert second.version.sha256 != first.version.sha256 and "0180-99-2468" in second.holders
    with contracts.open("a", encoding="utf-8") as f:
        f.write("株式会社神戸電機,0180-99-2468,4-2222-33\r\n")  # a second holder: refused
    assert source.current() is second
    assert "register_invalid" in caplog.text and "神戸" not in caplog.text and "0180" not in caplog.text


# -- the store keeps the register object and its version ------------------------------------------


def test_the_store_keeps_the_register_object_and_upgrades_an_old_store(tmp_path, register, monkeypatch):
    monkeypatch.setenv("INTAKE_LANG", "ja")
    from intake.store import MIGRATIONS, Store

    old = tmp_path / "old.db"
    db = sqlite3.connect(old)
    for v in range(3):
        db.executescript(MIGRATIONS[v])
    db.execute("PRAGMA user_version = 3")
    db.close()
    checked = check_against_register(record_of(dict(VALUES, **{"targets.1.teledome_number": "0180-99-0000"})), register)
    with Store(old) as store:
        [rid] = store.save_file("cd" * 32, "fax.tif", [checked])
        stored = store.get_record(rid)
        version = store.db.execute("SELECT register_version FROM records").fetchone()[0]
    assert stored.to_json()["register"] == json.loads(json.dumps(checked.register))
    assert version == f"{register.version.sha256}@{register.version.loaded}"
    from intake.export import review_csv_text

    sheet = review_csv_text([stored]).splitlines()
    assert "register_contractor" in sheet[0] and "1: 契約者の番号; 2: どの契約者の番号でもない" in sheet[1]


# -- generated registers and the real pipeline ------------------------------------------------------


def test_the_generated_register_loads_and_its_truth_holds(tmp_path):
    from samplegen.register import make_register
    from samplegen.values import random_values

    rng = np.random.default_rng(11)
    rows = [{"file": f"fax_{i:04d}.tif", "records": [{"page": 1, "fields": random_values(rng).truth}]} for i in range(300)]
    truth = make_register(rows, 11, tmp_path)
    register = load_register(tmp_path / "contracts.csv", tmp_path / "staff.csv")
    assert 0.02 <= sum(t["asks_unheld"] for t in truth.values()) / len(truth) <= 0.12
    holders = {"contractor", "other", "none"}
    seen = set()
    for row in rows:
        fields = row["records"][0]["fields"]
        contractor, how = register.match_contractor(fields["contractor_name"])
        # A contractor whose only number went to another party is not in the register at all.
        assert how == "exact" or set(truth[row["file"]]["targets"].values()) == {"other"}
        for i, want in truth[row["file"]]["targets"].items():
            number = fields[f"targets.{i}.teledome_number"]
            got = "contractor" if register.holds(contractor, number) else "other" if number in register.holders else "none"
            assert got == want
            seen.add(got)
        checked = check_against_register(record_of(fields), register)
        assert any(t["holder"] != "contractor" for t in checked.register["targets"]) == truth[row["file"]]["asks_unheld"]
    assert seen == holders


def test_scan_with_a_register_on_a_real_fax(tmp_path):
    row = json.loads((SAMPLES / "truth.jsonl").read_text(encoding="utf-8").splitlines()[0])
    fields = row["records"][0]["fields"]
    held = [f"{fields['contractor_name']},{fields[f'targets.{i}.teledome_number']},{fields[f'targets.{i}.plan_number']}"
            for i in range(4) if fields[f"targets.{i}.teledome_number"]]
    good = write(tmp_path / "good.csv", "\n".join([HEADER, *held]) + "\n")
    other = write(tmp_path / "other.csv", "\n".join([HEADER, "株式会社別会社" + held[0][held[0].index(","):], *held[1:]]) + "\n")

    def scan(contracts):
        proc = subprocess.run([sys.executable, "-m", "intake", "-v", "scan", "--json", "--contracts", str(contracts),
                               str(SAMPLES / row["file"])], capture_output=True, text=True, cwd=REPO, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout), proc.stderr

    record, _ = scan(good)
    assert record["register"]["contractor"]["registered"] == fields["contractor_name"]
    assert all(t["holder"] == "contractor" for t in record["register"]["targets"])
    assert not any(r["code"].startswith("register:") for r in record["review"]["reasons"])
    record, log = scan(other)
    assert record["fields"]["targets.0.teledome_number"]["review"] and record["review"]["needed"]
    assert "register:number_held_by_other" in [r["code"] for r in record["review"]["reasons"]]
    assert record["register"]["targets"][0]["registered_holder"] == "株式会社別会社"
    assert "別会社" not in log and fields["targets.0.teledome_number"] not in log


def test_the_watcher_reads_its_register_from_the_config_file(tmp_path):
    data, inbox = tmp_path / "data", tmp_path / "inbox"
    data.mkdir()
    inbox.mkdir()
    row = json.loads((SAMPLES / "truth.jsonl").read_text(encoding="utf-8").splitlines()[1])
    fields = row["records"][0]["fields"]
    write(data / "contracts.csv", f"{HEADER}\n{fields['contractor_name']},0180-99-0000,4-0000-00\n")
    (data / "config.toml").write_text('[register]\ncontracts = "contracts.csv"\n')
    (inbox / "fax.tif").write_bytes((SAMPLES / row["file"]).read_bytes())
    os.utime(inbox / "fax.tif", (0, 0))
    proc = subprocess.run([sys.executable, "-m", "intake", "watch", str(inbox), "--once", "--settle", "0",
                           "--db", str(data / "intake.db")], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    from intake.store import Store

    with Store(data / "intake.db") as store:
        [record] = store.records()
    assert record.register["contractor"]["match"] == "exact"
    assert record.review_state == "pending"
    assert all(t["holder"] == "none" for t in record.register["targets"])
    (data / "config.toml").write_text('[register]\ncontracts = "missing.csv"\n')
    proc = subprocess.run([sys.executable, "-m", "intake", "watch", str(inbox), "--once", "--db", str(data / "intake.db")],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2 and "[register_invalid]" in proc.stderr


def test_fields_keep_their_alternatives_through_calibration_and_reasons():
    reading = FieldReading("k", "1", 0.5, (), None, (("1", 0.7), ("7", 0.3)))
    assert reading.with_reason(Reason.of("low_confidence", "k")).candidates == reading.candidates
    assert replace(reading, confidence=0.9).candidates == reading.candidates


def test_a_name_the_register_confirms_word_for_word_loses_the_readers_doubts(register):
    name = FieldReading("contractor_name", "株式会社山田商事", 0.4, (Reason.of("low_confidence", "contractor_name", confidence=0.4),))
    contact = FieldReading("ntt_contact.name", "清水 聡", 0.5, (Reason.of("text_name_unknown", "ntt_contact.name"),))
    checked = check_against_register(record_of(**{"contractor_name": name, "ntt_contact.name": contact}), register)
    assert not checked.review_needed
    assert {s["field"] for s in checked.register["settled"]} == {"contractor_name", "ntt_contact.name"}
    # Not when a row asks for a number the contractor does not hold, nor when the directory disagrees.
    values = dict(VALUES, **{"targets.1.teledome_number": "0180-99-4321", "ntt_contact.phone": "03-9999-9999"})
    checked = check_against_register(record_of(values, **{"contractor_name": name, "ntt_contact.name": contact}), register)
    assert checked.fields["contractor_name"].review and checked.fields["ntt_contact.name"].review
    # Only what the directory holds and agrees with is confirmed: 田中 花子 has no phone there.
    tanaka = dict(VALUES, **{"ntt_contact.name": "田中 花子", "ntt_contact.department": "第一営業部門"})
    phone = FieldReading("ntt_contact.phone", "03-1111-2222", 0.5, (Reason.of("low_confidence", "ntt_contact.phone"),))
    checked = check_against_register(record_of(tanaka, **{"ntt_contact.phone": phone}), register)
    assert checked.fields["ntt_contact.phone"].review and checked.register["ntt_contact"]["compared"] == [
        "ntt_contact.department"]
    # A rule's reason is never lifted.
    ruled = FieldReading("contractor_name", "株式会社山田商事", 0.99, (Reason.of("rule:required", "contractor_name"),))
    assert check_against_register(record_of(**{"contractor_name": ruled}), register).fields["contractor_name"].review


def test_the_benchmark_counts_what_the_register_catches_and_what_it_would_invent(tmp_path, template):
    from bench.score import RegisterScore
    from test_store import VALUES as FULL

    contracts = write(tmp_path / "c.csv", f"{HEADER}\n加藤開発株式会社,0180-99-9395,4-7276-03\n"
                                          "加藤開発株式会社,0180-99-5304,4-2607-88\n株式会社別会社,0180-99-1111,4-1111-11\n")
    score = RegisterScore(load_register(contracts))
    held = {"targets": {"0": "contractor", "1": "contractor"}, "asks_unheld": False}
    clean = record_of(FULL)
    score.add_record(template, clean, FULL, held)
    # A form asking for another contractor's number: flagged, so caught.
    other = dict(FULL, **{"targets.1.teledome_number": "0180-99-1111"})
    score.add_record(template, record_of(other), other, {"targets": {"0": "contractor", "1": "other"}, "asks_unheld": True})
    # A reading that turned the customer's unheld number into a registered one, unflagged: counted as invented.
    unheld = dict(FULL, **{"targets.1.teledome_number": "0180-99-5305"})
    score.add_record(template, record_of(FULL), unheld, {"targets": {"0": "contractor", "1": "none"}, "asks_unheld": True})
    assert (score.asks_unheld, score.caught, score.clean, score.clean_straight_checked) == (2, 1, 1, 1)
    assert [i[1:] for i in score.invented] == [("targets.1.teledome_number", "0180-99-5305", "0180-99-5304")]
    assert score.score.records == 3 and "flagged 1 of 2" in score.lines()[0]
