"""The command-line contract of ``intake scan``, run as a real subprocess on the committed samples."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from conftest import CONTRACT_KEYS, REPO
from intake.messages import CATALOGUE, field_labels, render
from intake.reasons import Reason

SAMPLES = REPO / "samples"
FORMATS = {
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "time": re.compile(r"^\d{2}:\d{2}$"),
    "teledome": re.compile(r"^0180-99-\d{4}$"),
    "plan": re.compile(r"^4-\d{4}-\d{2}$"),
    "phone": re.compile(r"^0\d{1,4}-\d{1,4}-\d{3,4}$"),
}


def _scan(*args):
    return subprocess.run([sys.executable, "-m", "intake", "scan", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=300)


@pytest.fixture(scope="module")
def truth():
    return [json.loads(line) for line in (SAMPLES / "truth.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def scanned(truth):
    files = [SAMPLES / row["file"] for row in truth]
    # The samples' dates run from 2026 to 2028: as if received mid-2027, their two-digit
    # years all lie within the template's year window.
    proc = _scan("--json", "--received", "2027-06-01", *files)
    return proc, [json.loads(line) for line in proc.stdout.splitlines()]


def test_one_json_line_per_form_page_in_input_order(truth, scanned):
    proc, records = scanned
    assert proc.returncode == 0, proc.stderr
    expected = [(str(SAMPLES / row["file"]), r["page"]) for row in truth for r in row["records"]]
    assert [(r["source"]["file"], r["source"]["page"]) for r in records] == expected


def test_every_record_follows_the_contract(scanned):
    _, records = scanned
    for r in records:
        assert set(r) == {"source", "form", "review", "fields"}
        assert r["form"] == "teledome_stop_request"
        assert re.fullmatch(r"[0-9a-f]{64}", r["source"]["sha256"])
        assert isinstance(r["review"]["needed"], bool)
        for reason in r["review"]["reasons"]:  # reasons are data, with the desk's words beside them
            assert set(reason) == {"code", "fields", "values", "message"}
            assert reason["code"] in CATALOGUE["ja"] and set(reason["fields"]) <= set(r["fields"])
            assert isinstance(reason["values"], dict) and reason["message"]
        assert list(r["fields"]) == CONTRACT_KEYS
        for key, f in r["fields"].items():
            assert set(f) == {"value", "confidence", "review"}
            assert 0.0 <= f["confidence"] <= 1.0
            v = f["value"]
            if v is None:
                continue
            if key.endswith(".date") or key == "sent_date":
                assert FORMATS["date"].match(v)
            elif key.endswith(".time"):
                assert FORMATS["time"].match(v)
            elif key.endswith("teledome_number"):
                assert FORMATS["teledome"].match(v)
            elif key.endswith("plan_number"):
                assert FORMATS["plan"].match(v)
            elif key.endswith(".phone"):
                assert FORMATS["phone"].match(v)
            elif key.endswith(".weekday"):
                assert v in "月火水木金土日"
            elif key.startswith(("notify.", "office_use.")) or key.endswith(".free"):
                assert isinstance(v, bool)
            else:
                assert isinstance(v, str) and v == v.strip()
        # Review is needed exactly when some reason is given.
        assert r["review"]["needed"] == bool(r["review"]["reasons"])


def test_samples_are_mostly_read_right(truth, scanned):
    """A floor just under what is measured (238 of 240 right, none wrong unflagged), so that a
    regression of a few fields fails here before the benchmark is run."""
    _, records = scanned
    by_page = {(str(SAMPLES / row["file"]), rec["page"]): rec["fields"] for row in truth for rec in row["records"]}
    right = total = unflagged_wrong = 0
    for r in records:
        want = by_page[(r["source"]["file"], r["source"]["page"])]
        for key, f in r["fields"].items():
            if key in ("contractor_name", "remarks") or key.endswith((".name", ".department")):
                continue
            total += 1
            ok = f["value"] == want[key]
            right += ok
            unflagged_wrong += (not ok) and not f["review"]
    assert right / total >= 0.98
    assert unflagged_wrong == 0


def test_bad_files_are_reported_and_the_rest_still_processed(truth):
    good = SAMPLES / truth[0]["file"]
    proc = _scan("--json", SAMPLES / "bad" / "empty.tif", good, SAMPLES / "bad" / "not_a_pdf.pdf", SAMPLES / "bad" / "truncated.tif")
    assert proc.returncode == 3
    lines = proc.stdout.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["source"]["file"] == str(good)
    assert "[empty_file]" in proc.stderr and "[unsupported_format]" in proc.stderr and "[corrupt_file]" in proc.stderr


def test_a_file_without_a_form(tmp_path, official_pages):
    from PIL import Image

    path = tmp_path / "privacy.png"
    Image.fromarray(official_pages[0].image).save(path)
    proc = _scan("--json", path)
    assert proc.returncode == 4 and proc.stdout == ""
    assert "skipped" in proc.stderr and "no form page found" in proc.stderr


def test_human_summary_speaks_japanese_and_english_on_request(truth, scanned):
    """The summary lists every review reason of the JSON record, in Japanese by default, English by a switch."""
    path = SAMPLES / truth[0]["file"]
    [record] = [r for r in scanned[1] if r["source"]["file"] == str(path)]
    assert record["review"]["reasons"], "the first sample is expected to hold something to review"
    labels = field_labels(record["form"])
    for lang, heading in (("ja", "確認理由:"), ("en", "reasons:")):
        proc = _scan("--received", "2027-06-01", "--lang", lang, path)
        assert proc.returncode == 0, proc.stderr
        assert "teledome_stop_request" in proc.stdout
        # Japanese names each field by its printed label (the target rows by their row), English by its key.
        assert ("対象1 テレドーム番号" if lang == "ja" else "targets.0.teledome_number") in proc.stdout
        listed = proc.stdout.split(heading, 1)[1].splitlines()[1:]
        want = [render(Reason.from_json(r), lang, labels) for r in record["review"]["reasons"]]
        assert [line.strip().removeprefix("- ") for line in listed] == want
    # The JSON's messages are the Japanese ones.
    assert [r["message"] for r in record["review"]["reasons"]] == [
        render(Reason.from_json(r), "ja", labels) for r in record["review"]["reasons"]]


def test_template_show_draws_the_boxes(tmp_path):
    out = tmp_path / "boxes.png"
    proc = subprocess.run([sys.executable, "-m", "intake", "template", "show", "--out", str(out)], capture_output=True,
                          text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    import cv2

    img = cv2.imread(str(out))
    assert img is not None and img.shape[:2] == (2339, 1654)
    # Coloured boxes were drawn on a greyscale form.
    assert (img[:, :, 0] != img[:, :, 2]).any()


def test_readme_exit_code_tables_match_the_exit_codes():
    """Every code a command may return is in README's tables, and the tables list no other."""
    from intake.errors import ExitCode

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    tables = re.findall(r"### Exit codes\n\n((?:\|.*\n)+)", readme)
    assert len(tables) == 2
    listed = [{int(m) for m in re.findall(r"^\| (\d+) \|", t, re.M)} for t in tables]
    assert set().union(*listed) == {int(c) for c in ExitCode}
