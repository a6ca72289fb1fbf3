"""A hostile inbox loses nothing and lets nothing out.

Every case runs the real watcher, store, SQLite, Tesseract/poppler and subprocesses over real files:
symlinks and FIFOs, names that are not UTF-8 or are 255 bytes long, a store that cannot be written,
tiny files that declare huge pages, a kill at every step of a move, two watchers on one inbox,
a sender that pauses, and a burst read by two worker processes.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from intake.errors import InboxBusyError, NoPagesError, StoreWriteError, TooManyPagesError
from intake.ingest import MAX_PAGES, load_pages
from intake.store import MIGRATIONS, Store
from intake.watch import NAME_MAX, Desk, FolderLock, Stability, Watcher, scan_inbox, watch

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
GIB = 1024 ** 3


# -- helpers -------------------------------------------------------------------------------------


def photo(path: Path, seed: int, size=(120, 160)) -> bytes:
    """A small photo-like JPEG: a real image with no form on it (read in a fraction of a second)."""
    import cv2

    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.integers(0, 256, (*size, 3), dtype=np.uint8), (9, 9), 3)
    ok, data = cv2.imencode(".jpg", img)
    assert ok
    Path(path).write_bytes(data.tobytes())
    return data.tobytes()


def cli(*args: str, cwd: Path = REPO, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "intake", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def files_in(folder: Path, notes: bool = False) -> list[Path]:
    if not folder.exists():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and (notes or not p.name.endswith(".reason.txt")))


def quick_watch(inbox: Path, db: Path, **kw):
    kw = {"once": True, "settle": 0, "grace": 0, "progress": False, **kw}
    return watch(inbox, db=db, **kw)


@pytest.fixture
def desk(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    return inbox, tmp_path / "data" / "intake.db"


# -- 1. symlinks and other entries that are not regular files ---------------------------------------


def test_symlink_fifo_and_folder_are_left_alone_and_never_followed(desk, tmp_path, caplog):
    inbox, db = desk
    target = tmp_path / "outside" / "secret.txt"
    target.parent.mkdir()
    target.write_text("root:x:0:0\n")
    target.chmod(0o644)
    os.symlink(target, inbox / "evil.tif")
    os.symlink(SAMPLES / "fax_0001.tif", inbox / "fax_link.tif")  # even a link to a good fax
    os.mkfifo(inbox / "pipe.tif")
    (inbox / "folder.tif").mkdir()
    caplog.set_level(logging.WARNING, logger="intake.desk")

    stats = quick_watch(inbox, db)

    assert stat.S_IMODE(target.stat().st_mode) == 0o644 and target.read_text() == "root:x:0:0\n"
    assert stat.S_IMODE((SAMPLES / "fax_0001.tif").stat().st_mode) == 0o644
    assert sorted(p.name for p in inbox.iterdir()) == ["evil.tif", "fax_link.tif", "folder.tif", "pipe.tif"]
    assert (inbox / "evil.tif").is_symlink()
    assert files_in(db.parent / "archive") == [] and files_in(db.parent / "quarantine") == []
    assert stats.archived + stats.quarantined + stats.no_form == 0
    assert caplog.text.count("[not_a_regular_file]") == 4  # by reason code, no name
    assert "evil" not in caplog.text and "secret" not in caplog.text
    with Store(db) as store:
        assert store.db.execute("SELECT count(*) FROM files").fetchone()[0] == 0
        caplog.clear()
        watcher = Watcher(Desk(store, db.parent / "archive", db.parent / "quarantine"), inbox, settle=0, progress=False)
        for _ in range(3):  # pass after pass, as the live watcher does
            watcher.step()
        assert caplog.text.count("[not_a_regular_file]") == 4  # each logged once


# -- 2. stored paths are relative to the data folder ------------------------------------------------


def test_purge_from_another_folder_removes_this_desks_faxes_and_nothing_else(tmp_path):
    here, elsewhere = tmp_path / "desk", tmp_path / "elsewhere"
    (here / "inbox").mkdir(parents=True)
    photo(here / "inbox" / "cover.jpg", 1)
    (here / "inbox" / "empty.tif").write_bytes(b"")
    done = cli("watch", "inbox", "--db", "data/intake.db", "--once", "--settle", "0", "--grace", "0",
               "--jobs", "1", cwd=here)
    assert done.returncode == 0, done.stderr
    db = here / "data" / "intake.db"
    with Store(db) as store:
        paths = [r[0] for r in store.db.execute("SELECT path FROM stored_copies")]
    assert sorted(p.split("/")[0] for p in paths) == ["archive", "quarantine"]  # relative to the data folder
    # A folder laid out like a desk, where purge is run from: none of it may be touched.
    decoy = elsewhere / "data" / "archive" / "2020-01-01" / "cover.jpg"
    decoy.parent.mkdir(parents=True)
    decoy.write_bytes(b"someone else's fax")

    done = cli("purge", "--older-than", "0", "--db", str(db), cwd=elsewhere)

    assert done.returncode == 0, done.stderr
    assert "2 archived/quarantined faxes" in done.stdout
    assert decoy.read_bytes() == b"someone else's fax"
    assert files_in(here / "data" / "archive", notes=True) == [] and files_in(here / "data" / "quarantine", notes=True) == []


def test_old_absolute_and_relative_paths_are_migrated(tmp_path):
    data = tmp_path / "intake-data"
    data.mkdir()
    db = sqlite3.connect(data / "intake.db")
    for script in MIGRATIONS[:3]:
        db.executescript(script)
    db.execute("PRAGMA user_version = 3")
    rows = {"a": str(data / "archive" / "2026-01-01" / "a.tif"), "b": "intake-data/quarantine/b.tif",
            "c": "/srv/elsewhere/c.tif"}
    for sha, path in rows.items():
        db.execute("INSERT INTO files VALUES (?, ?, '2026-01-01', 'no_form', NULL, ?)", (sha, f"{sha}.tif", path))
        db.execute("INSERT INTO stored_copies VALUES (?, ?)", (sha, path))
    db.execute("INSERT INTO fields VALUES ('a-1', 'k', 0, 'null', 1.0, 0, '[]', 'intake-data/crops/a-1/k.png')")
    db.commit()
    db.close()
    with Store(data / "intake.db") as store:
        copies = dict(store.db.execute("SELECT file_sha256, path FROM stored_copies").fetchall())
        crop = store.db.execute("SELECT crop_path FROM fields").fetchone()[0]
        assert copies == {"a": "archive/2026-01-01/a.tif", "b": "quarantine/b.tif", "c": "/srv/elsewhere/c.tif"}
        assert crop == "crops/a-1/k.png"
        assert store.resolve(copies["b"]) == data / "quarantine" / "b.tif"


# -- 4. opening a store -----------------------------------------------------------------------------


def test_opening_a_store_changes_no_folder_it_did_not_create(tmp_path):
    shared = tmp_path / "srv"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp or a shared /srv/fax
    with Store(shared / "intake.db"):
        pass
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert stat.S_IMODE((shared / "intake.db").stat().st_mode) == 0o600
    with Store(tmp_path / "new" / "deeper" / "intake.db"):
        pass
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "new" / "deeper").stat().st_mode) == 0o700


def test_a_file_that_is_no_database_is_refused_untouched_and_dry_run_creates_nothing(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n")
    notes.chmod(0o644)
    done = cli("purge", "--older-than", "30", "--db", str(notes))
    assert done.returncode == 7 and "[not_a_database]" in done.stderr
    assert stat.S_IMODE(notes.stat().st_mode) == 0o644 and notes.read_text() == "not a database\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]

    done = cli("purge", "--older-than", "30", "--dry-run", "--db", str(tmp_path / "none" / "intake.db"))
    assert done.returncode == 7 and "no record store" in done.stderr
    assert not (tmp_path / "none").exists()


# -- 5. a store that cannot be written ------------------------------------------------------------------


def test_a_store_that_cannot_commit_stops_the_desk_and_orphans_nothing(desk):
    inbox, db = desk
    shutil.copy(SAMPLES / "fax_0001.tif", inbox / "fax.tif")
    with Store(db) as store:
        # The database may not grow by one page: the first write of the fax's rows fails, for real.
        pages = store.db.execute("PRAGMA page_count").fetchone()[0]
        store.db.execute(f"PRAGMA max_page_count = {pages}")
        d = Desk(store, db.parent / "archive", db.parent / "quarantine")
        d.recover()
        with pytest.raises(StoreWriteError):
            Watcher(d, inbox, settle=0, grace=0, progress=False).run_once()
        d.close()
        assert store.db.execute("SELECT count(*) FROM files").fetchone()[0] == 0
    assert [p.name for p in inbox.iterdir()] == ["fax.tif"]
    assert (inbox / "fax.tif").read_bytes() == (SAMPLES / "fax_0001.tif").read_bytes()
    assert list((db.parent / "crops").iterdir()) == []  # the crops written for the record are gone
    assert list((db.parent / "work").iterdir()) == []
    assert files_in(db.parent / "archive") == [] and files_in(db.parent / "quarantine") == []


# Room left on the disk: not enough for the fax's private copy, or enough for the copy and some of
# its crops or rows (which of them fails first depends on the image sizes; the outcome may not).
@pytest.mark.parametrize("room_kib", [48, 264])
def test_a_full_disk_stops_the_watcher_with_exit_7(tmp_path, room_kib):
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        inbox = tmp_path / "inbox"
        inbox.mkdir()
        db = mnt / "intake.db"
        with Store(db):
            pass
        fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT)  # fill the disk to the last block...
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.ftruncate(fd, os.fstat(fd).st_size - room_kib * 1024)  # ...but room to open the store
            os.close(fd)
        shutil.copy(SAMPLES / "fax_0001.tif", inbox / "fax.tif")
        done = cli("watch", str(inbox), "--db", str(db), "--once", "--settle", "0", "--jobs", "1")
        assert done.returncode == 7 and "[store_write_failed]" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
        assert [p.name for p in inbox.iterdir()] == ["fax.tif"]
        assert files_in(mnt / "crops") == [] and list((mnt / "work").iterdir()) == []
        assert files_in(mnt / "archive") == [] and files_in(mnt / "quarantine") == []
        (mnt / "filler").unlink()
        with Store(db) as store:
            assert store.db.execute("SELECT count(*) FROM files").fetchone()[0] == 0
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


# -- 6, 7, 14. page count, page size and pixel budget, before decoding ------------------------------------


def _tiff(path: Path, pages: int, size: tuple[int, int], dpi=(204, 98)) -> Path:
    frames = [Image.new("1", size, 1) for _ in range(pages)]
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="group4", dpi=dpi)
    return path


def _pdf(path: Path, pages: int, size_pt: float) -> Path:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=size_pt, height=size_pt)
    with open(path, "wb") as fh:
        writer.write(fh)
    return path


def test_more_pages_than_the_limit_are_refused_never_cut_short(desk, tmp_path):
    inbox, db = desk
    path = _tiff(tmp_path / "long.tif", MAX_PAGES + 5, (200, 100))
    with pytest.raises(TooManyPagesError):
        load_pages(path)
    shutil.copy(path, inbox / "long.tif")
    stats = quick_watch(inbox, db)
    assert stats.quarantined == 1 and stats.no_form == 0
    note = (db.parent / "quarantine" / "long.tif.reason.txt").read_text(encoding="utf-8")
    assert note.startswith("reason: too_many_pages")


# Peak memory of one read in a fresh process: its own high-water mark (VmHWM: Linux carries a parent's
# ru_maxrss across fork and exec, so RUSAGE_SELF would report the test runner's size) and
# ru_maxrss of the poppler processes it started.
PEAK = """
import re, resource, sys
from intake.errors import IntakeError
from intake.ingest import load_pages
try:
    load_pages(sys.argv[1])
    reason = "read"
except IntakeError as exc:
    reason = exc.reason
own = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
print(reason, max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) * 1024)
"""


def test_tiny_hostile_files_are_refused_before_decoding_within_1_gib(tmp_path):
    cases = {
        "huge_page.pdf": (_pdf(tmp_path / "huge_page.pdf", 1, 10_000), "image_too_large"),
        "zero_pages.pdf": (_pdf(tmp_path / "zero_pages.pdf", 0, 600), "no_pages"),
        "many_pages.pdf": (_pdf(tmp_path / "many_pages.pdf", MAX_PAGES + 1, 600), "too_many_pages"),
        "tall_pages.tif": (_tiff(tmp_path / "tall_pages.tif", 20, (1728, 10_000)), "image_too_large"),
        "budget.tif": (_tiff(tmp_path / "budget.tif", 20, (1728, 6_000)), "pixel_budget_exceeded"),
    }
    for name, (path, reason) in cases.items():
        assert path.stat().st_size < 70_000, name  # tiny files...
        out = subprocess.run([sys.executable, "-c", PEAK, str(path)], cwd=REPO, capture_output=True, text=True,
                             timeout=120)
        got, peak = out.stdout.split()
        print(f"{name}: {path.stat().st_size} bytes -> {got}, peak {int(peak) / 2**20:.0f} MiB")
        assert got == reason, (name, out.stderr)
        assert int(peak) <= GIB, name  # ...never take gigabytes


def test_scan_of_a_huge_page_pdf_is_a_clear_error_not_a_traceback(tmp_path):
    done = cli("scan", str(_pdf(tmp_path / "huge.pdf", 1, 10_000)))
    assert done.returncode == 3 and "[image_too_large]" in done.stderr and "Traceback" not in done.stderr


def test_a_zero_page_pdf_says_so_without_pdfinfo_text(tmp_path):
    path = _pdf(tmp_path / "from_0312345678.pdf", 0, 600)
    with pytest.raises(NoPagesError) as err:
        load_pages(path)
    assert err.value.reason == "no_pages"
    assert "Syntax Error" not in err.value.message and "0312345678" not in err.value.message


# -- 8. a kill at every step of a move ----------------------------------------------------------------------

STEPS = ["claimed", "journalled", "linked", "noted", "inbox_removed", "work_removed", "finished"]

KILLED = """
import os, sys
from intake.watch import watch
target, seen = sys.argv[3], []
def hook(step):
    seen.append(step)
    if step == target and seen.count(step) == int(sys.argv[4]):
        os._exit(9)
watch(sys.argv[1], db=sys.argv[2], once=True, settle=0, grace=0, jobs=1, on_step=hook, progress=False)
"""


class Crash(BaseException):
    """Stands for a kill at a named step (not an Exception: nothing on the way may catch it)."""


def _fill_kill_inbox(inbox: Path) -> set[str]:
    data = photo(inbox / "a_cover.jpg", 3)
    (inbox / "b_empty.tif").write_bytes(b"")
    (inbox / "c_again.jpg").write_bytes(data)  # the same bytes again: a duplicate
    return {"a_cover.jpg", "b_empty.tif", "c_again.jpg"}


def _check_after_restart(inbox: Path, db: Path, names: set[str]) -> None:
    data = db.parent
    assert list(inbox.iterdir()) == []
    stored = files_in(data / "archive") + files_in(data / "quarantine")
    assert sorted(p.name for p in stored) == sorted(names)  # each exactly once: nothing lost, nothing read twice
    assert {p.name for p in files_in(data, notes=True) if p.name.endswith(".reason.txt")} == {
        "a_cover.jpg.reason.txt", "b_empty.tif.reason.txt"}
    assert list((data / "work").iterdir()) == []
    with Store(db) as store:
        assert store.pending_moves() == []
        assert store.db.execute("SELECT count(*) FROM files").fetchone()[0] == 2
        copies = [store.resolve(r[0]) for r in store.db.execute("SELECT path FROM stored_copies")]
        assert sorted(copies) == stored
        store.purge(0)
    assert files_in(data / "archive", notes=True) == [] and files_in(data / "quarantine", notes=True) == []


@pytest.mark.parametrize("step", STEPS)
def test_a_real_kill_at_every_step_loses_nothing(desk, step):
    inbox, db = desk
    names = _fill_kill_inbox(inbox)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", KILLED, str(inbox), str(db), step, "1"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 9, out.stderr  # it really died at that step
    quick_watch(inbox, db)
    _check_after_restart(inbox, db, names)


@pytest.mark.parametrize("nth", [1, 2, 3])
def test_a_crash_at_every_step_of_every_file_loses_nothing(tmp_path, nth):
    for step in STEPS:
        inbox, db = tmp_path / step / "inbox", tmp_path / step / "data" / "intake.db"
        inbox.mkdir(parents=True)
        names = _fill_kill_inbox(inbox)
        seen = []

        def hook(s, step=step):
            seen.append(s)
            if s == step and seen.count(s) == nth:
                raise Crash(s)

        with pytest.raises(Crash):
            quick_watch(inbox, db, on_step=hook)
        quick_watch(inbox, db)
        _check_after_restart(inbox, db, names)


# -- 9. any bytes in a name ---------------------------------------------------------------------------------


def test_names_that_are_not_utf8_or_255_bytes_long_are_taken_and_kept(desk):
    inbox, db = desk
    odd = b"fax-\xff\xfe-\x83e\x83\x8c.jpg"  # Shift_JIS bytes, not UTF-8
    long_name = b"x" * (NAME_MAX - 4) + b".tif"
    inb = os.fsencode(inbox)
    Path(os.fsdecode(os.path.join(inb, odd))).write_bytes(photo(inbox / ".tmp.jpg", 5))
    (inbox / ".tmp.jpg").unlink()
    with open(os.path.join(inb, long_name), "wb"):
        pass  # empty: quarantined, with a .reason.txt that must still fit in NAME_MAX

    stats = quick_watch(inbox, db)

    assert os.listdir(inb) == []
    assert stats.no_form == 1 and stats.quarantined == 1
    stored = files_in(db.parent, notes=True)
    assert all(len(os.fsencode(p.name)) <= NAME_MAX for p in stored)
    assert any(p.name.endswith(".tif.reason.txt") for p in stored)
    with Store(db) as store:
        originals = {bytes(r[0]) for r in store.db.execute("SELECT original_name FROM files")}
    assert originals == {odd, long_name}


# -- 12. one watcher per inbox; the desk's own folders cannot be watched ---------------------------------


def test_the_desks_own_folders_cannot_be_watched(tmp_path):
    db = tmp_path / "data" / "intake.db"
    for folder in (tmp_path / "data" / "quarantine", tmp_path / "data"):
        folder.mkdir(parents=True, exist_ok=True)
        done = cli("watch", str(folder), "--db", str(db), "--once")
        assert done.returncode == 7 and "[inbox_is_data_folder]" in done.stderr, done.stderr


def test_two_watchers_with_different_stores_cannot_share_an_inbox(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.Popen([sys.executable, "-m", "intake", "watch", str(inbox), "--db", str(tmp_path / "a" / "i.db"),
                              "--jobs", "1"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 30
        while not (tmp_path / "a" / "i.db.watch.lock").exists() and time.monotonic() < end:
            time.sleep(0.1)
        time.sleep(0.3)
        done = cli("watch", str(inbox), "--db", str(tmp_path / "b" / "i.db"), "--once")
        assert done.returncode == 7 and "[inbox_busy]" in done.stderr, done.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)
    assert first.returncode == 0
    with FolderLock(inbox, "the inbox", folder=True), pytest.raises(InboxBusyError):
        quick_watch(inbox, tmp_path / "c" / "i.db")


# -- 13. settling is what the watcher saw; a sender that pauses is not quarantined ---------------------------


def test_an_old_mtime_does_not_count_as_settled(tmp_path):
    path = tmp_path / "old.tif"
    path.write_bytes(b"x")
    os.utime(path, (946684800, 946684800))  # the year 2000
    settle = Stability(0.4)
    assert settle.ready(scan_inbox(os.fsencode(tmp_path))[0]) == []
    time.sleep(0.5)
    assert [e.name for e in settle.ready(scan_inbox(os.fsencode(tmp_path))[0])] == [b"old.tif"]


def test_a_sender_that_pauses_is_not_quarantined(desk, caplog):
    inbox, db = desk
    data = photo(inbox.parent / "whole.jpg", 11, size=(300, 400))
    part = inbox / "slow.jpg"
    part.write_bytes(data[: len(data) // 2])  # the sender stalls half-way
    caplog.set_level(logging.INFO, logger="intake.desk")
    stop = threading.Event()
    runner = threading.Thread(target=watch, args=(inbox,),
                              kwargs={"db": db, "settle": 0.2, "grace": 30, "stop": stop, "poll": True, "progress": False})
    runner.start()
    try:
        end = time.monotonic() + 20
        while "looks incomplete" not in caplog.text and time.monotonic() < end:
            time.sleep(0.1)
        assert "looks incomplete (corrupt_file)" in caplog.text  # it was read, and judged partial
        with open(part, "ab") as fh:  # the sender goes on
            fh.write(data[len(data) // 2:])
        end = time.monotonic() + 20
        while not files_in(db.parent / "archive") and time.monotonic() < end:
            time.sleep(0.1)
    finally:
        stop.set()
        runner.join(timeout=30)
    assert [p.read_bytes() == data for p in files_in(db.parent / "archive")] == [True]
    assert files_in(db.parent / "quarantine") == []


# -- 14. purge --older-than ------------------------------------------------------------------------------------


@pytest.mark.parametrize("days", ["nan", "inf", "-inf", "1e12", "-1", "ten"])
def test_purge_older_than_must_be_a_sane_number(days, capsys):
    from intake.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["purge", "--older-than", days, "--db", "/nonexistent/intake.db"])
    assert exit_.value.code == 2
    assert "--older-than" in capsys.readouterr().err


# -- load: a burst read by two worker processes, one writer ----------------------------------------------------


def test_a_burst_with_two_jobs_loses_nothing_and_reads_nothing_twice(desk):
    inbox, db = desk
    shutil.copy(SAMPLES / "fax_0001.tif", inbox / "fax_a.tif")
    shutil.copy(SAMPLES / "fax_0001.tif", inbox / "fax_a_again.tif")  # same bytes: one duplicate
    for i in range(28):
        photo(inbox / f"photo_{i:02d}.jpg", 100 + i)
    names = sorted(p.name for p in inbox.iterdir())

    done = cli("watch", str(inbox), "--db", str(db), "--once", "--settle", "0", "--jobs", "2")

    assert done.returncode == 0, done.stderr
    assert list(inbox.iterdir()) == []
    assert sorted(p.name for p in files_in(db.parent / "archive")) == names
    assert "1 archived (1 records), 28 without a form, 1 duplicates, 0 quarantined" in done.stderr
    with Store(db) as store:
        assert store.db.execute("SELECT count(*) FROM files").fetchone()[0] == 29
        assert len(store.records()) == 1
        assert store.pending_moves() == []


def test_a_worker_that_dies_loses_no_fax(desk):
    inbox, db = desk
    for i in range(8):
        photo(inbox / f"photo_{i}.jpg", 200 + i)
    with Store(db) as store:
        d = Desk(store, db.parent / "archive", db.parent / "quarantine", jobs=2)
        d.recover()
        probe = db.parent / "probe.jpg"
        photo(probe, 1)
        assert d.readers.submit(probe).result()[0] == "ok"  # the workers are up
        os.kill(next(iter(d.readers.pool._processes)), signal.SIGKILL)
        time.sleep(0.5)
        try:
            stats = Watcher(d, inbox, settle=0, grace=0, progress=False).run_once()
        finally:
            d.close()
    assert stats.no_form == 8 and stats.quarantined == 0
    assert list(inbox.iterdir()) == []
