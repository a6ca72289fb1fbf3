"""The command line: arguments in, records out, errors turned into messages and exit codes.

    intake scan FILE [FILE ...] [--json]
    intake template show [--form ID] [--out PNG]
    intake template check
    intake watch / export / import-review / purge   (see intake.desk_cli)
    intake review ... / intake status                (see intake.review.cli)
    intake bench                                     (see bench/)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import unicodedata
import warnings
from pathlib import Path

from intake import __version__
from intake.errors import EngineError, ExitCode, IntakeError
from intake.messages import LANGUAGES, field_labels, language, render, show_value
from intake.model import Record
from intake.register import add_arguments as register_arguments


def _width(text: str) -> int:
    """Columns on a terminal, counting full-width (Japanese) characters as two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    """Left-justify for a terminal."""
    return text + " " * max(0, width - _width(text))


STATUS = {"ja": ("要確認", "確認不要 (そのまま登録)"), "en": ("NEEDS REVIEW", "ok (straight through)")}
REVIEW_MARK = {"ja": "  <- 要確認", "en": "  <- review"}
REASONS_HEADING = {"ja": "   確認理由:", "en": "   reasons:"}
REGISTER_HEADING = {"ja": "契約台帳", "en": "register"}


def _print_record(record: Record, out, lang: str, kinds: dict[str, str]) -> None:
    src = record.source
    status = STATUS[lang][0] if record.review_needed else STATUS[lang][1]
    print(f"== {src.file} page {src.page}: {record.form} — {status}", file=out)
    labels = field_labels(record.form)
    names = {k: (labels.get(k, k) if lang == "ja" else k) for k in record.fields}
    width = max(_width(n) for n in names.values())
    for key, f in record.fields.items():
        flag = REVIEW_MARK[lang] if f.review else ""
        value = "—" if f.value is None else (show_value(kinds.get(key, ""), f.value) if lang == "ja" else f.value)
        print(f"   {_pad(names[key], width)}  {_pad(str(value), 24)} {f.confidence:6.1%}{flag}", file=out)
    if record.register is not None:
        from intake.export import register_cells

        name, rows = register_cells(record.register, lang)
        print(f"   {REGISTER_HEADING[lang]} {record.register['version']['sha256']}: {name}  {rows}", file=out)
    reasons = record.review_reasons()
    if reasons:
        print(REASONS_HEADING[lang], file=out)
        for r in reasons:
            print(f"     - {render(r, lang, labels)}", file=out)


def _iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date as YYYY-MM-DD: {text!r}") from None


def cmd_scan(args: argparse.Namespace) -> int:
    from intake.register import open_register
    from intake.store import default_db_path
    from intake.template import load_templates

    data_dir = default_db_path().parent
    register = open_register(args.contracts, args.staff, data_dir)  # a bad register stops the scan here
    lang = language(args.lang)
    kinds = {t.id: {f.key: f.kind for f in t.fields} for t in load_templates()}
    exit_code = ExitCode.ok
    for path, outcome in _scan_files(args, register, data_dir):
        if outcome[0] == "error":
            _, message, reason, code = outcome
            print(f"intake: error: {message} [{reason}]", file=sys.stderr)
            exit_code = max(exit_code, code)
            continue
        result = outcome[1]
        for skipped in result.skipped:
            print(f"intake: {path} page {skipped.source.page}: skipped — {skipped.reason}", file=sys.stderr)
        if not result.records:
            print(f"intake: {path}: no form page found in {result.pages} page(s) [no_form_found]", file=sys.stderr)
            if exit_code == ExitCode.ok:
                exit_code = ExitCode.no_form
        for record in result.records:
            if args.json:
                sys.stdout.write(json.dumps(record.to_json(lang), ensure_ascii=False) + "\n")
                sys.stdout.flush()
            else:
                _print_record(record, sys.stdout, lang, kinds[record.form])
        if not args.json:
            print(f"({path}: {result.pages} page(s) in {result.seconds:.2f}s)", file=sys.stderr)
    return int(exit_code)


def _scan_files(args: argparse.Namespace, register, data_dir: Path):
    """(path, outcome) for each file in the order given, read here or, with more than one file and
    ``--jobs`` above 1, by worker processes that each load the pipeline once (see ``_scan_one``)."""
    jobs = min(args.jobs, len(args.files))
    if jobs <= 1:
        from intake.pipeline import Pipeline

        here = Pipeline(register=register)
        for path in args.files:
            yield path, _scan_one(path, args.received, here)
        return
    import concurrent.futures as cf
    import multiprocessing
    from functools import partial

    from intake.desk_cli import register_pipeline

    build = partial(register_pipeline, args.contracts, args.staff, data_dir) if register is not None else None
    pool = cf.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("forkserver"),
                                  initializer=_load_scan_worker, initargs=(build,))
    try:
        yield from zip(args.files, pool.map(_scan_one, args.files, [args.received] * len(args.files)))
    except cf.process.BrokenProcessPool:
        raise EngineError("a worker process that reads faxes stopped (out of memory?); "
                          "the files after it were not read: run again with --jobs 1") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


_WORKER_ERROR: tuple | None = None


def _load_scan_worker(build) -> None:
    """Worker start: load the pipeline as the watcher's workers do; a missing or broken model becomes
    each file's error, as it is when files are read in one process."""
    global _WORKER_ERROR
    from intake.watch import _load_pipeline

    try:
        _load_pipeline(build)
    except IntakeError as exc:
        _WORKER_ERROR = ("error", str(exc), exc.reason, exc.exit_code)


def _scan_one(path: str, received: dt.date | None, here=None):
    """("ok", FileResult) or ("error", message, reason, exit code), read by the pipeline ``here`` or by
    the one this worker process loaded; plain values cross from a worker."""
    from intake import pipeline

    if here is None and _WORKER_ERROR is not None:
        return _WORKER_ERROR
    try:
        return ("ok", (here or pipeline._DEFAULT).process_file(path, received=received))
    except IntakeError as exc:
        return ("error", str(exc), exc.reason, exc.exit_code)


def cmd_template_show(args: argparse.Namespace) -> int:
    import cv2

    from intake.template import draw_template, load_templates

    templates = load_templates()
    chosen = [t for t in templates if args.form in (None, t.id)]
    if not chosen:
        raise IntakeError(f"no template named {args.form}; known: {', '.join(t.id for t in templates)}")
    for t in chosen:
        out = Path(args.out or f"{t.id}_boxes.png")
        cv2.imwrite(str(out), draw_template(t))
        print(f"wrote {out} ({len(t.fields)} fields)")
    return int(ExitCode.ok)


def cmd_template_check(args: argparse.Namespace) -> int:
    from intake.template import load_templates

    for t in load_templates():
        print(f"{t.id}: {len(t.fields)} fields, {len(t.rules)} rules, reference {t.size_px[0]}x{t.size_px[1]} px — ok")
    return int(ExitCode.ok)


def build_parser() -> argparse.ArgumentParser:
    from intake.desk_cli import positive_int

    parser = argparse.ArgumentParser(prog="intake", description="Read faxed テレドーム停止依頼書 forms into validated records.")
    parser.add_argument("--version", action="version", version=f"fax-intake {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    scan = sub.add_parser("scan", help="read fax files and print one record per form page")
    scan.add_argument("files", nargs="+", help="TIFF, PDF, PNG or JPEG fax files")
    scan.add_argument("--json", action="store_true", help="print JSON Lines on stdout (one object per form page)")
    scan.add_argument("--received", type=_iso_date, default=None, metavar="YYYY-MM-DD",
                      help="day the fax arrived (default: the file's modification day); two-digit years are read near it")
    scan.add_argument("--jobs", type=positive_int, default=os.cpu_count() or 1,
                      help="files read in parallel, one worker process each (default: the number of cores)")
    register_arguments(scan)
    scan.add_argument("--lang", choices=LANGUAGES, default=None,
                      help="language of review reasons: ja (default) or en; $INTAKE_LANG sets the default")
    scan.set_defaults(func=cmd_scan)

    tmpl = sub.add_parser("template", help="inspect form templates")
    tsub = tmpl.add_subparsers(dest="template_command", required=True)
    show = tsub.add_parser("show", help="draw every field box over the blank form into a PNG")
    show.add_argument("--form", default=None, help="template id (default: all)")
    show.add_argument("--out", default=None, help="PNG path (default: <form>_boxes.png)")
    show.set_defaults(func=cmd_template_show)
    check = tsub.add_parser("check", help="validate every template file")
    check.set_defaults(func=cmd_template_check)

    try:
        from intake import desk_cli
    except ImportError:
        desk_cli = None
    if desk_cli is not None:
        desk_cli.register(sub)
    from intake.review import cli as review_cli

    review_cli.register(sub)
    try:  # the benchmark needs the sample generator, which an installed product may not carry
        from bench import cli as bench_cli

        bench_cli.register(sub)
    except ImportError:
        pass
    return parser


# Pillow's own notes on a damaged file ("Corrupt EXIF data"): the file is quarantined with its reason code.
QUIET_MODULES = ("PIL.Image", "PIL.TiffImagePlugin", "PIL.TiffTags")


def quiet_library_notes() -> None:
    """Keep library warnings off the desk's console, here and in the watcher's worker processes
    (multiprocessing starts them with this interpreter's -W options)."""
    for module in QUIET_MODULES:
        warnings.filterwarnings("ignore", category=UserWarning, module=module.replace(".", r"\.") + r"\Z")
        sys.warnoptions.append(f"ignore::UserWarning:{module}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    # Library warnings (Pillow on odd TIFF tags) go to the log, shown only with --verbose: the desk's
    # console carries the product's own messages.
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").setLevel(logging.INFO if args.verbose else logging.ERROR)
    if not args.verbose:
        quiet_library_notes()
    try:
        return int(args.func(args))
    except IntakeError as exc:
        print(f"intake: error: {exc} [{exc.reason}]", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("intake: interrupted", file=sys.stderr)
        return int(ExitCode.interrupted)


if __name__ == "__main__":
    raise SystemExit(main())
