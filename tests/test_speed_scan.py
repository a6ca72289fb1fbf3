"""`intake scan --jobs N` reads files in worker processes: the same output, in the same order, with the
same errors and exit codes as reading them one after another. (Speed itself is measured by benchmarks,
never asserted in a test.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO
from intake.errors import ExitCode

SAMPLES = REPO / "samples"


def _scan(*args, cwd=REPO, env=None):
    return subprocess.run([sys.executable, "-m", "intake", "scan", "--json", "--received", "2027-06-01", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=600, env=env)


def test_workers_print_what_one_process_prints_in_the_order_given():
    # A multi-page fax (privacy and notes pages skipped), an unreadable file between two faxes, and a
    # single-page fax: records, skip notes and errors keep the order of the files named.
    files = [SAMPLES / "fax_0004.tif", SAMPLES / "bad" / "empty.tif", SAMPLES / "fax_0002.tif"]
    one = _scan("--jobs", "1", *files)
    two = _scan("--jobs", "2", *files)
    assert one.returncode == two.returncode == ExitCode.input_file, two.stderr
    assert len(one.stdout.splitlines()) == 2
    assert two.stdout == one.stdout
    assert two.stderr == one.stderr
    assert two.stderr.index("fax_0004.tif page 1: skipped") < two.stderr.index("[empty_file]")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_broken_digit_model_is_each_files_engine_error_in_workers_too(tmp_path, jobs):
    for package in ("intake", "bench"):  # this checkout's, not an installed copy's
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "intake" / "models" / "digits.onnx").write_bytes(b"not an onnx model")
    files = [SAMPLES / "fax_0001.tif", SAMPLES / "fax_0002.tif"]
    proc = _scan("--jobs", jobs, *files, cwd=tmp_path, env={**os.environ, "INTAKE_TEMPLATES": str(REPO / "form_templates")})
    assert proc.returncode == ExitCode.engine, proc.stderr
    assert proc.stderr.count("[engine_unavailable]") == 2 and proc.stdout == ""
