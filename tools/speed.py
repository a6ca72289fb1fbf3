"""Where the seconds go: per-stage CPU seconds of the pipeline, `intake scan` over a batch, and
Tesseract `jpn` over the same whole pages, for this working tree and another revision in one run.

    python -m samplegen --out speed-faxes --count 20 --seed 777 --layouts mixed
    python tools/speed.py speed-faxes/fax_*                 # this working tree against its last commit
    python tools/speed.py --rev HEAD~5 --no-tesseract speed-faxes/fax_*

Prints Markdown tables: CPU seconds per form page for each stage (in one process, models loaded
first), then `intake scan` over the batch as a desk runs it (process start and skipped pages
included) in CPU and wall seconds per form page, and Tesseract over every page of the batch.
Timings are CPU seconds (resource.getrusage) besides wall: on a shared machine wall time says more
about the neighbours than about the code.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from same_records import RECEIVED, ROOT, export_revision, one_process  # noqa: E402

STAGES = ("start", "ingest", "classify (form pages)", "classify (other pages)", "align", "read, calibrate, validate")


def stage_seconds(files: list[str]) -> dict:
    """CPU seconds per stage over ``files``, with the intake package found first on sys.path."""
    import datetime as dt

    started = time.process_time()
    from intake.align import align_to_template
    from intake.classify import classify_page
    from intake.ingest import load_pages
    from intake.pipeline import Pipeline

    pipeline = Pipeline()
    pipeline.engines  # noqa: B018 - the models load with the start, not with the first page
    seconds = dict.fromkeys(STAGES, 0.0)
    seconds["start"] = time.process_time() - started
    forms = others = 0
    received = dt.date.fromisoformat(RECEIVED)

    def timed(stage, fn, *args):
        t = time.process_time()
        out = fn(*args)
        seconds[stage] += time.process_time() - t
        return out

    for path in files:
        for page in timed("ingest", load_pages, path):
            t = time.process_time()
            c = classify_page(page, pipeline.templates)
            seconds["classify (form pages)" if c.form else "classify (other pages)"] += time.process_time() - t
            if c.form is None:
                others += 1
                continue
            forms += 1
            template = pipeline._by_id[c.form]
            aligned = timed("align", align_to_template, page, c, template)
            timed("read, calibrate, validate", pipeline.read_aligned, aligned, template, received)
    return {"seconds": seconds, "form_pages": forms, "other_pages": others}


def run_stages(tree: Path, files: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, __file__, "--stages-only", *files], cwd=tree, env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def run_scan(tree: Path, files: list[str], jobs: str | None) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of `intake scan --json` over ``files`` from ``tree``. Only a scan in
    one process has its CPU seconds counted: worker processes are the forkserver's children."""
    options = one_process(tree) if jobs == "1" else ["--jobs", jobs] if jobs else []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "intake", "scan", "--json", "--received", RECEIVED,
                    *options, *files], cwd=tree, capture_output=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def run_tesseract(files: list[str]) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, pages) of `tesseract -l jpn` over every page of ``files``."""
    import cv2

    sys.path.insert(0, str(ROOT))
    from intake.ingest import load_pages

    cpu = wall = 0.0
    pages = 0
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            for page in load_pages(path):
                image = Path(tmp) / "page.png"
                cv2.imwrite(str(image), page.image)
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                started = time.perf_counter()
                subprocess.run(["tesseract", str(image), "-", "-l", "jpn", "--psm", "3"], capture_output=True, check=True)
                wall += time.perf_counter() - started
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu += (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                pages += 1
    return cpu, wall, pages


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", default="HEAD", help="the revision to compare with (default: HEAD, the last commit)")
    ap.add_argument("--jobs", default="2", help="workers for this tree's wall-clock scan (default 2)")
    ap.add_argument("--no-tesseract", action="store_true", help="leave out the Tesseract whole-page timing")
    ap.add_argument("--stages-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    files = [str(Path(f).resolve()) for f in args.files]
    if args.stages_only:
        print(json.dumps(stage_seconds(files)))
        return 0
    rev = args.rev
    with tempfile.TemporaryDirectory() as tmp:
        other = export_revision(rev, Path(tmp))
        before, after = run_stages(other, files), run_stages(ROOT, files)
        scan_before = run_scan(other, files, "1")
        scan_after = run_scan(ROOT, files, "1")
        wall_after = run_scan(ROOT, files, args.jobs)[1]
    tess = None if args.no_tesseract else run_tesseract(files)
    forms = after["form_pages"]
    print(f"{len(files)} files, {forms} form pages, {after['other_pages']} other pages; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    print(f"| CPU s per form page | {rev[:10]} | this tree |\n| --- | ---: | ---: |")
    for stage in STAGES:
        print(f"| {stage} | {before['seconds'][stage] / forms:.3f} | {after['seconds'][stage] / forms:.3f} |")
    print(f"| total | {sum(before['seconds'].values()) / forms:.3f} | {sum(after['seconds'].values()) / forms:.3f} |\n")
    print("| `intake scan`, s per form page | CPU | wall |\n| --- | ---: | ---: |")
    print(f"| {rev[:10]}, one process | {scan_before[0] / forms:.2f} | {scan_before[1] / forms:.2f} |")
    print(f"| this tree, --jobs 1 | {scan_after[0] / forms:.2f} | {scan_after[1] / forms:.2f} |")
    print(f"| this tree, --jobs {args.jobs} | — | {wall_after / forms:.2f} |")
    if tess:
        cpu, wall, pages = tess
        print(f"| Tesseract jpn, every page of the batch ({pages}) | {cpu / forms:.2f} | {wall / forms:.2f} |")
        print(f"\nTesseract per page it read: {cpu / pages:.2f} CPU s, {wall / pages:.2f} s wall; "
              f"to this tree's scan: {cpu / scan_after[0]:.1f}x the CPU, {wall / wall_after:.1f}x the wall time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
