"""Collect labelled digit glyphs from generated faxes, cut out exactly as the runtime cuts them.

    python training/harvest_glyphs.py [--count 600] [--seed 9001] [--out training/harvest.npz]

MNIST digits never went through a fax machine, a ruled cell or our segmenter. This
script generates faxes with the *training* writers (MNIST 0..49,999 only, never the
evaluation writers' fonts or KanjiVG strokes), aligns each form page with the real
pipeline stages, and segments every number with the real reader code (comb cells as
``read_comb_digits`` cuts them, free-space numbers as the CNN's own
``segment_by_recognition`` cuts them). Where a number
splits into as many glyphs as the truth has digits, each glyph is labelled with its
digit and saved as the 28x28 image the CNN sees. ``train_digits.py --harvest`` mixes
them into training, so the network learns the fax channel and the segmentation
artefacts (cell-line stubs, clipped strokes, 98-dpi squash) from the real thing.

The free-space cuts are judged by the bundled CNN, so a harvest run after retraining
differs a little from the one before (the shipped model was trained on a harvest cut
with its predecessor). Needs no training extra: numpy, OpenCV and the product's own readers.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import samplegen  # noqa: E402
from intake.align import align_to_template  # noqa: E402
from intake.classify import classify_page  # noqa: E402
from intake.ingest import load_pages  # noqa: E402
from intake.readers.digits import read_comb_digits  # noqa: E402
from intake.readers.engines.onnx_digits import OnnxDigitClassifier  # noqa: E402
from intake.readers.glyph import normalise_glyph  # noqa: E402
from intake.readers.ink import added_ink, glyph_image  # noqa: E402
from intake.readers.segmentation import segment_by_recognition  # noqa: E402
from intake.template import load_templates  # noqa: E402


class RecordingClassifier:
    """The bundled CNN, keeping the glyphs of its latest call (the segmenter's real output)."""

    def __init__(self, inner: OnnxDigitClassifier):
        self.inner = inner
        self.last: list[np.ndarray] = []

    def classify(self, glyphs: list[np.ndarray]) -> np.ndarray:
        self.last = list(glyphs)
        return self.inner.classify(glyphs)


def spellings(kind: str, part: str, value: str) -> list[str]:
    """Digit strings a writer may have put in one part of a date, time or phone."""
    if kind == "date":
        y, m, d = value.split("-")
        n = {"year": y, "month": m, "day": d}[part]
        return [n[2:]] if part == "year" else [str(int(n)), n]
    if kind == "time":
        hh, mm = value.split(":")
        n = {"hour": hh, "minute": mm}[part]
        return [str(int(n)), n]
    return [dict(zip(("area", "local", "line"), value.split("-")))[part]]


def harvest_page(aligned, template, truth: dict, cnn: RecordingClassifier):
    """(glyph, digit) pairs from one aligned form page whose truth is ``truth``."""
    out = []
    for spec in template.fields:
        value = truth.get(spec.key)
        if not value:
            continue
        if spec.kind == "comb_digits":
            want = re.sub(r"\D", "", value)[-len(spec.cells):]
            cnn.last = []
            read_comb_digits(aligned, template, spec, cnn, None)
            if len(cnn.last) == len(want) == len(spec.cells):
                out += [(g, int(c)) for g, c in zip(cnn.last, want)]
        elif spec.kind in ("date", "time", "phone"):
            for part, box in spec.parts.items():
                mask, _ = added_ink(aligned, template, template.px(box), pad=2)
                boxes, _ = segment_by_recognition(mask, tuple(spec.digits[part]), cnn.classify)
                glyphs = [glyph_image(mask, b.x0, b.y0, b.x1, b.y1) for b in boxes]
                for want in spellings(spec.kind, part, value):
                    if len(glyphs) == len(want):
                        out += [(g, int(c)) for g, c in zip(glyphs, want)]
                        break
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=600)
    ap.add_argument("--seed", type=int, default=9001, help="generator seed; must differ from benchmark and calibration seeds")
    ap.add_argument("--out", type=Path, default=ROOT / "training" / "harvest.npz")
    ap.add_argument("--writers", choices=("train", "test"), default="train",
                    help="test: evaluation hands, to measure the CNN in situ; never train on them")
    args = ap.parse_args(argv)
    if args.writers == "train" and samplegen.assets.full_mnist_dir() is None:
        raise SystemExit(f"the training writers draw from every MNIST training digit: set {samplegen.assets.FULL_MNIST_ENV} "
                         "to a folder with the original MNIST files (samplegen/data/README.md says where they come from)")

    started = time.perf_counter()
    templates = load_templates()
    by_id = {t.id: t for t in templates}
    cnn = RecordingClassifier(OnnxDigitClassifier())
    images, labels, fax_ids = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        rows = samplegen.generate(Path(tmp), args.count, args.seed, writers=args.writers)
        for i, row in enumerate(rows):
            truths = iter(r["fields"] for r in row["records"])
            for page in load_pages(Path(tmp) / row["file"]):
                c = classify_page(page, templates)
                if c.form is None:
                    continue
                truth = next(truths, None)
                template = by_id[c.form]
                aligned = align_to_template(page, c, template)
                if truth is None or not aligned.ok:
                    continue
                for glyph, digit in harvest_page(aligned, template, truth, cnn):
                    images.append((normalise_glyph(glyph) * 255).round().astype(np.uint8))
                    labels.append(digit)
                    fax_ids.append(i)
            if (i + 1) % 50 == 0:
                print(f"{i + 1}/{len(rows)} faxes, {len(labels)} glyphs, {time.perf_counter() - started:.0f}s", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, images=np.stack(images), labels=np.array(labels, np.int64), fax=np.array(fax_ids, np.int32))
    meta = {"generator_seed": args.seed, "faxes": args.count, "writers": args.writers, "glyphs": len(labels),
            "per_digit": np.bincount(labels, minlength=10).tolist()}
    args.out.with_suffix(".json").write_text(json.dumps(meta) + "\n", encoding="utf-8")
    print(json.dumps(meta))
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
