"""Calibration: raw scores map monotonically to measured accuracy, and low readings get flagged."""

from __future__ import annotations

import json

import pytest

from intake.confidence import Calibration, KindCalibration, apply_calibration, load_calibration
from intake.model import FieldReading
from intake.reasons import Reason


def test_readings_below_threshold_are_flagged_with_their_calibrated_confidence(template):
    cal = Calibration({"weekday": KindCalibration((0.2, 0.6, 0.9), (0.3, 0.7, 0.99), threshold=0.8)})
    readings = {f.key: FieldReading(f.key, None, 0.99) for f in template.fields}
    readings["stop.weekday"] = FieldReading("stop.weekday", "水", 0.6)
    readings["resume.weekday"] = FieldReading("resume.weekday", "金", 0.95)
    out = apply_calibration(readings, template, cal)
    assert out["stop.weekday"].review and abs(out["stop.weekday"].confidence - 0.7) < 1e-9
    assert out["stop.weekday"].reasons == (Reason.of("low_confidence", "stop.weekday", confidence=0.7),)
    assert not out["resume.weekday"].review and out["resume.weekday"].confidence == 0.99
    # Kinds without a calibration pass through untouched.
    assert out["sent_date"] == readings["sent_date"]


def test_bundled_calibration_is_monotone_and_covers_every_kind(template):
    cal = load_calibration()
    if not cal.kinds:
        pytest.skip("no calibration shipped: readings keep their raw scores")
    kinds = {f.kind for f in template.fields}
    assert kinds <= {k.split(":")[0] for k in cal.kinds}
    for k in cal.kinds.values():
        assert list(k.raw) == sorted(k.raw)
        assert all(b >= a - 1e-9 for a, b in zip(k.right, k.right[1:]))
        assert 0.0 <= k.threshold <= 1.0


def test_calibration_file_round_trip(tmp_path):
    path = tmp_path / "cal.json"
    path.write_text(json.dumps({"kinds": {"text": {"raw": [0.1, 0.9], "right": [0.2, 0.95], "threshold": 0.5}}}))
    cal = load_calibration(path)
    assert cal.for_kind("text").calibrated(0.5) == 0.575
    assert cal.for_kind("date") is None
