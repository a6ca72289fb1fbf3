"""How far the digit readers' errors overlap, number by number, on held-out writers.

    python training/measure_sequence.py [--writers test|fonts] [--count 40] [--seed 515151] [--json FILE]

Generates faxes with evaluation writers the models never trained on, aligns each form
page with the real pipeline stages and reads every written comb number and every part
of a date, time or phone three times on the same crop, through the real reader code:
by the CNN alone, by PP-OCR alone and by the CRNN (``OnnxSequenceReader``) alone. Each
reading is compared with the digits the generator wrote there.

For each cross-check reader beside the CNN it counts: numbers both read wrong, numbers
both read as the same wrong value (what would pass unflagged) and numbers the pair
reads differently (what would be flagged); a number both read as nothing is neither.
Alone, a free-space cross-check reads the line of the segmenter's boxes; beside the
CNN it may be trimmed and fitted to the CNN's digit count, so the pipeline's own
figures come from ``python -m bench --configs product,crnn-cross``. Also prints each cross-check's milliseconds per number on one
thread.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_sequence import DIGITS, RecordingReader, aligned_forms, written_numbers  # noqa: E402

from intake.readers.digits import read_comb_digits, read_number  # noqa: E402
from intake.readers.engines.onnx_digits import OnnxDigitClassifier  # noqa: E402
from intake.readers.engines.onnx_sequence import OnnxSequenceReader  # noqa: E402
from intake.readers.engines.ppocr import PaddleTextRecogniser  # noqa: E402
from intake.readers.ink import added_ink  # noqa: E402


def readings(aligned, template, written: dict[str, str], readers: dict, received_year: int):
    """(key, truth, {reader name: text}) for every number written on the page; each reader
    is a (cnn, ocr) pair for the reader code, one of them None."""
    for spec in template.fields:
        if spec.kind == "comb_digits" and spec.key in written:
            got = {}
            for name, (cnn, ocr) in readers.items():
                value = read_comb_digits(aligned, template, spec, cnn, ocr).value
                got[name] = re.sub(r"\D", "", value)[-len(spec.cells):] if value else ""  # the cells, not the printed prefix
            yield spec.key, written[spec.key], got
        elif spec.kind in ("date", "time", "phone"):
            for part, box in spec.parts.items():
                key = f"{spec.key}/{part}"
                if key not in written:
                    continue
                mask, _ = added_ink(aligned, template, template.px(box), pad=2)
                allows = lambda text, part=part: spec.part_allows(part, text, received_year)  # noqa: E731
                got = {}
                for name, (cnn, ocr) in readers.items():
                    r = read_number(mask, tuple(spec.digits[part]), cnn, ocr, allows)
                    got[name] = r.text if r is not None else ""
                yield key, written[key], got


def ms_per_number(lines, crnn: OnnxSequenceReader, ppocr: PaddleTextRecogniser) -> dict[str, float]:
    """Milliseconds per line: each engine one line at a time, and the CRNN in batches of 16
    lines of like shape."""
    out = {}
    for name, engine in (("ppocr", ppocr), ("crnn", crnn)):
        engine.probabilities(lines[0])
        started = time.perf_counter()
        for line in lines:
            engine._last = None  # time the network, not the cache of the last line
            engine.probabilities(line)
        out[f"{name} ms/number"] = 1000 * (time.perf_counter() - started) / len(lines)
    by_width = sorted(lines, key=lambda x: x.shape[1] / x.shape[0])  # batches of like lines pad little
    started = time.perf_counter()
    for k in range(0, len(by_width), 16):
        crnn.probabilities_batch(by_width[k : k + 16])
    out["crnn ms/number at batch 16"] = 1000 * (time.perf_counter() - started) / len(lines)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--writers", choices=("test", "fonts"), default="test")
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--seed", type=int, default=515151, help="generator seed nothing was trained or tuned on")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    cnn = OnnxDigitClassifier()
    ppocr = PaddleTextRecogniser(threads=1)
    crnn = OnnxSequenceReader(threads=1)
    readers = {"cnn": (cnn, None), "ppocr": (None, ppocr), "crnn": (None, crnn)}
    recorder = RecordingReader()
    rows = []
    started = time.perf_counter()
    for i, row, template, aligned in aligned_forms(args.seed, list(range(1, args.count + 1)), args.writers):
        written = written_numbers(args.seed, i, args.writers, template)
        year = int(row["received"][:4])
        for key, truth, got in readings(aligned, template, written, readers, year):
            rows.append({"fax": i, "key": key, "truth": truth, **got})
        for _ in readings(aligned, template, written, {"lines": (None, recorder)}, year):
            pass
    n = len(rows)
    figures = {"writers": args.writers, "seed": args.seed, "faxes": args.count, "numbers": n}
    for name in ("cnn", "ppocr", "crnn"):
        figures[f"{name} right"] = sum(r[name] == r["truth"] for r in rows)
    for other in ("ppocr", "crnn"):
        wrong = [r for r in rows if r["cnn"] != r["truth"] and r[other] != r["truth"]]
        figures[f"cnn+{other} both wrong"] = len(wrong)
        # Both reading nothing is no agreement: a field with no value goes to review anyway.
        figures[f"cnn+{other} agree on a wrong value"] = sum(r["cnn"] == r[other] != "" for r in wrong)
        figures[f"cnn+{other} disagree"] = sum(r["cnn"] != r[other] for r in rows)
        figures[f"cnn+{other} disagree, cnn right"] = sum(r["cnn"] != r[other] and r["cnn"] == r["truth"] for r in rows)
        figures[f"cnn+{other} disagree, {other} right"] = sum(r["cnn"] != r[other] and r[other] == r["truth"] for r in rows)
    figures.update({k: round(v, 2) for k, v in ms_per_number(recorder.lines, crnn, ppocr).items()})
    figures["seconds"] = round(time.perf_counter() - started)
    width = max(len(k) for k in figures)
    for k, v in figures.items():
        share = f"  ({100 * v / n:.1f}%)" if isinstance(v, int) and k not in ("seed", "faxes", "numbers", "seconds") else ""
        print(f"{k:<{width}}  {v}{share}")
    if args.json:
        args.json.write_text(json.dumps({"figures": figures, "numbers": rows}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
