"""Digit accuracy of the CNN per writer population, on populations it never trained on.

    python training/probe_digits.py [--per 400] [--seed 4242] [--model intake/models/digits.onnx] [--json FILE]

Each population is a source of handwriting the digit model never saw in training:
held-out MNIST writers (images 55,000..59,999), each bundled handwriting font, KanjiVG
strokes, Debian's handwriting fonts, the generator's blocky tablet population
(``samplegen --writers blocky``), and robustness probes made from held-out sources:
blocky (drawn 10..16 px tall, thresholded and scaled up with nearest-neighbour, thickened), tablet
(KanjiVG strokes cut down to a few sampled pen points, marker-thick, low resolution),
faint (light ink that the fax threshold breaks up), overflow (part of the digit cut off
by the cell edge, with the cell rule in the crop) and slanted. Digits are drawn by the
sample generator's own hand code at fax size, laid on paper in a cell-sized crop and sent
through the generator's fax threshold, then read by the engine exactly as the runtime
reads a crop. A "reject" answer counts as wrong. This measures the glyph classifier
alone; field-level figures come from ``python -m bench``.

``--numbers N`` also reads whole numbers on N generated faxes of each of the generator's
single-population writers (``samplegen --writers``), through the real alignment and the
real digit reader code with the CNN alone (no cross-check), as
``training/measure_sequence.py`` does: the share of numbers read exactly right.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from intake.readers.engines.onnx_digits import OnnxDigitClassifier  # noqa: E402
from samplegen import assets, fax  # noqa: E402
from samplegen import handwriting as hw  # noqa: E402


def _writer(rng: np.random.Generator, source: str, font: str = "") -> hw.Writer:
    w = hw.Writer.random(rng, "test")
    w.digit_sources = (source,)
    w.mnist_range = assets.MNIST_TEST
    w.digit_font = font
    return w


def _blocky(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Drawn at 8..12 px, thresholded, scaled back up pixel by pixel, then thickened."""
    h, w = mask.shape
    small_h = int(rng.integers(10, 17))
    small = cv2.resize(mask, (max(2, round(w * small_h / h)), small_h), interpolation=cv2.INTER_AREA)
    small = (small > rng.uniform(0.2, 0.4)).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    return hw.pen_weight(big, int(rng.integers(0, 3)))


def _tablet(d: int, height: float, rng: np.random.Generator) -> np.ndarray:
    """KanjiVG digit strokes kept at a few sampled points, joined straight, marker pen, low-res."""
    strokes = []
    for st in assets.kanjivg_strokes(str(d)):
        length = float(np.linalg.norm(np.diff(st, axis=0), axis=1).sum())  # KanjiVG units, a digit ~90 tall
        k = max(2, int(round(length / rng.uniform(12, 18))) + 1)
        idx = np.unique(np.linspace(0, len(st) - 1, k).round().astype(int))
        strokes.append(st[idx] + rng.normal(0, 2.0, (len(idx), 2)))
    lo = float(rng.integers(12, 21))  # rendered this many px tall, then scaled up
    m = hw.strokes_mask(strokes, lo, max(1, int(round(lo / 9))), rng, jitter=0.5)
    m = (m > 0.4).astype(np.float32)
    m = cv2.resize(m, (max(2, round(m.shape[1] * height / m.shape[0])), int(height)), interpolation=cv2.INTER_NEAREST)
    return hw.pen_weight(m, int(rng.integers(0, 2)))


def _cell(mask: np.ndarray, ink: int, rng: np.random.Generator, overflow: bool = False) -> np.ndarray:
    """The digit on paper in a cell-sized crop (ink dark), through the fax threshold."""
    h, w = mask.shape
    ch, cw = int(h * rng.uniform(1.1, 1.4)), int(max(w, h * 0.6) * rng.uniform(1.2, 1.6))
    page = np.full((ch + 8, cw + 8), 255, np.uint8)
    x, y = (page.shape[1] - w) // 2, (page.shape[0] - h) // 2
    if overflow:  # the writer strayed: the crop edge (and its rule) cuts the digit
        side = int(rng.integers(4))
        cut = rng.uniform(0.1, 0.22)
        x += int(round([-1, 1, 0, 0][side] * (x + w * cut)))
        y += int(round([0, 0, -1, 1][side] * (y + h * cut)))
    hw.put(page, mask, x, y, ink)
    if overflow:
        t = int(rng.integers(2, 4))
        edge = [(slice(None), slice(0, t)), (slice(None), slice(-t, None)),
                (slice(0, t), slice(None)), (slice(-t, None), slice(None))][side]
        page[edge] = 0
    out = fax.binarise(page, rng)
    if rng.random() < 0.3:  # 98-dpi standard resolution: half the rows, blown back up
        half = cv2.resize(out, (out.shape[1], max(1, out.shape[0] // 2)), interpolation=cv2.INTER_AREA)
        out = cv2.resize(np.where(half < 128, 0, 255).astype(np.uint8), (out.shape[1], out.shape[0]), interpolation=cv2.INTER_NEAREST)
    return out


def population(name: str, n: int, rng: np.random.Generator) -> tuple[list[np.ndarray], list[int]]:
    crops, labels = [], []
    for _ in range(n):
        d = int(rng.integers(10))
        height = rng.uniform(30, 48)  # a digit in a 200-dpi comb cell or date gap
        overflow = False
        ink = None
        if name == "mnist-heldout":
            w = _writer(rng, "mnist")
            m = hw.digit(d, height, w, rng)
        elif name in assets.FONTS:
            w = _writer(rng, "font", name)
            m = hw.digit(d, height, w, rng)
        elif name == "kanjivg":
            w = _writer(rng, "kanjivg")
            m = hw.digit(d, height, w, rng)
        elif name == "debian-fonts":
            w = _writer(rng, "font", str(rng.choice(sorted(assets.SYSTEM_DIGIT_FONTS))))
            m = hw.digit(d, height, w, rng)
        elif name == "samplegen-blocky":  # the generator's evaluation population of that name
            w = hw.Writer.random(rng, "blocky")
            m = hw.digit(d, height, w, rng)
        elif name == "blocky":
            w = _writer(rng, "mnist")
            m = _blocky(hw.digit(d, height, w, rng), rng)
        elif name == "tablet":
            w = _writer(rng, "kanjivg")
            m = hw.warp(_tablet(d, height, rng), angle=rng.normal(0, 4), shear=w.slant)
        elif name == "faint":
            w = _writer(rng, str(rng.choice(["mnist", "kanjivg"])))
            m = hw.digit(d, height, w, rng)
            ink = int(rng.integers(90, 135))
        elif name == "overflow":
            w = _writer(rng, str(rng.choice(["mnist", "kanjivg"])))
            m = hw.digit(d, height, w, rng)
            overflow = True
        elif name == "slanted":
            w = _writer(rng, str(rng.choice(["mnist", "kanjivg"])))
            w.slant = float(rng.choice([-1, 1]) * rng.uniform(0.35, 0.6))
            m = hw.digit(d, height, w, rng)
        else:
            raise ValueError(name)
        crops.append(_cell(m, w.ink if ink is None else ink, rng, overflow))
        labels.append(d)
    return crops, labels


POPULATIONS = ("mnist-heldout", *assets.FONTS, "kanjivg", "debian-fonts", "samplegen-blocky", "blocky", "tablet", "faint", "overflow", "slanted")


NUMBER_POPULATIONS = ("mnist", "bundled-fonts", "kanjivg", "debian-fonts", "blocky")


def numbers_right(cnn: OnnxDigitClassifier, writers: str, count: int, seed: int) -> tuple[int, int]:
    """(numbers read exactly right by the CNN alone, numbers written) on ``count`` faxes of one population."""
    from measure_sequence import readings
    from train_sequence import aligned_forms, written_numbers

    right = total = 0
    for i, row, template, aligned in aligned_forms(seed, list(range(1, count + 1)), writers):
        written = written_numbers(seed, i, writers, template)
        for _key, truth, got in readings(aligned, template, written, {"cnn": (cnn, None)}, int(row["received"][:4])):
            total += 1
            right += got["cnn"] == truth
    return right, total


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per", type=int, default=400, help="digits per population")
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--numbers", type=int, default=0, help="also read whole numbers on this many faxes per population")
    ap.add_argument("--numbers-seed", type=int, default=626262, help="generator seed for --numbers (never trained or tuned on)")
    args = ap.parse_args(argv)
    cnn = OnnxDigitClassifier(args.model)
    table = {}
    for name in POPULATIONS:
        rng = np.random.default_rng([args.seed, zlib.crc32(name.encode())])  # adding a population changes no other
        crops, labels = population(name, args.per, rng)
        t0 = time.process_time()
        pred = cnn.classify(crops).argmax(1)
        ms = 1000 * (time.process_time() - t0) / len(crops)
        table[name] = {"accuracy": round(float((pred == np.array(labels)).mean()), 4),
                       "rejected": round(float((pred == cnn.reject_index).mean()), 4), "cpu_ms_per_glyph": round(ms, 3)}
        print(f"{name:<17} {100 * table[name]['accuracy']:6.2f}%  rejected {100 * table[name]['rejected']:5.2f}%  {ms:.2f} ms/glyph", flush=True)
    worst = min(table, key=lambda p: table[p]["accuracy"])
    print(f"worst: {worst} {100 * table[worst]['accuracy']:.2f}%")
    numbers = {}
    for name in NUMBER_POPULATIONS if args.numbers else ():
        right, total = numbers_right(cnn, name, args.numbers, args.numbers_seed)
        numbers[name] = {"numbers": total, "right": right, "accuracy": round(right / max(total, 1), 4)}
        print(f"numbers {name:<14} {100 * right / max(total, 1):6.2f}% of {total}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"seed": args.seed, "per": args.per, "model": str(cnn.model_path), "populations": table, "numbers": numbers}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
