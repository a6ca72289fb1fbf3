"""The benchmark's scoring and its gallery of unflagged wrong values, on a committed sample fax."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.run import clear_error_crops, save_error_crops
from bench.score import Score, needs_review_as_written
from intake.model import record_json
from intake.pipeline import Pipeline
from intake.readers.number_decoding import NumberReading, combine
from intake.reasons import Reason

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.fixture(scope="module")
def sample_record():
    row = json.loads((SAMPLES / "truth.jsonl").read_text(encoding="utf-8").splitlines()[0])
    result = Pipeline().process_file(SAMPLES / row["file"])
    record = result.records[0]
    truth = next(r["fields"] for r in row["records"] if r["page"] == record.source.page)
    return record, truth


def test_a_wrong_value_counts_against_the_product_only_if_unflagged(sample_record):
    record, truth = sample_record
    template = Pipeline().templates[0]
    key = "targets.0.plan_number"
    for review in (False, True):
        made = record.to_json()
        made["fields"] = {k: {**f, "value": truth.get(k), "review": False} for k, f in made["fields"].items()}
        made["fields"][key] = {**made["fields"][key], "value": "4-0000-00", "review": review}
        made["review"] = {**made["review"], "needed": review}
        score = Score()
        score.add_record(template, made, truth)
        n, right, flagged, unflagged_wrong = score.fields["digits"]
        assert (n - right, flagged, unflagged_wrong) == (1, int(review), int(not review))
        assert score.records_unflagged_wrong == int(not review)
        assert score.straight_through == int(not review)
        assert [e[1] for e in score.errors] == ([] if review else [key])


def test_a_record_held_back_by_a_digit_reader_disagreement_is_counted(sample_record):
    record, truth = sample_record
    template = Pipeline().templates[0]
    disputed = combine(NumberReading("1234", 0.99, (), tuple(np.eye(10)[[1, 2, 3, 4]])),
                       NumberReading("1284", 0.99, (), tuple(np.eye(10)[[1, 2, 8, 4]])))
    assert disputed.disputed == ("1234", "1284") and not disputed.reasons
    note = Reason.of("readers_disagree", "targets.0.teledome_number", first="1234", second="1284")
    counts = []
    for reasons, notes in (([], []), ([], [note]), ([note], []),
                           ([Reason.of("not_a_date", "stop.date", value="2026-13-01")], [])):
        made = record_json(record.source.to_json(), record.form, bool(reasons), reasons,
                           {k: (f.value, f.confidence, f.review) for k, f in record.fields.items()}, notes=notes)
        score = Score()
        score.add_record(template, made, truth)
        counts.append(score.records_with_disagreement)
    assert counts == [0, 1, 1, 0]


def test_a_form_filled_against_the_rules_needs_review_even_if_read_perfectly(sample_record):
    _, truth = sample_record
    template = Pipeline().templates[0]
    filled_well = {**truth, "notify.before_stop.customer": True, "notify.before_stop.sales": False}
    assert not needs_review_as_written(template, filled_well)
    assert needs_review_as_written(template, {**filled_well, "notify.before_stop.sales": None})
    weekdays = "月火水木金土日"
    stop = dt.date.fromisoformat(filled_well["stop.date"])
    wrong_day = weekdays[(stop.weekday() + 1) % 7]
    assert needs_review_as_written(template, {**filled_well, "stop.weekday": wrong_day})


def test_error_gallery_holds_the_field_image_and_a_line_per_value(sample_record, tmp_path):
    record, _ = sample_record
    key = next(k for k, img in record.crops.items() if img.size)
    file = record.source.file
    save_error_crops(tmp_path, record, [(file, key, "4-1234-56", "4-1284-56", 1.0)])
    rows = list(csv.DictReader((tmp_path / "index.csv").open(encoding="utf-8")))
    assert [(r["field"], r["truth"], r["read"]) for r in rows] == [(key, "4-1234-56", "4-1284-56")]
    saved = cv2.imread(str(tmp_path / rows[0]["crop"]), cv2.IMREAD_GRAYSCALE)
    assert np.array_equal(saved, record.crops[key])
    (tmp_path / "keep.txt").write_text("not the benchmark's")
    clear_error_crops(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


@pytest.mark.skipif(bool(__import__("samplegen.assets", fromlist=["x"]).missing_system_fonts()),
                    reason="Debian handwriting fonts not installed (bash scripts/install.sh --test installs them)")
def test_bench_on_handwriting_fonts_nothing_was_fitted_on(tmp_path, capsys):
    from bench.run import main

    assert main(["--count", "2", "--seed", "3", "--writers", "fonts", "--configs", "product", "--no-scan-timing", "--dir", str(tmp_path),
                 "--json", str(tmp_path / "figures.json")]) == 0
    assert json.loads((tmp_path / "manifest.json").read_text())["writers"] == "fonts"
    figures = json.loads((tmp_path / "figures.json").read_text())["product"]
    assert figures["records"] == 2
    # Two faxes hold about 30 digit fields; the product reads most of them right in a hand it never saw.
    total, right = figures["fields"]["digits"][:2]
    assert total >= 20 and right >= 0.8 * total
    assert "writers: fonts" in capsys.readouterr().err
