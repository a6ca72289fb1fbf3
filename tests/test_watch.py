"""The real watcher over a real inbox: bad input of every kind, good faxes, duplicates, signals, a crash.

Good faxes come from ``samplegen``; they go through the real pipeline (OCR on CPU).
"""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from intake.store import Store
from intake.watch import watch

REPO = Path(__file__).resolve().parents[1]


# -- input files ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def faxes(tmp_path_factory):
    """Four generated faxes and how many form pages each holds."""
    samplegen = pytest.importorskip("samplegen")
    out = tmp_path_factory.mktemp("samples")
    rows = samplegen.generate(out, 4, seed=7, writers="test")
    return [(out / r["file"], sum(1 for p in r["pages"] if p["kind"] == "form")) for r in rows]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png() -> bytes:
    """A tiny PNG that declares 100000 x 100000 pixels (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + _png_chunk(b"IEND", b""))


def encrypted_pdf(path: Path) -> bool:
    """A password-protected one-page PDF (pypdf is in the test extra)."""
    try:
        from pypdf import PdfWriter
    except ImportError:
        return False
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-256")
    with open(path, "wb") as fh:
        writer.write(fh)
    return True


# Files that must be quarantined, and the reason code each must carry.
def write_bad_files(inbox: Path, good_tiff: Path) -> dict[str, str]:
    import cv2

    expect = {"empty.tif": "empty_file", "notes.tif": "unsupported_format", "broken.pdf": "corrupt_file",
              "bomb.png": "image_too_large", "truncated.tif": "corrupt_file"}
    (inbox / "empty.tif").write_bytes(b"")
    (inbox / "notes.tif").write_text("これは FAX ではありません\n", encoding="utf-8")
    (inbox / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj<<>>\ngarbage without a trailer")
    (inbox / "bomb.png").write_bytes(bomb_png())
    data = good_tiff.read_bytes()
    (inbox / "truncated.tif").write_bytes(data[: len(data) // 3])
    if encrypted_pdf(inbox / "locked.pdf"):
        expect["locked.pdf"] = "encrypted_pdf"
    # A photo-like image: readable, but no form on it.
    photo = np.random.default_rng(1).integers(0, 256, (600, 800, 3), dtype=np.uint8)
    cv2.imwrite(str(inbox / "photo.jpg"), cv2.GaussianBlur(photo, (9, 9), 3))
    return expect


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".reason.txt")) if folder.exists() else []


def reason_of(path: Path) -> str:
    return Path(str(path) + ".reason.txt").read_text(encoding="utf-8").splitlines()[0].removeprefix("reason: ")


@pytest.fixture
def desk_dirs(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    return inbox, tmp_path / "data" / "intake.db", tmp_path / "data" / "archive", tmp_path / "data" / "quarantine"


# -- tests ----------------------------------------------------------------------------


def test_once_handles_every_bad_case_and_good_faxes(faxes, desk_dirs):
    inbox, db, archive, quarantine = desk_dirs
    expect = write_bad_files(inbox, faxes[0][0])
    shutil.copy(faxes[0][0], inbox / "fax_a.tif")
    shutil.copy(faxes[0][0], inbox / "fax_a_resent.tif")  # same bytes, another name
    shutil.copy(faxes[1][0], inbox / faxes[1][0].name)
    (inbox / ".hidden.tif").write_bytes(b"x")  # ignored: dotfile
    (inbox / "incoming.tif.part").write_bytes(b"x")  # ignored: still being written
    inputs = {p.name for p in inbox.iterdir()} - {".hidden.tif", "incoming.tif.part"}

    stats = watch(inbox, db=db, once=True, settle=0.1, grace=0.1, progress=False)

    assert sorted(p.name for p in inbox.iterdir()) == [".hidden.tif", "incoming.tif.part"]
    archived, quarantined = files_under(archive), files_under(quarantine)
    assert sorted(p.name for p in archived + quarantined) == sorted(inputs)  # each exactly once
    q = {p.name: reason_of(p) for p in quarantined}
    for name, reason in expect.items():
        assert q.get(name) == reason, (name, q)
    assert all(p.parent.parent == archive and len(p.parent.name) == 10 for p in archived)  # archive/YYYY-MM-DD/
    photo = next(p for p in archived if p.name == "photo.jpg")
    assert reason_of(photo) == "no_form_found"
    assert stats.duplicate == 1 and stats.archived == 2
    with Store(db) as store:
        records = store.records()
        assert len(records) == faxes[0][1] + faxes[1][1]
        assert len({r.file_sha256 for r in records}) == 2
        assert store.db.execute("SELECT count(*) FROM files WHERE state = 'no_form'").fetchone()[0] == 1
        assert {store.lookup_file(r.file_sha256).state for r in records} == {"processed"}


def test_redelivered_fax_with_the_same_name_never_overwrites(faxes, desk_dirs):
    inbox, db, archive, _ = desk_dirs
    for _ in range(2):
        shutil.copy(faxes[2][0], inbox / "fax.tif")
        watch(inbox, db=db, once=True, settle=0.05, progress=False)
    assert sorted(p.name for p in files_under(archive)) == ["fax-1.tif", "fax.tif"]
    with Store(db) as store:
        assert len(store.records()) == faxes[2][1]


def test_internal_error_is_quarantined_with_traceback_and_the_desk_goes_on(tmp_path, faxes):
    calls = []

    def buggy(path):
        calls.append(path)
        raise RuntimeError("bug in a reader")

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(faxes[0][0], inbox / "a.tif")
    shutil.copy(faxes[1][0], inbox / "b.tif")
    stats = watch(inbox, db=tmp_path / "d" / "intake.db", once=True, settle=0.05, process=buggy, progress=False)
    assert stats.quarantined == 2 and len(calls) == 2
    note = (tmp_path / "d" / "quarantine" / "a.tif.reason.txt").read_text(encoding="utf-8")
    assert note.startswith("reason: internal_error") and "RuntimeError: bug in a reader" in note


def test_names_taken_in_the_archive_get_suffixes(tmp_path):
    def no_form(path):
        from intake.errors import NoFormFoundError

        raise NoFormFoundError("no form page")

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(3):
        (inbox / "x.tif").write_bytes(bytes([i]))
        watch(inbox, db=tmp_path / "d" / "intake.db", once=True, settle=0, process=no_form, progress=False)
    (day,) = (tmp_path / "d" / "archive").iterdir()
    assert sorted(p.name for p in day.iterdir() if not p.name.endswith(".reason.txt")) == ["x-1.tif", "x-2.tif", "x.tif"]
    assert (day / "x.tif").read_bytes() == b"\x00" and (day / "x-2.tif").read_bytes() == b"\x02"


def test_logs_carry_no_personal_data(faxes, desk_dirs, caplog):
    inbox, db, *_ = desk_dirs
    shutil.copy(faxes[3][0], inbox / "from_0312345678.tif")
    caplog.set_level("INFO", logger="intake.desk")
    watch(inbox, db=db, once=True, settle=0.05, progress=False)
    text = caplog.text
    assert "record(s)" in text or "no form found" in text
    assert "0312345678" not in text
    with Store(db) as store:
        for r in store.records():
            for f in r.fields.values():
                if isinstance(f.value, str) and len(f.value) >= 3:
                    assert f.value not in text


def _desk_cmd(*args: str) -> list[str]:
    module = "intake" if (REPO / "intake" / "cli.py").exists() else "intake.desk_cli"
    return [sys.executable, "-m", module, "watch", *args]


def _wait_for(cond, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("mode", ["inotify", "poll"])
def test_live_loop_picks_up_new_files_and_stops_cleanly_on_sigterm(faxes, desk_dirs, mode):
    inbox, db, archive, quarantine = desk_dirs
    extra = ["--poll"] if mode == "poll" else []
    proc = subprocess.Popen(_desk_cmd(str(inbox), "--db", str(db), "--settle", "0.2", "--grace", "0.2", *extra), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_for(lambda: Path(str(db) + ".watch.lock").exists(), 20)
        # Written the way a fax server writes: a temporary name, then renamed into place.
        part = inbox / "fax.tif.part"
        shutil.copy(faxes[0][0], part)
        part.rename(inbox / "fax.tif")
        (inbox / "empty.tif").write_bytes(b"")
        assert _wait_for(lambda: len(files_under(archive)) + len(files_under(quarantine)) == 2, 40), proc
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped:" in err and "quarantined (empty_file)" in err
    assert [p.name for p in files_under(archive)] == ["fax.tif"]


def test_kill_and_restart_neither_loses_nor_duplicates(faxes, desk_dirs):
    inbox, db, archive, quarantine = desk_dirs
    expect = write_bad_files(inbox, faxes[0][0])
    for src, _ in faxes:
        shutil.copy(src, inbox / src.name)
    shutil.copy(faxes[0][0], inbox / "again.tif")
    inputs = sorted(p.name for p in inbox.iterdir())
    cmd = _desk_cmd(str(inbox), "--db", str(db), "--settle", "0", "--grace", "0", "--once", "--jobs", "1")

    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Kill it hard in the middle of the run: after some files are done, before all are.
    _wait_for(lambda: len(files_under(archive)) >= 2, 60)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert len(list(inbox.iterdir())) > 0, "the run finished before it could be killed; the test proves nothing"

    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr

    assert list(inbox.iterdir()) == []
    where = files_under(archive) + files_under(quarantine)
    assert sorted(p.name for p in where) == inputs  # every input in exactly one place
    assert {p.name: reason_of(p) for p in files_under(quarantine)}.items() >= expect.items()
    with Store(db) as store:
        records = store.records()
        assert len(records) == sum(n for _, n in faxes)  # one record per good form page, no duplicates
        assert len({(r.file_sha256, r.page) for r in records}) == len(records)
