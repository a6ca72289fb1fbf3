"""Calibrated confidence: turn each reader's raw score into a measured chance of being right, and flag
any reading below its review threshold. A digit field's raw score is its posterior share after the
record's evidence (``intake.evidence``), so a disagreement the evidence settled passes, and one it
did not is flagged here, naming the values that compete.

The mapping and thresholds live in ``intake/models/calibration.json``, fitted by
``training/calibrate.py`` on a generated validation set (never the benchmark set):
per field kind, an isotonic (monotone) curve from raw score to the share of
readings that were right, and the lowest raw score at which the wrong readings
that would pass stay below the target rate. A field read as blank has a score of
a different nature (how sure we are that nothing is written), so blanks are
calibrated apart, as ``<kind>:blank``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import numpy as np

from intake.errors import EngineError
from intake.kinds import KINDS
from intake.model import FieldReading
from intake.reasons import Reason
from intake.template import Template

CALIBRATION_FILE = "calibration.json"


@dataclass(frozen=True)
class KindCalibration:
    """Raw-score knots and the measured share right at each, plus the review threshold (on raw score)."""

    raw: tuple[float, ...]
    right: tuple[float, ...]
    threshold: float

    def calibrated(self, raw_score: float) -> float:
        if not self.raw:
            return raw_score
        return float(np.interp(raw_score, self.raw, self.right))


@dataclass(frozen=True)
class Calibration:
    kinds: dict[str, KindCalibration]
    source: str = ""

    def for_kind(self, kind: str) -> KindCalibration | None:
        return self.kinds.get(kind)


def load_calibration(path: str | Path | None = None) -> Calibration:
    """The bundled calibration (or the file at ``path``); an empty one if none is bundled."""
    try:
        if path is None:
            text = resources.files("intake.models").joinpath(CALIBRATION_FILE).read_text(encoding="utf-8")
            source = f"intake/models/{CALIBRATION_FILE}"
        else:
            text = Path(path).read_text(encoding="utf-8")
            source = str(path)
    except FileNotFoundError:
        if path is not None:
            raise EngineError(f"calibration file {path} not found") from None
        return Calibration({}, "none")
    data = json.loads(text)
    kinds = {k: KindCalibration(tuple(v["raw"]), tuple(v["right"]), float(v["threshold"])) for k, v in data["kinds"].items()}
    return Calibration(kinds, source)


def calibration_key(kind: str, value) -> str:
    """Which calibration a reading uses: its field kind's, or ``<kind>:blank`` when read as blank."""
    return KINDS[kind].calibration_key(value)


DISPUTED = ":disputed"


def reading_key(kind: str, reading: FieldReading) -> str:
    """The calibration table a reading is scored against: its kind's (``calibration_key``), apart
    for a digit reading the two readers disagreed on (``<kind>:disputed``), whose posterior rests
    on the record's evidence more than on the readers and is right at another rate."""
    key = calibration_key(kind, reading.value)
    if reading.value is not None and any(n.code == "readers_disagree" for n in reading.notes):
        return key + DISPUTED
    return key


def apply_calibration(readings: dict[str, FieldReading], template: Template, calibration: Calibration) -> dict[str, FieldReading]:
    """Calibrated confidences, and a review reason on every value read below its kind's threshold.

    A reading with candidates (a digit field's posterior, ``intake.evidence``) that falls below
    says which values compete (``low_posterior``); any other says only that it is unsure.
    """
    out = {}
    for spec in template.fields:
        reading = readings[spec.key]
        key = reading_key(spec.kind, reading)
        cal = calibration.for_kind(key) or calibration.for_kind(key.removesuffix(DISPUTED))
        if cal is None:
            out[spec.key] = reading
            continue
        raw = reading.confidence
        calibrated = replace(reading, confidence=cal.calibrated(raw))
        if raw < cal.threshold:
            # Still in doubt: what the evidence chose is no settlement.
            notes = tuple(n for n in calibrated.notes if n.code != "settled_by_evidence")
            calibrated = replace(calibrated, notes=notes).with_reason(_doubt(calibrated))
        out[spec.key] = calibrated
    return out


# How many competing values a low-posterior reason names (likeliest first).
COMPETING_SHOWN = 3


def _doubt(reading: FieldReading) -> Reason:
    confidence = round(reading.confidence, 4)
    if not reading.candidates:
        return Reason.of("low_confidence", reading.key, confidence=confidence)
    competing = " / ".join(str(v) for v, _ in reading.candidates[:COMPETING_SHOWN])
    return Reason.of("low_posterior", reading.key, confidence=confidence, candidates=competing)
