"""Typed forms: the generator's typed population, the print-or-hand decision and the print reader,
on real generated faxes read end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from samplegen import generate, typed

needs_print_fonts = pytest.mark.skipif(
    bool(typed.missing_fonts("typed")[0] or typed.missing_fonts("typed-dev")[0]),
    reason="Debian print fonts not installed (bash scripts/install.sh --test installs them)")

DIGIT_KINDS = ("comb_digits", "date", "time", "phone")


@pytest.fixture(scope="module")
def pipeline():
    from intake.pipeline import Pipeline

    return Pipeline()


def _measure_typed():
    """training/measure_typed.py, the decision's measurement, as a module."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "training" / "measure_typed.py"
    spec = importlib.util.spec_from_file_location("measure_typed", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_print_fonts
def test_typed_forms_record_how_they_were_typed_and_repeat_byte_for_byte(tmp_path):
    rows = generate(tmp_path / "a", 6, seed=31, writers="typed", formats=["tiff-g4"])
    again = generate(tmp_path / "b", 6, seed=31, writers="typed", formats=["tiff-g4"])
    assert [(tmp_path / "a" / r["file"]).read_bytes() for r in rows] == [(tmp_path / "b" / r["file"]).read_bytes() for r in again]
    looks = [r["typed"] for r in rows]
    assert {t["font"] for t in looks} <= set(typed.HELD_OUT_FONTS)
    assert all(9 <= t["size_pt"] <= 14 and t["comb"] in ("cells", "string") for t in looks)
    assert "typed" in json.loads((tmp_path / "a" / "truth.jsonl").read_text(encoding="utf-8").splitlines()[0])
    dev = generate(tmp_path / "dev", 6, seed=31, writers="typed-dev", formats=["tiff-g4"])
    assert {r["typed"]["font"] for r in dev} <= set(typed.DEV_FONTS)
    assert not set(typed.DEV_FONTS) & set(typed.HELD_OUT_FONTS)


def test_a_missing_print_font_names_the_package_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(typed.HELD_OUT_FONTS, "VLGothic", str(tmp_path / "absent.ttf"))
    with pytest.raises(FileNotFoundError, match="apt-get install -y .*fonts-vlgothic"):
        generate(tmp_path / "out", 1, seed=1, writers="typed")
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_the_cli_says_which_print_font_packages_are_missing(tmp_path, monkeypatch, capsys):
    from samplegen.__main__ import main

    monkeypatch.setitem(typed.DEV_FONTS, "IPAGothic", str(tmp_path / "absent.ttf"))
    assert main(["--out", str(tmp_path / "out"), "--count", "1", "--writers", "typed-dev"]) == 2
    assert "apt-get install -y fonts-ipafont-gothic" in capsys.readouterr().err


@needs_print_fonts
def test_the_decision_says_print_for_typed_fields_and_hand_for_handwritten_ones(tmp_path, template):
    decisions = _measure_typed().decisions
    taken = {}
    for writers in ("typed", "test"):
        rows = generate(tmp_path / writers, 2, seed=77, writers=writers, formats=["tiff-g4"])
        taken[writers] = decisions(tmp_path / writers, rows, [template])
        assert len(taken[writers]) > 10
    assert np.mean(taken["typed"]) >= 0.9
    assert np.mean(taken["test"]) <= 0.05


@needs_print_fonts
def test_a_typed_form_is_read_right_end_to_end(tmp_path, pipeline, template):
    """Digits (in cells and typed across them), dates, times, phones, weekdays and marks of typed forms
    in held-out print fonts: every value the reader passes unflagged is right, and nearly all pass."""
    from intake.kinds import KINDS

    rows = generate(tmp_path, 3, seed=2026, writers="typed", formats=["tiff-g4"],
                    overrides={i: {"resolution": "fine", "flip": False, "extra_pages": []} for i in (1, 2, 3)})
    assert {r["typed"]["comb"] for r in rows} == {"cells", "string"}
    passed = wrong_passed = digits = digits_right = 0
    for row in rows:
        truth = row["records"][0]["fields"]
        record = pipeline.process_file(tmp_path / row["file"]).records[0]
        for spec in template.fields:
            got, want = record.fields[spec.key], truth[spec.key]
            group = KINDS[spec.kind].bench_group
            if group == "digits" and want is not None:
                digits += 1
                digits_right += got.value == want
            if group in ("digits", "weekday", "marks") and not got.review:
                passed += 1
                wrong_passed += got.value != want
    assert wrong_passed == 0
    assert digits_right >= 0.85 * digits


def test_the_installer_installs_every_print_font_package_and_file_the_generator_uses():
    from pathlib import Path

    script = (Path(__file__).resolve().parents[1] / "scripts" / "install.sh").read_text(encoding="utf-8")
    assert all(p in script for p in typed.PRINT_FONT_PACKAGES)
    checked = [p for fonts, _ in typed.POPULATIONS.values() for p in fonts.values() if p in script]
    assert len(checked) >= len(typed.PRINT_FONT_PACKAGES)  # at least one file per package is checked for


def test_a_missing_or_broken_print_digit_model_is_an_engine_error_naming_its_rebuild(tmp_path):
    from intake.errors import EngineError
    from intake.readers.engines.onnx_digits import OnnxDigitClassifier

    hint = "python training/train_print_digits.py"
    with pytest.raises(EngineError, match="print-digit model.*train_print_digits"):
        OnnxDigitClassifier(tmp_path / "print_digits.onnx", what="print-digit model", rebuild=hint)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx model")
    broken.with_suffix(".json").write_text('{"classes": ["0","1","2","3","4","5","6","7","8","9","reject"]}', encoding="utf-8")
    with pytest.raises(EngineError, match="train_print_digits"):
        OnnxDigitClassifier(broken, what="print-digit model", rebuild=hint).load()
