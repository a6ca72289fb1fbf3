"""The watcher as the desk sees it: its progress line counts what waits for review and never shares a
line with a log message; library warnings stay off the console."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from intake.watch import watch

REPO = Path(__file__).resolve().parents[1]


def test_progress_lines_are_whole_lines_with_the_review_count(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("INTAKE_LANG", "ja")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(REPO / "samples" / "bad" / "truncated.tif", inbox / "broken.tif")
    handler = logging.StreamHandler(sys.stderr)
    logging.getLogger("intake.desk").addHandler(handler)
    try:
        watch(inbox, db=tmp_path / "data" / "intake.db", once=True, settle=0, grace=0, progress=True)
    finally:
        logging.getLogger("intake.desk").removeHandler(handler)
    err = capsys.readouterr().err
    assert "\r" not in err
    progress = [line for line in err.splitlines() if line.startswith("intake watch:")]
    assert progress and progress[-1].endswith("確認待ち 1 件")  # the quarantined fax waits for a person
    assert all("quarantined (" not in line for line in progress)  # the log line is a line of its own


def test_pillow_warnings_stay_off_the_console(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(REPO / "samples" / "bad" / "truncated.tif", inbox / "broken.tif")
    r = subprocess.run([sys.executable, "-m", "intake", "watch", str(inbox), "--once", "--settle", "0", "--grace", "0",
                        "--db", str(tmp_path / "data" / "intake.db")], cwd=REPO, capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, PYTHONPATH=str(REPO), PYTHONWARNINGS="default"))
    assert r.returncode == 0, r.stderr
    assert "Warning" not in r.stderr and "warnings.warn" not in r.stderr
    assert "quarantined" in r.stderr  # the desk's own messages still come through
