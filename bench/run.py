"""Generate a fresh seeded fax set, run each engine configuration over it, print one table.

    python -m bench [--count 200] [--seed 424242] [--writers test|populations|POPULATION] [--previous REV]
                    [--configs product,tesseract-baseline] [--layouts full|mixed|...] [--no-scan-timing] [--whole-page]
                    [--register] [--errors] [--errors-dir DIR] [--json FILE]

Configurations share the whole pipeline (ingest, classify, align, marks,
validation) and differ only in the recognition engines, so the comparison is
about reading, not plumbing. Digit fields are also scored per writer population
(the truth names who wrote each form), with the models that ever saw each one.
``--previous REV`` adds the product as of a git revision, run as its own ``intake
scan`` over the same files. Speed is also measured as the desk runs it: ``intake
scan`` over the batch, beside Tesseract jpn over whole pages.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.scan import REPO, ScanRun, checkout, describe, scan_batch
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

    def no_print_reader() -> Engines:
        # The product with typed digits read as handwriting, to measure what the print reader adds.
        return replace(default_engines(), print_digits=None)

    return {"product": default_engines, "no-print-reader": no_print_reader, "crnn-cross": crnn_cross, "ppocr-only": ppocr_only, "cnn-only": cnn_only, "no-lexicon": no_lexicon,
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
        started, cpu_started = time.perf_counter(), cpu_now()
        try:
            result = pipeline.process_file(path, received=dt.date.fromisoformat(row["received"]))
        except IntakeError as exc:
            unreadable(score, row)
            print(f"  {name}: {row['file']}: {exc}", file=sys.stderr)
            continue
        score.seconds += time.perf_counter() - started
        score.cpu_seconds += cpu_now() - cpu_started
        found = {record.source.page: record for record in result.records}
        for page, truth, writers, new_errors in score_file(score, row, {p: r.to_json() for p, r in found.items()}, template):
            if checked is not None:
                checked.add_record(template[found[page].form], found[page], truth, register_truth[row["file"]], writers)
            if errors_dir is not None:
                save_error_crops(errors_dir / name, found[page], new_errors)
    return score


def cpu_now() -> float:
    """CPU seconds of this process (all its threads) and of its finished children (Tesseract runs as one)."""
    from bench.scan import children_cpu

    return time.process_time() + children_cpu()


def unreadable(score: Score, row: dict) -> None:
    """A file the product could not read: every form page in it is missed."""
    forms = len(row["records"])
    score.unreadable_files += 1
    score.missing_records += forms
    by_layout = score.by_layout[row.get("layout", "full")]
    by_layout[0] += forms
    by_layout[1] += forms


def score_file(score: Score, row: dict, found: dict[int, dict], templates: dict):
    """Score the records read from one fax (record JSON by page) against its truth row; yields
    (page, truth fields, writers, its unflagged wrong values) for each record scored, for checks made on top."""
    truth_by_page = {r["page"]: r for r in row["records"]}
    kinds = {p["page"]: p["kind"] for p in row["pages"]}
    by_layout = score.by_layout[row.get("layout", "full")]
    by_layout[0] += len(truth_by_page)
    score.pages += len(row["pages"])
    for page, kind in kinds.items():
        if kind != "form":
            score.non_form_pages += 1
            score.skipped_right += page not in found
    for page, record in found.items():
        if page not in truth_by_page:
            score.extra_records += 1
            continue
        truth = truth_by_page[page]
        writers = truth.get("writers", row.get("writers"))
        before = len(score.errors)
        score.add_record(templates[record["form"]], record, truth["fields"], writers)
        yield page, truth["fields"], writers, score.errors[before:]
    missed = len(set(truth_by_page) - set(found))
    score.missing_records += missed
    by_layout[1] += missed


def score_scan(run, truth_rows: list[dict], templates: dict) -> Score:
    """Score the records of an ``intake scan --json`` run (``bench.scan.ScanRun``) with this tree's scorer."""
    score = Score(seconds=run.wall_seconds, cpu_seconds=run.cpu_seconds)
    for row in truth_rows:
        found = {page: rec for (file, page), rec in run.records.items() if file == row["file"]}
        for _ in score_file(score, row, found, templates):
            pass
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


def whole_page_tesseract_seconds(folder: Path, truth_rows: list[dict], limit: int = 5) -> tuple[float, float, int]:
    """(wall, CPU) seconds per page for Tesseract jpn over the whole page, and the pages timed: the naive
    alternative to reading fields. CPU is Tesseract's own (it runs as a child process)."""
    import pytesseract

    from bench.scan import children_cpu
    from intake.ingest import load_pages

    pages, seconds, cpu = 0, 0.0, 0.0
    for row in truth_rows[:limit]:
        for page in load_pages(folder / row["file"]):
            started, cpu_started = time.perf_counter(), children_cpu()
            pytesseract.image_to_string(page.image, lang="jpn", config="--psm 3")
            seconds += time.perf_counter() - started
            cpu += children_cpu() - cpu_started
            pages += 1
    return seconds / max(1, pages), cpu / max(1, pages), pages


def run_previous(rev: str, folder: Path, truth_rows: list[dict]) -> tuple[ScanRun | None, str | None]:
    """The product as of ``rev``: its tree extracted, its ``intake scan --json`` over the same files;
    (the run, None) or (None, why there is no column)."""
    with tempfile.TemporaryDirectory() as tree:
        problem = checkout(rev, Path(tree))
        if problem:
            return None, problem
        run = scan_batch(Path(tree), [folder / r["file"] for r in truth_rows])
    return (None, run.problem) if run.problem else (run, None)


def insert_after(scores: dict, after: str, name: str, score: Score) -> dict:
    """``scores`` with ``name`` as the column right after ``after``."""
    out = {}
    for k, v in scores.items():
        out[k] = v
        if k == after:
            out[name] = score
    return out


def desk_figures(measured, truth_rows: list[dict]) -> dict:
    """Seconds per page and per form page, wall and CPU, of a scan run or a whole-page Tesseract timing."""
    if isinstance(measured, tuple):
        wall, cpu, pages = measured
        return {"pages": pages, "wall_per_page": round(wall, 3), "cpu_per_page": round(cpu, 3)}
    pages = sum(len(r["pages"]) for r in truth_rows)
    forms = sum(len(r["records"]) for r in truth_rows)
    return {"pages": pages, "form_pages": forms, "wall_per_page": round(measured.wall_seconds / pages, 3),
            "cpu_per_page": round(measured.cpu_seconds / pages, 3), "wall_per_form_page": round(measured.wall_seconds / forms, 3),
            "cpu_per_form_page": round(measured.cpu_seconds / forms, 3)}


def desk_lines(desk: dict, truth_rows: list[dict], first: Score) -> list[str]:
    """The desk timing block: per scan run and for Tesseract over whole pages; the speed-up on CPU time."""
    out = []
    figures = {n: desk_figures(d, truth_rows) for n, d in desk.items()}
    for name, f in figures.items():
        if "form_pages" in f:
            out.append(f"{name}: {f['wall_per_form_page']:.2f} s wall, {f['cpu_per_form_page']:.2f} s CPU per form page "
                       f"({f['form_pages']} form pages; {f['wall_per_page']:.2f} s wall, {f['cpu_per_page']:.2f} s CPU per page "
                       f"of {f['pages']})")
        else:
            out.append(f"{name}: {f['wall_per_page']:.2f} s wall, {f['cpu_per_page']:.2f} s CPU per page ({f['pages']} pages)")
    tess = figures.get("tesseract jpn, whole page")
    product = figures.get("product")
    if tess and product:
        out.append(f"product vs Tesseract jpn on whole pages, per page: {tess['wall_per_page'] / max(product['wall_per_page'], 1e-9):.1f}x "
                   f"faster in wall time, {tess['cpu_per_page'] / max(product['cpu_per_page'], 1e-9):.1f}x in CPU time")
    elif tess:
        out.append(f"product in-process, per page: {first.seconds / max(1, first.pages):.2f} s wall, "
                   f"{first.cpu_seconds / max(1, first.pages):.2f} s CPU")
    return out


def _writers(name: str) -> str:
    # samplegen is imported only when a benchmark runs: the intake CLI builds this parser on every start.
    from samplegen import writers as populations

    if name not in populations.choices():
        raise argparse.ArgumentTypeError(f"unknown writers {name!r}; choose from {', '.join(populations.choices())}")
    return name


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
    ap.add_argument("--writers", type=_writers, default="test",
                    help="test: the evaluation hands (held-out MNIST, bundled fonts, KanjiVG); populations: each form written "
                         "by one population drawn at random (mnist, bundled-fonts, kanjivg, debian-fonts, blocky, typed), scored "
                         "per population; or one population alone; fonts (= debian-fonts): Debian handwriting fonts "
                         "(scripts/install.sh --test installs them; without them the run says which packages to install); "
                         "typed: forms filled on a computer in held-out print fonts (typed-dev: the development print fonts)")
    ap.add_argument("--previous", metavar="REV", default=None,
                    help="also score the product as of git revision REV (a commit, tag or branch): its own tree, its "
                         "intake scan over the same files, scored here (a column 'previous')")
    ap.add_argument("--no-scan-timing", dest="scan_timing", action="store_false",
                    help="skip timing intake scan over the batch as the desk runs it (and Tesseract jpn over whole pages)")
    ap.add_argument("--layouts", type=_layouts, default=["full"],
                    help="how the forms are put on paper: full (default: the form at its size, comparable with earlier "
                         "figures), mixed (70%% full, the rest reduced/enlarged prints, two to a sheet, cut edges) or a "
                         "comma-separated list (see python -m samplegen --help); prints form pages missed per layout")
    ap.add_argument("--dir", type=Path, default=None, help="keep the generated set here (default: a temporary folder)")
    ap.add_argument("--whole-page", action="store_true", help="time Tesseract jpn over whole pages even with --no-scan-timing")
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
        hands = "unseen writers" if args.writers == "test" else f"writers: {args.writers}"
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
        previous_problem = None
        if args.previous:
            print(f"running previous ({args.previous}) ...", file=sys.stderr)
            previous_run, previous_problem = run_previous(args.previous, folder, rows)
            if previous_run is not None:
                scores = insert_after(scores, chosen[0], "previous", score_scan(previous_run, rows, {t.id: t for t in templates}))
        print(table(scores))
        if args.previous:
            print(f"previous: {describe(args.previous)}" if previous_problem is None else
                  f"previous: no column ({previous_problem})")
        from bench import heldout

        found = sorted({r.get("writers") for r in rows} - {None})
        print("\nwho saw these writers (from intake/models/*.json):")
        for line in heldout.lines(found):
            print(f"  {line}")
        for name, checked in registers.items():
            print(f"\nwith the register, {name}:")
            for line in checked.lines():
                print(f"  {line}")
            for file, key, want, got in checked.invented:
                print(f"  invented: {file} {key}: truth {want!r} read {got!r}")
        desk = {}
        if args.scan_timing:
            print("timing intake scan ...", file=sys.stderr)
            desk["product"] = scan_batch(REPO, [folder / r["file"] for r in rows])
            if args.previous and previous_problem is None:
                desk["previous"] = previous_run
        if args.scan_timing or args.whole_page:
            desk["tesseract jpn, whole page"] = whole_page_tesseract_seconds(folder, rows)
        if desk:
            print(f"\nas the desk runs it (intake scan over all {len(rows)} faxes, process start and skipped pages included):")
            for line in desk_lines(desk, rows, scores[chosen[0]]):
                print(f"  {line}")
        if args.errors:
            for name, s in scores.items():
                print(f"\nunflagged wrong values, {name}:")
                for file, key, want, got, conf in s.errors:
                    print(f"  {file} {key}: truth {want!r} read {got!r} (confidence {conf:.2f})")
        if args.json:
            figures = {n: {k: v for k, v in vars(s).items() if k != "errors"} for n, s in scores.items()}
            figures["desk_timing"] = {n: desk_figures(d, rows) for n, d in desk.items()}
            if args.previous:
                figures["previous_revision"] = describe(args.previous) if previous_problem is None else previous_problem
            args.json.write_text(json.dumps(figures, default=dict, indent=1))
    return int(ExitCode.ok)
