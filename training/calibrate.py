"""Fit calibrated confidences and review thresholds on a generated validation set.

    python training/calibrate.py [--count 240] [--seed 60601] [--target 0.001] [--jobs 2] [--cache FILE]

The validation faxes are written by TRAINING writers (``--writers train``: the hands the
models learnt from, never the benchmark's held-out ones) with a seed no benchmark uses:
thresholds are chosen here and measured there, on writers they never saw.

The faxes are read once (``--cache`` keeps the readers' readings, so a refit after a change to
the evidence or the thresholds reads nothing again); each record is then taken through the
evidence stage and validation as the product does, and per calibration key the raw score (a
digit field's posterior share) is fitted to the share right, with the lowest threshold at
which at most ``--target`` of the fields it passes are wrong, tightened by ``--margin``.

Writes ``intake/models/calibration.json`` and ``docs/tradeoff.png`` (share of
records straight through against share with an unflagged wrong value, as the
thresholds move).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import pickle
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.score import GROUPS, normalise_text  # noqa: E402
from intake.confidence import DISPUTED, Calibration, reading_key  # noqa: E402
from intake.evidence import settle  # noqa: E402
from intake.model import Record  # noqa: E402
from intake.pipeline import Pipeline, flag_off_page  # noqa: E402
from intake.readers.number_decoding import PROBABILITY_FLOOR  # noqa: E402
from intake.template import load_templates  # noqa: E402
from intake.validate import validate_record  # noqa: E402


# Disputed readings get a table of their own only where the validation set holds this many.
MIN_DISPUTED = 50


@dataclass
class Obs:
    record: int
    kind: str
    raw: float
    right: bool
    flagged_otherwise: bool  # flagged by structure or a rule, whatever the threshold


class ReadOnly(Pipeline):
    """The pipeline up to the readers: records carry the readers' readings (and page-edge flags),
    before evidence, calibration and validation."""

    def decide(self, aligned, template, readings, received=None):
        readings = flag_off_page(readings, aligned, template.working_dpi)
        return Record(aligned.source, template.id, readings, (), aligned.quality)


def read_all(folder: Path, rows: list[dict], jobs: int = 1) -> list[tuple[dict, dict, dt.date]]:
    """(truth, readers' readings, day received) for every form page of the validation set, read
    by ``jobs`` processes (each loads its own models)."""
    if jobs > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(jobs) as pool:
            parts = pool.starmap(read_all, [(folder, rows[i::jobs]) for i in range(jobs)])
        return [item for part in parts for item in part]
    pipeline = ReadOnly(calibration=Calibration({}, "raw"))
    out = []
    for row in rows:
        truth = {r["page"]: r["fields"] for r in row["records"]}
        received = dt.date.fromisoformat(row["received"])
        for rec in pipeline.process_file(folder / row["file"], received=received).records:
            if rec.source.page in truth:
                out.append((truth[rec.source.page], rec.fields, received))
    return out


def collect(read: list[tuple[dict, dict, dt.date]], template) -> tuple[list[Obs], dict[int, bool]]:
    """Each record through evidence and validation as the product takes it (no thresholds yet)."""
    kinds = {f.key: f.kind for f in template.fields}
    obs, record_level = [], {}
    for n, (want, readings, received) in enumerate(read):
        fields, record_reasons = validate_record(template, settle(readings, template, received))
        record_level[n] = bool(record_reasons)
        for key, f in fields.items():
            kind = kinds[key]
            if GROUPS[kind] == "text":
                right = normalise_text(f.value) == normalise_text(want[key])
            else:
                right = f.value == want[key]
            obs.append(Obs(n, reading_key(kind, f), float(f.confidence), right, f.review))
    return obs, record_level


def isotonic(raw: np.ndarray, right: np.ndarray, knots: int = 12) -> tuple[list[float], list[float]]:
    """Pool-adjacent-violators fit of P(right | raw), summarised at a few knots."""
    order = np.argsort(raw)
    x, y = raw[order], right[order].astype(float)
    blocks = [[y[i], 1.0, x[i]] for i in range(len(y))]  # mean, weight, last x
    merged: list[list[float]] = []
    for b in blocks:
        merged.append(b)
        while len(merged) > 1 and merged[-2][0] > merged[-1][0]:
            m2, m1 = merged.pop(), merged.pop()
            w = m1[1] + m2[1]
            merged.append([(m1[0] * m1[1] + m2[0] * m2[1]) / w, w, m2[2]])
    xs = [b[2] for b in merged]
    ys = [b[0] for b in merged]
    if len(xs) > knots:
        idx = np.linspace(0, len(xs) - 1, knots).round().astype(int)
        xs, ys = [xs[i] for i in idx], [ys[i] for i in idx]
    return [round(float(v), 4) for v in xs], [round(float(v), 4) for v in ys]


def choose_threshold(obs: list[Obs], target: float, margin: float) -> float:
    """Lowest raw threshold at which at most ``target`` of the fields it passes (those not flagged
    otherwise) are wrong, then moved ``margin`` up in log-odds: writers never seen will be read
    somewhat worse than the validation writers."""
    passing = sorted(((o.raw, o.right) for o in obs if not o.flagged_otherwise), reverse=True)
    wrong, threshold = 0, 1.0
    for i, (raw, right) in enumerate(passing):
        wrong += not right
        last = i + 1 == len(passing) or passing[i + 1][0] < raw  # a threshold passes all of one score
        if last and wrong <= target * (i + 1):
            threshold = raw
    if threshold <= passing[-1][0] if passing else True:
        return 0.0
    return _logistic(_logit(threshold) + margin) if margin else threshold


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return float(np.log(p / (1 - p)))


def _logistic(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def fit(obs: list[Obs], target: float, margin: float = 0.0) -> dict[str, dict]:
    by_kind: dict[str, list[Obs]] = defaultdict(list)
    for o in obs:
        by_kind[o.kind].append(o)
    out = {}
    for kind, items in by_kind.items():
        if kind.endswith(DISPUTED) and len(items) < MIN_DISPUTED:
            continue  # too few to fit apart: scored against the kind's own table
        raw = np.array([o.raw for o in items])
        right = np.array([o.right for o in items])
        xs, ys = isotonic(raw, right)
        out[kind] = {"raw": xs, "right": ys, "threshold": round(choose_threshold(items, target, margin), 6),
                     "n": len(items), "accuracy": round(float(right.mean()), 4)}
    return out


def evaluate(obs: list[Obs], record_level: dict[int, bool], kinds: dict[str, dict]) -> tuple[float, float]:
    """(share straight through, share with an unflagged wrong value) under these thresholds."""
    flagged, unflagged_wrong = defaultdict(bool), defaultdict(bool)
    for o in obs:
        table = kinds.get(o.kind) or kinds.get(o.kind.removesuffix(DISPUTED)) or {"threshold": 0.0}
        f = o.flagged_otherwise or o.raw < table["threshold"]
        flagged[o.record] |= f
        unflagged_wrong[o.record] |= (not o.right) and not f
    n = len(record_level)
    straight = sum(1 for r in record_level if not flagged[r] and not record_level[r]) / n
    wrong = sum(1 for r in record_level if unflagged_wrong[r]) / n
    return straight, wrong


def plot(points: list[tuple[float, float, float]], chosen: tuple[float, float], path: Path) -> None:
    """A small line chart drawn with OpenCV (no plotting library needed)."""
    w, h, m = 760, 520, 70
    img = np.full((h, w, 3), 255, np.uint8)
    max_x = max(0.05, max(p[2] for p in points) * 1.1)

    def xy(straight, wrong):
        return int(m + wrong / max_x * (w - 2 * m)), int(h - m - straight * (h - 2 * m))

    cv2.rectangle(img, (m, m), (w - m, h - m), (0, 0, 0), 1)
    for i in range(0, 11, 2):
        y = int(h - m - i / 10 * (h - 2 * m))
        cv2.putText(img, f"{i * 10}%", (m - 45, y + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        x = int(m + i / 10 * (w - 2 * m))
        cv2.putText(img, f"{max_x * i / 10:.1%}", (x - 18, h - m + 20), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    pts = sorted(points, key=lambda p: p[2])
    for a, b in zip(pts, pts[1:]):
        cv2.line(img, xy(a[1], a[2]), xy(b[1], b[2]), (200, 80, 0), 2, cv2.LINE_AA)
    for p in pts:
        cv2.circle(img, xy(p[1], p[2]), 3, (200, 80, 0), -1)
    cv2.circle(img, xy(*chosen), 7, (0, 0, 220), 2)
    cv2.putText(img, "records straight through (y) vs records with an unflagged wrong value (x)", (m, 40),
                cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "held-out half of the validation set; red ring = shipped thresholds", (m, 58),
                cv2.FONT_HERSHEY_SIMPLEX, 0.4, (80, 80, 80), 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=240)
    ap.add_argument("--seed", type=int, default=60601, help="a validation seed no benchmark uses")
    ap.add_argument("--target", type=float, default=0.001, help="allowed share of wrong readings among those a kind passes")
    ap.add_argument("--margin", type=float, default=1.0, help="log-odds each threshold is raised beyond the fit")
    ap.add_argument("--cache", type=Path, help="keep the readers' readings here (read once, refit freely)")
    ap.add_argument("--jobs", type=int, default=2, help="processes reading the validation faxes")
    ap.add_argument("--out", type=Path, default=REPO / "intake" / "models" / "calibration.json")
    ap.add_argument("--plot", type=Path, default=REPO / "docs" / "tradeoff.png")
    args = ap.parse_args(argv)
    import samplegen

    started, cpu = time.perf_counter(), time.process_time()
    key = {"seed": args.seed, "count": args.count, "writers": "train", "floor": PROBABILITY_FLOOR}
    read = None
    if args.cache is not None and args.cache.exists():
        cached = pickle.loads(args.cache.read_bytes())
        read = cached["read"] if cached.get("key") == key else None
    if read is None:
        with tempfile.TemporaryDirectory() as tmp:
            rows = samplegen.generate(tmp, args.count, args.seed, writers="train")
            read = read_all(Path(tmp), rows, args.jobs)
        if args.cache is not None:
            args.cache.write_bytes(pickle.dumps({"key": key, "read": read}))
    template = load_templates()[0]
    obs, record_level = collect(read, template)
    print(f"{len(record_level)} validation records in {time.perf_counter() - started:.0f}s "
          f"({time.process_time() - cpu:.0f} CPU s)", file=sys.stderr)

    # Trade-off curve, honestly: thresholds fitted on one half, measured on the other.
    half = {r for r in record_level if r % 2 == 0}
    fit_obs = [o for o in obs if o.record in half]
    eval_obs = [o for o in obs if o.record not in half]
    eval_records = {r: v for r, v in record_level.items() if r not in half}
    points = []
    for target in (0.0, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2):
        kinds = fit(fit_obs, target, args.margin)
        straight, wrong = evaluate(eval_obs, eval_records, kinds)
        points.append((target, straight, wrong))
        print(f"target {target:<7} straight through {straight:6.1%}  unflagged wrong records {wrong:6.1%}", file=sys.stderr)
    chosen_kinds = fit(fit_obs, args.target, args.margin)
    chosen = evaluate(eval_obs, eval_records, chosen_kinds)
    plot(points, chosen, args.plot)

    kinds = fit(obs, args.target, args.margin)
    straight, wrong = evaluate(obs, record_level, kinds)
    data = {"fitted_on": {"generator_seed": args.seed, "faxes": args.count, "records": len(record_level), "writers": "train"},
            "target_wrong_among_passed_per_kind": args.target, "margin_log_odds": args.margin,
            "validation": {"straight_through": round(straight, 4), "records_with_unflagged_wrong": round(wrong, 4),
                           "held_out_half": {"straight_through": round(chosen[0], 4), "records_with_unflagged_wrong": round(chosen[1], 4)}},
            "kinds": kinds}
    args.out.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    for kind, k in kinds.items():
        print(f"{kind:18s} n={k['n']:5d} accuracy {k['accuracy']:.3f} threshold {k['threshold']:.6f}", file=sys.stderr)
    print(f"wrote {args.out} and {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
