"""An installed wheel reads a fax from any folder: templates, models and data travel as package data."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel built from this checkout (dependencies from the system)."""
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"),
                    str(REPO)], check=True, capture_output=True, cwd=root)
    wheel = next((root / "dist").glob("fax_intake-*.whl"))
    venv.create(root / "env", system_site_packages=True, with_pip=False)
    python = root / "env" / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, capture_output=True, cwd=root)
    return root / "env" / "bin"


def test_the_wheel_reads_a_sample_from_another_folder(installed, tmp_path):
    elsewhere = tmp_path / "desk"
    elsewhere.mkdir()
    found = subprocess.run([installed / "python", "-c", "import intake, form_templates; print(intake.__file__)"],
                           capture_output=True, text=True, cwd=elsewhere, check=True).stdout
    assert "site-packages" in found and str(REPO) not in found  # the installed copy, not this checkout
    run = subprocess.run([installed / "intake", "scan", "--json", str(REPO / "samples" / "fax_0004.tif")],
                         capture_output=True, text=True, cwd=elsewhere, timeout=300)
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout.splitlines()[0])
    truth = json.loads((REPO / "samples" / "truth.jsonl").read_text(encoding="utf-8").splitlines()[3])["records"][0]["fields"]
    assert record["form"] == "teledome_stop_request"
    assert record["fields"]["targets.0.teledome_number"]["value"] == truth["targets.0.teledome_number"]


def test_the_wheel_generates_samples_from_its_bundled_material(installed, tmp_path):
    run = subprocess.run([installed / "python", "-m", "samplegen", "--out", str(tmp_path / "faxes"), "--count", "1",
                          "--seed", "3"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "faxes" / "truth.jsonl").read_text(encoding="utf-8").strip()
