"""The benchmark per writer population, the previous product's column, and timing as the desk runs it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bench import heldout
from bench.scan import REPO, checkout
from bench.score import Score, table
from intake.pipeline import Pipeline

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.fixture(scope="module")
def sample():
    row = json.loads((SAMPLES / "truth.jsonl").read_text(encoding="utf-8").splitlines()[0])
    pipeline = Pipeline()
    record = pipeline.process_file(SAMPLES / row["file"]).records[0].to_json()
    truth = next(r["fields"] for r in row["records"] if r["page"] == record["source"]["page"])
    return pipeline.templates[0], record, truth


def test_digit_fields_are_scored_per_population_and_the_worst_named(sample):
    template, record, truth = sample
    score = Score()
    right = {**record, "review": {"needed": False, "reasons": []},
             "fields": {k: {**f, "value": truth.get(k), "review": False} for k, f in record["fields"].items()}}
    key = "targets.0.plan_number"
    wrong = {**right, "fields": {**right["fields"], key: {**right["fields"][key], "value": "4-0000-00"}}}
    score.add_record(template, right, truth, "mnist")
    score.add_record(template, wrong, truth, "blocky")
    digits = score.fields["digits"][0] // 2
    assert score.by_population["mnist"] == [digits, digits, 0, 0]
    assert score.by_population["blocky"] == [digits, digits - 1, 0, 1]
    assert score.worst_population() == ("blocky", (digits - 1) / digits)
    printed = table({"product": score})
    assert "digits, blocky: wrong and unflagged" in printed and "digits, worst population" in printed
    assert "blocky " + f"{100 * (digits - 1) / digits:.1f}%" in printed
    # Both forms break no rule as filled in; the one with a wrong value went straight through all the same.
    assert (score.records_passable, score.straight_through_passable) == (2, 2)


def test_held_out_populations_are_told_from_the_models_records(tmp_path):
    (tmp_path / "digits.json").write_text(json.dumps({"training_mix": str({"harvest": {"writers": "train"}})}))
    (tmp_path / "calibration.json").write_text(json.dumps({"fitted_on": {"writers": "test"}}))
    (tmp_path / "other.json").write_text(json.dumps({"classes": ["0", "1"]}))
    assert heldout.seen_by("train", tmp_path) == ["digits"]
    assert heldout.seen_by("kanjivg", tmp_path) == ["calibration"]
    assert heldout.seen_by("mnist", tmp_path) == ["calibration"]  # held-out MNIST is in the test mix
    assert heldout.seen_by("blocky", tmp_path) == [] and heldout.seen_by("fonts", tmp_path) == []
    assert any("blocky: held out" in line for line in heldout.lines(["blocky"], tmp_path))


def test_without_git_the_previous_column_says_why(tmp_path):
    assert "no git repository" in checkout("HEAD", tmp_path / "tree", repo=tmp_path)
    if (REPO / ".git").exists():
        assert "git archive no-such-revision" in checkout("no-such-revision", tmp_path / "tree2")


def test_a_tiny_run_prints_population_rows_previous_and_desk_timing(tmp_path, capsys):
    """Two faxes by two populations; the previous product is this very commit, so its figures must match."""
    from bench.run import main

    has_git = (REPO / ".git").exists() and subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"],
                                                           capture_output=True).returncode == 0
    figures_path = tmp_path / "figures.json"
    assert main(["--count", "2", "--seed", "5", "--writers", "populations", "--configs", "product",
                 "--previous", "HEAD", "--dir", str(tmp_path / "set"), "--json", str(figures_path)]) == 0
    out = capsys.readouterr().out
    rows = [json.loads(line) for line in (tmp_path / "set" / "truth.jsonl").read_text().splitlines()]
    assert sorted(r["writers"] for r in rows) == ["blocky", "mnist"]
    for population in ("blocky", "mnist"):
        assert f"digits, {population}: exactly right" in out
        assert f"{population}: " in out.split("who saw these writers")[1]
    assert "digits, worst population" in out
    assert "straight through of those a perfect reader passes" in out
    assert "blocky: held out" in out
    figures = json.loads(figures_path.read_text())
    product = figures["product"]
    assert set(product["by_population"]) == {"blocky", "mnist"}
    assert sum(b[0] for b in product["by_population"].values()) == product["fields"]["digits"][0]
    desk = figures["desk_timing"]
    assert desk["product"]["form_pages"] == 2 and desk["product"]["pages"] == sum(len(r["pages"]) for r in rows)
    assert desk["product"]["cpu_per_form_page"] > 0 and desk["product"]["wall_per_form_page"] > 0
    assert desk["tesseract jpn, whole page"]["pages"] >= 2
    assert "faster in wall time" in out
    if has_git:
        # HEAD's tree may lack uncommitted work, but reads the same committed models: the same records.
        assert figures["previous"]["records"] == 2
        assert figures["previous"]["fields"]["digits"][0] == product["fields"]["digits"][0]
        assert "previous" in desk and "previous: " in out
    else:
        assert "previous: no column (no git repository" in out


def test_cpu_time_counts_workers_the_scanned_process_never_waits_for(tmp_path):
    """As intake scan's worker processes: a grandchild that burns CPU and is never waited for."""
    import sys
    import time

    from bench.scan import TreeCPU, children_cpu

    done = tmp_path / "done"
    burn = (f"import pathlib, time\nt = time.process_time()\nwhile time.process_time() - t < 0.6: pass\n"
            f"time.sleep(0.3)\npathlib.Path({str(done)!r}).touch()")
    parent = (f"import pathlib, subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {burn!r}])\n"
              f"while not pathlib.Path({str(done)!r}).exists(): time.sleep(0.05)")
    before = children_cpu()
    proc = subprocess.Popen([sys.executable, "-c", parent])
    with TreeCPU(proc.pid) as tree:
        proc.wait()
    time.sleep(0.1)
    assert children_cpu() - before < 0.4  # rusage never hears of the grandchild...
    assert tree.seconds >= 0.5  # ...the samples do
