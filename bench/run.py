"""Generate a fresh seeded fax set, run each engine configuration over it, print one table.

    python -m bench [--count 200] [--seed 424242] [--configs product,tesseract-baseline] [--layouts full|mixed|...] [--whole-page]
                    [--register] [--errors] [--errors-dir DIR] [--json FILE]

Configurations share the whole pipeline (ingest, classify, align, marks,
validation) and differ only in the recognition engines, so the comparison is
about reading, not plumbing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

from bench.score import RegisterScore, Score, table
from intake.errors import ExitCode, IntakeError
from intake.pipeline import Pipeline
from intake.readers import Engines, default_engines


def engine_configs() -> dict:
    """Named engine line-ups; each is built lazily so a missing engine fails only its own column."""

    def tesseract_baseline() -> Engines:
        from intake.readers.engines.tesseract import TesseractTextRecogniser

        # The naive baseline: Tesseract on the aligned crops, digits by whitelist, no second reader.
        tess = TesseractTextRecogniser(lang="jpn")
        digits = TesseractTextRecogniser(lang="eng", psm=7)
        return Engines(text=tess, digits_ocr=digits, digits_cnn=None)

    def ppocr_only() -> Engines:
        e = default_engines()
        return Engines(text=e.text, digits_ocr=e.digits_ocr, digits_cnn=None, lexicon=e.lexicon)

    def cnn_only() -> Engines:
        e = default_engines()
        return Engines(text=e.text, digits_ocr=None, digits_cnn=e.digits_cnn, lexicon=e.lexicon)

    def no_lexicon() -> Engines:
        # The product without the Japanese lexicon: text is PP-OCR's own best reading.
        e = default_engines()
        return Engines(text=e.text, digits_ocr=e.digits_ocr, digits_cnn=e.digits_cnn)

    def tesseract_text() -> Engines:
        from intake.readers.engines.tesseract import TesseractTextRecogniser

        # The product's digit readers with Tesseract jpn for text and weekday, to compare text engines.
        e = default_engines()
        return Engines(text=TesseractTextRecogniser(lang="jpn"), digits_ocr=e.digits_ocr, digits_cnn=e.digits_cnn)

    def crnn_cross() -> Engines:
        from intake.readers.engines.onnx_sequence import OnnxSequenceReader

        # The product with the bundled CRNN in PP-OCR's place as the digits' cross-check.
        e = default_engines()
        return Engines(text=e.text, digits_ocr=OnnxSequenceReader(), digits_cnn=e.digits_cnn, lexicon=e.lexicon)

    return {"product": default_engines, "crnn-cross": crnn_cross, "ppocr-only": ppocr_only, "cnn-only": cnn_only, "no-lexicon": no_lexicon,
            "tesseract-text": tesseract_text, "tesseract-baseline": tesseract_baseline}


def run_config(name: str, make_engines, folder: Path, truth_rows: list[dict], pipeline_templates,
               errors_dir: Path | None = None, checked: RegisterScore | None = None,
               register_truth: dict | None = None) -> Score:
    """Score one configuration; with ``checked``, the same records are also checked against the register."""
    score = Score()
    pipeline = Pipeline(pipeline_templates, make_engines())
    template = {t.id: t for t in pipeline_templates}
    for row in truth_rows:
        path = folder / row["file"]
        truth_by_page = {r["page"]: r["fields"] for r in row["records"]}
        kinds = {p["page"]: p["kind"] for p in row["pages"]}
        by_layout = score.by_layout[row.get("layout", "full")]
        by_layout[0] += len(truth_by_page)
        started = time.perf_counter()
        try:
            result = pipeline.process_file(path, received=dt.date.fromisoformat(row["received"]))
        except IntakeError as exc:
            score.unreadable_files += 1
            score.missing_records += len(truth_by_page)
            by_layout[1] += len(truth_by_page)
            print(f"  {name}: {row['file']}: {exc}", file=sys.stderr)
            continue
        score.seconds += time.perf_counter() - started
        score.pages += len(row["pages"])
        found = {}
        for record in result.records:
            found[record.source.page] = record
        for page, kind in kinds.items():
            if kind != "form":
                score.non_form_pages += 1
                score.skipped_right += page not in found
        for page, record in found.items():
            if page not in truth_by_page:
                score.extra_records += 1
                continue
            before = len(score.errors)
            score.add_record(template[record.form], record.to_json(), truth_by_page[page])
            if checked is not None:
                checked.add_record(template[record.form], record, truth_by_page[page], register_truth[row["file"]])
            if errors_dir is not None:
                save_error_crops(errors_dir / name, record, score.errors[before:])
        score.missing_records += len(set(truth_by_page) - set(found))
        by_layout[1] += len(set(truth_by_page) - set(found))
    return score


INDEX_HEADER = ["file", "page", "field", "truth", "read", "confidence", "crop"]


def clear_error_crops(folder: Path) -> None:
    """Remove what an earlier run wrote to ``folder`` (its index and field images, nothing else)."""
    if (folder / "index.csv").is_file():
        for png in folder.glob("*.png"):
            png.unlink()
        (folder / "index.csv").unlink()


def save_error_crops(folder: Path, record, errors: list[tuple]) -> None:
    """The aligned field image of each unflagged wrong value, and a line per value in ``index.csv``,
    so the failures can be looked at rather than only counted."""
    if not errors:
        return
    import csv

    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    index = folder / "index.csv"
    new = not index.exists()
    with index.open("a", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        if new:
            out.writerow(INDEX_HEADER)
        for file, key, want, got, conf in errors:
            crop = record.crops.get(key)
            name = f"{Path(file).stem}_p{record.source.page}_{key}.png"
            if crop is not None and crop.size:
                cv2.imwrite(str(folder / name), crop)
            else:
                name = ""
            out.writerow([Path(file).name, record.source.page, key, want, got, f"{conf:.4f}", name])


def whole_page_tesseract_seconds(folder: Path, truth_rows: list[dict], limit: int = 5) -> float:
    """Seconds per page for Tesseract jpn over the whole page: the naive alternative to field reading."""
    import pytesseract

    from intake.ingest import load_pages

    pages, seconds = 0, 0.0
    for row in truth_rows[:limit]:
        for page in load_pages(folder / row["file"]):
            started = time.perf_counter()
            pytesseract.image_to_string(page.image, lang="jpn", config="--psm 3")
            seconds += time.perf_counter() - started
            pages += 1
    return seconds / max(1, pages)


def _layouts(spec: str) -> list[str]:
    from samplegen.layout import parse

    try:
        return parse(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--count", type=int, default=200, help="faxes to generate (default 200)")
    ap.add_argument("--seed", type=int, default=424242, help="generator seed (use one you never tuned on)")
    ap.add_argument("--configs", default="product,tesseract-baseline", help=f"comma-separated, from: {', '.join(engine_configs())}")
    ap.add_argument("--writers", choices=["test", "fonts"], default="test",
                    help="test: the evaluation hands (held-out MNIST, bundled fonts, KanjiVG); fonts: Debian handwriting "
                         "fonts nothing was fitted on (scripts/install.sh --test installs them; without them the run "
                         "says which packages to install)")
    ap.add_argument("--layouts", type=_layouts, default=["full"],
                    help="how the forms are put on paper: full (default: the form at its size, comparable with earlier "
                         "figures), mixed (70%% full, the rest reduced/enlarged prints, two to a sheet, cut edges) or a "
                         "comma-separated list (see python -m samplegen --help); prints form pages missed per layout")
    ap.add_argument("--dir", type=Path, default=None, help="keep the generated set here (default: a temporary folder)")
    ap.add_argument("--whole-page", action="store_true", help="also time Tesseract jpn over whole pages")
    ap.add_argument("--errors", action="store_true", help="list every unflagged wrong value (field keys and values)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    ap.add_argument("--register", action="store_true",
                    help="also generate a contract register and staff directory for the set (a few per cent of forms "
                         "ask for a number the contractor does not hold) and score the records checked against it")
    ap.add_argument("--errors-dir", type=Path, default=None,
                    help="write the field image of every unflagged wrong value here, with an index.csv, per configuration")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
    add_arguments(ap)
    return run(ap.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    import samplegen
    from intake.template import load_templates

    templates = load_templates()
    configs = engine_configs()
    chosen = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in chosen if c not in configs]
    if unknown:
        print(f"bench: unknown config(s) {unknown}; choose from {', '.join(configs)}", file=sys.stderr)
        return int(ExitCode.bad_args)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.dir or Path(tmp)
        started = time.perf_counter()
        try:
            rows = samplegen.generate(folder, args.count, args.seed, writers=args.writers, layouts=args.layouts)
        except FileNotFoundError as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return int(ExitCode.bad_args)
        hands = "unseen writers" if args.writers == "test" else "handwriting fonts nothing was fitted on"
        print(f"generated {len(rows)} faxes (seed {args.seed}, {hands}) in {time.perf_counter() - started:.1f}s", file=sys.stderr)
        register_truth, registers = None, {}
        if args.register:
            from intake.register import load_register
            from samplegen.register import make_register

            register_truth = make_register(rows, args.seed, folder / "register")
            loaded = load_register(folder / "register" / "contracts.csv", folder / "register" / "staff.csv")
            registers = {name: RegisterScore(loaded) for name in chosen}
        scores = {}
        for name in chosen:
            print(f"running {name} ...", file=sys.stderr)
            if args.errors_dir is not None:
                clear_error_crops(args.errors_dir / name)
            scores[name] = run_config(name, configs[name], folder, rows, templates, args.errors_dir,
                                      registers.get(name), register_truth)
            if name in registers:
                checked = registers[name].score
                # The check reads nothing: the pages, their time and classification are the run's own.
                for shared in ("pages", "seconds", "non_form_pages", "skipped_right", "missing_records", "by_layout",
                               "extra_records", "unreadable_files"):
                    setattr(checked, shared, getattr(scores[name], shared))
                scores[f"{name} + register"] = checked
        print(table(scores))
        for name, checked in registers.items():
            print(f"\nwith the register, {name}:")
            for line in checked.lines():
                print(f"  {line}")
            for file, key, want, got in checked.invented:
                print(f"  invented: {file} {key}: truth {want!r} read {got!r}")
        if args.whole_page:
            s = whole_page_tesseract_seconds(folder, rows)
            ours = scores[chosen[0]].seconds / max(1, scores[chosen[0]].pages)
            print(f"\nTesseract jpn over whole pages: {s:.2f} s/page; {chosen[0]}: {ours:.2f} s/page ({s / max(ours, 1e-9):.1f}x faster)")
        if args.errors:
            for name, s in scores.items():
                print(f"\nunflagged wrong values, {name}:")
                for file, key, want, got, conf in s.errors:
                    print(f"  {file} {key}: truth {want!r} read {got!r} (confidence {conf:.2f})")
        if args.json:
            args.json.write_text(json.dumps({n: {k: v for k, v in vars(s).items() if k != "errors"} for n, s in scores.items()}, default=dict, indent=1))
    return int(ExitCode.ok)
