"""Run ``intake scan`` as the desk runs it, for this tree or an earlier revision of the product.

The CLI starts in a subprocess over the whole batch (process start, model loading and every
page included, the pages it skips too) and prints record JSON; its wall time and the CPU time of
the process and everything it started (Tesseract) are measured from outside.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass
class ScanRun:
    """What one ``intake scan --json`` run over a batch made: records by (file name, page), and its cost."""

    records: dict[tuple[str, int], dict] = field(default_factory=dict)
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    exit_code: int = 0
    problem: str = ""  # why no record came back, when none did


def children_cpu() -> float:
    """CPU seconds (user + system) of every finished child process so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


class TreeCPU:
    """CPU seconds of a process and all its descendants, sampled from /proc while they run.

    ``intake scan`` reads in worker processes started by a fork server that it never waits for,
    so their CPU time never reaches this process's rusage. Each process's own user + system time
    is sampled every ``interval`` seconds and the last value kept; what a process spends after its
    last sample is missed, so this is a slight undercount (a lower bound)."""

    TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self, root: int, interval: float = 0.05):
        self.root, self.interval = root, interval
        self.last: dict[tuple[int, str], float] = {}  # (pid, start time) -> own CPU seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _stat(pid: str) -> tuple[int, str, float] | None:
        try:
            text = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) "
        # fields[1] is ppid, [11]/[12] utime/stime in ticks, [19] start time (tells a reused pid apart)
        return int(fields[1]), fields[19], (int(fields[11]) + int(fields[12])) / TreeCPU.TICK

    def sample(self) -> None:
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit() and (st := self._stat(entry)):
                stats[int(entry)] = st
        tree = {self.root}
        grew = True
        while grew:
            grew = False
            for pid, (ppid, _, _) in stats.items():
                if ppid in tree and pid not in tree:
                    tree.add(pid)
                    grew = True
        for pid in tree & set(stats):
            _, started, cpu = stats[pid]
            self.last[(pid, started)] = cpu

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> "TreeCPU":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(self.last.values())


def scan_batch(tree: Path, files: list[Path], timeout: float | None = None) -> ScanRun:
    """``python -m intake scan --json FILES`` with ``tree`` as the product, in a clean environment of its own:
    no register configured, its store in a temporary folder, one thread per library as on the desk's two cores."""
    with tempfile.TemporaryDirectory() as data:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
        env |= {"PYTHONPATH": str(tree), "INTAKE_DB": str(Path(data) / "intake.db")}
        cmd = [sys.executable, "-m", "intake", "scan", "--json", *(str(f) for f in files)]
        cpu0, t0 = children_cpu(), time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=data, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with TreeCPU(proc.pid) as tree:
            try:
                stdout, stderr = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                return ScanRun(wall_seconds=time.perf_counter() - t0, problem=f"intake scan ran past {timeout:.0f}s")
        wall = time.perf_counter() - t0
        # The scan process and what it waited for are exact in rusage; workers it never waited for only in the samples.
        run = ScanRun(wall_seconds=wall, cpu_seconds=max(children_cpu() - cpu0, tree.seconds), exit_code=proc.returncode)
    done = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    for line in done.stdout.splitlines():
        try:
            record = json.loads(line)
            run.records[(Path(record["source"]["file"]).name, int(record["source"]["page"]))] = record
        except (ValueError, KeyError, TypeError):
            continue
    if not run.records:
        tail = [line for line in done.stderr.splitlines() if line.strip()][-1:] or [f"exit code {done.returncode}"]
        run.problem = f"intake scan gave no record: {tail[0][:200]}"
    return run


def checkout(rev: str, into: Path, repo: Path = REPO) -> str | None:
    """Extract revision ``rev`` of the product (``git archive``) into ``into``; None, or why it could not."""
    if not (repo / ".git").exists():
        return f"no git repository at {repo} (a copy without .git cannot say what an earlier product read)"
    try:
        archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", rev], capture_output=True, timeout=120)
    except FileNotFoundError:
        return "git is not installed"
    if archive.returncode != 0:
        return f"git archive {rev}: {archive.stderr.decode(errors='replace').strip()[:200]}"
    with tempfile.TemporaryFile() as tmp:
        tmp.write(archive.stdout)
        tmp.seek(0)
        with tarfile.open(fileobj=tmp) as tar:
            tar.extractall(into, filter="data")
    if not (into / "intake" / "__main__.py").is_file():
        return f"revision {rev} holds no intake package"
    return None


def describe(rev: str, repo: Path = REPO) -> str:
    """``rev`` as a short commit id and subject, for the report."""
    done = subprocess.run(["git", "-C", str(repo), "log", "-1", "--format=%h %s", rev], capture_output=True, text=True)
    return done.stdout.strip()[:90] if done.returncode == 0 else rev
