"""Check that a change left every reading as it was: run `intake scan --json` with this working tree
and with another revision on the same faxes and compare the records byte for byte.

    python tools/same_records.py speed-faxes/fax_*            # this working tree against its last commit
    python tools/same_records.py --rev HEAD~3 speed-faxes/fax_*
    python tools/same_records.py --jobs 2 speed-faxes/fax_*   # this tree reads with 2 workers
    python tools/same_records.py --against before.jsonl speed-faxes/fax_*   # a saved `scan --json` output

Exit 0 and "identical" when every output line matches; otherwise the first differing fields are
printed and the exit status is 1. Each side's CPU and wall seconds are printed as well.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.scan import checkout  # noqa: E402
RECEIVED = "2026-12-01"  # fixed, so that two-digit years read alike whatever the files' mtimes


def export_revision(rev: str, into: Path) -> Path:
    """The tree of ``rev`` unpacked into ``into`` (not a checkout: nothing in the repository changes)."""
    tree = into / "tree"
    tree.mkdir()
    problem = checkout(rev, tree, ROOT)
    if problem:
        raise SystemExit(problem)
    return tree


def one_process(tree: Path) -> list[str]:
    """The option that makes ``tree``'s scan read in one process, whose CPU seconds can be counted
    (worker processes are the forkserver's children); none for a revision from before ``--jobs``."""
    usage = subprocess.run([sys.executable, "-m", "intake", "scan", "--help"], cwd=tree, capture_output=True, text=True)
    return ["--jobs", "1"] if "--jobs" in usage.stdout else []


def scan(tree: Path, files: list[str], extra: list[str]) -> tuple[list[str], float, float]:
    """The JSON lines `intake scan` prints from ``tree``, with its children's CPU seconds and wall seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "intake", "scan", "--json", "--received", RECEIVED, *extra, *files],
                          cwd=tree, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode not in (0, 3, 4):  # records, or some files without a form / unreadable
        sys.exit(f"scan in {tree} failed with exit {done.returncode}:\n{done.stderr[-2000:]}")
    return done.stdout.splitlines(), cpu, wall


def differences(ours: list[str], theirs: list[str], limit: int = 10) -> list[str]:
    out = []
    if len(ours) != len(theirs):
        out.append(f"{len(ours)} records here, {len(theirs)} there")
    for a, b in zip(ours, theirs):
        if a == b:
            continue
        ra, rb = json.loads(a), json.loads(b)
        name = f"{ra.get('source', {}).get('file')} page {ra.get('source', {}).get('page')}"
        for key in sorted(set(ra) | set(rb)):
            if ra.get(key) != rb.get(key):
                out.append(f"{name}: {key} differs")
        if len(out) >= limit:
            break
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", default="HEAD", help="the revision to compare with (default: HEAD, the last commit)")
    ap.add_argument("--jobs", default=None, help="pass --jobs N to this tree's scan (default 1, so its CPU seconds are counted)")
    ap.add_argument("--against", default=None, help="compare with this saved output of `intake scan --json "
                    f"--received {RECEIVED}` instead of running another revision")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    files = [str(Path(f).resolve()) for f in args.files]
    if args.against:
        theirs = Path(args.against).read_text(encoding="utf-8").splitlines()
        print(f"{args.against}: {len(theirs)} records")
    else:
        rev = args.rev
        with tempfile.TemporaryDirectory() as tmp:
            other = export_revision(rev, Path(tmp))
            theirs, cpu_b, wall_b = scan(other, files, one_process(other))
        print(f"{rev[:12]}: {len(theirs)} records, {cpu_b:.1f} CPU s, {wall_b:.1f} s wall")
    ours, cpu_a, wall_a = scan(ROOT, files, ["--jobs", args.jobs or "1"])
    # Worker processes are the forkserver's children: their CPU seconds do not reach this process.
    cpu = f"{cpu_a:.1f} CPU s" if args.jobs in (None, "1") else "CPU s not counted (workers)"
    print(f"this tree: {len(ours)} records, {cpu}, {wall_a:.1f} s wall")
    diff = differences(ours, theirs)
    if diff:
        print("DIFFERENT:\n  " + "\n  ".join(diff))
        return 1
    print("identical")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
