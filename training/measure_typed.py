"""Measure the print-or-hand decision (``intake.readers.typed.looks_typed``) on generated faxes.

    nice -n 19 python training/measure_typed.py --count 20 --seed 5150 --writers typed-dev,train
    nice -n 19 python training/measure_typed.py --count 20 --seed 5151 --writers typed,test,fonts

For every written digit field (comb numbers, and the parts of dates, times and phone numbers) it
says whether the field's ink was taken for print, and prints per population the share of typed
fields taken for handwriting (print-as-hand) and of handwritten ones taken for print
(hand-as-print). Tune only on ``typed-dev`` and ``train``; the others are for measuring.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from intake.align import align_to_template  # noqa: E402
from intake.classify import classify_page  # noqa: E402
from intake.ingest import load_pages  # noqa: E402
from intake.readers.digits import comb_ink, parts_ink  # noqa: E402
from intake.readers.typed import looks_typed, print_evidence, to_tuned_px  # noqa: E402
from intake.template import load_templates  # noqa: E402
from samplegen import generate, typed  # noqa: E402


def decisions(folder: Path, rows: list[dict], templates) -> list[bool]:
    """Whether each written digit field (or part) of the set was taken for print."""
    out = []
    for row in rows:
        truth = row["records"][0]["fields"]
        for page in load_pages(folder / row["file"]):
            c = classify_page(page, templates)
            if c.form is None:
                continue
            t = next(t for t in templates if t.id == c.form)
            aligned = align_to_template(page, c, t)
            scale = to_tuned_px(t)
            for spec in t.fields:
                if not truth.get(spec.key) or spec.kind not in ("comb_digits", "date", "time", "phone"):
                    continue
                if spec.kind == "comb_digits":
                    inks = [(comb_ink(aligned, t, spec)[0], (len(spec.cells),) * 2)]
                else:
                    inks = [(m, tuple(spec.digits[name])) for name, m in parts_ink(aligned, t, spec).items()]
                out += [looks_typed(print_evidence(m, scale), expected) for m, expected in inks if m.sum()]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--seed", type=int, default=5150)
    ap.add_argument("--writers", default="typed-dev,train")
    args = ap.parse_args(argv)
    templates = load_templates()
    print("population   fields  taken for print  wrong decision")
    for writers in args.writers.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            rows = generate(tmp, args.count, args.seed, writers=writers, formats=["tiff-g4", "tiff-g3", "pdf"])
            taken = decisions(Path(tmp), rows, templates)
        printed = writers in typed.POPULATIONS
        wrong = sum(t != printed for t in taken)
        what = "print-as-hand" if printed else "hand-as-print"
        print(f"{writers:11s} {len(taken):7d}  {sum(taken):15d}  {wrong} ({100 * wrong / max(1, len(taken)):.1f}% {what})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
