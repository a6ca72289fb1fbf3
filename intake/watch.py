"""The inbox watcher: every fax the fax server drops into a folder becomes records, exactly once.

The inbox is hostile ground: anyone who can write there can drop a symlink, a FIFO, a name that is
not UTF-8, a file that is still being written. So the watcher

  1. takes only regular files: ``lstat``, then ``open`` with ``O_NOFOLLOW``, ``fstat`` the open fd
     (same inode, still regular) and copies its bytes into ``work/`` in the data folder, hashing
     them on the way. Everything after works on that private copy; nothing outside the data folder
     is ever chmod-ed, moved or linked. A symlink or other entry is left alone (logged once).
  2. reads the copy (in this process or in ``--jobs`` worker processes), and for its SHA-256
       - bytes already stored        -> archived again ("duplicate of ..."), no new records;
       - readable, with form pages   -> records + crops, then archive/YYYY-MM-DD/;
       - readable, but no form page  -> a file row with zero records and the reason, archived with
                                        a ``.reason.txt`` beside it;
       - unreadable (IntakeError)    -> quarantine/ with ``<name>.reason.txt``; a file that looks
                                        partial (empty, damaged, unknown format) is only quarantined
                                        once it has stayed unchanged for the grace period;
       - anything unexpected         -> quarantine/ with reason ``internal_error`` and the traceback.
  3. journals the move: the rows, the copy's destination and the inbox entry to remove are written
     in ONE transaction before anything moves; then the copy is linked into place, the reason note
     written, the inbox entry and the work copy removed, and the journal row deleted. Each step is
     idempotent, and every start first finishes the journal: a kill at any point loses nothing,
     reads nothing twice, and leaves no copy that purge cannot find.

A store that cannot be written stops the watcher (the fax stays in the inbox). Log lines name files
by SHA-256 prefix and records by id: fax file names often carry the sender's phone number, and field
values are personal data.
"""

from __future__ import annotations

import concurrent.futures as cf
import errno
import fcntl
import hashlib
import itertools
import logging
import multiprocessing
import os
import secrets
import shutil
import signal
import stat
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from intake.errors import (
    EngineError,
    InboxBusyError,
    InboxIsDataFolderError,
    InboxMissingError,
    IntakeError,
    NoFormFoundError,
    StoreError,
    StoreWriteError,
    TemplateError,
)
from intake.private import create_private, make_private_dir, write_private
from intake.store import Move, Store

log = logging.getLogger("intake.desk")

IGNORED_SUFFIXES = (b".tmp", b".part", b".partial", b".crdownload", b".reason.txt")
NOTE_SUFFIX = ".reason.txt"
NAME_MAX = 255
# Room kept in a stored name for the ``-NNNN`` that makes it unique and the reason note's suffix.
STORED_NAME_MAX = NAME_MAX - len(NOTE_SUFFIX) - len("-9999")
# These mean the desk itself is broken (no OCR engine, bad template, store unusable),
# not the fax: stop and leave the file in the inbox for the next start.
DESK_ERRORS = (EngineError, TemplateError, StoreError)
# What a file still being written looks like. Such a file is only quarantined after it has stayed
# unchanged for the grace period; any change before that starts it afresh.
PARTIAL_REASONS = frozenset({"empty_file", "corrupt_file", "unsupported_format"})
COPY_CHUNK = 1 << 20


def short(sha: str) -> str:
    return sha[:12]


def _ignored(name: bytes) -> bool:
    """Hidden files and temporary names the fax server is still writing."""
    return name.startswith(b".") or name.lower().endswith(IGNORED_SUFFIXES)


# -- inbox entries -----------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One regular file in the inbox, as lstat saw it: the name's bytes and what identifies this version."""

    path: bytes
    ident: tuple[int, int, int, int]  # st_dev, st_ino, st_size, st_mtime_ns

    @property
    def name(self) -> bytes:
        return os.path.basename(self.path)


def _ident(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def scan_inbox(inbox: bytes) -> tuple[list[Entry], list[tuple[bytes, tuple, str]]]:
    """The regular files in ``inbox``, and every other entry (name, identity, kind) that is left alone."""
    regular, others = [], []
    try:
        with os.scandir(inbox) as it:
            for e in it:
                if _ignored(e.name):
                    continue
                try:
                    st = e.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    regular.append(Entry(e.path, _ident(st)))
                else:
                    kind = "symlink" if stat.S_ISLNK(st.st_mode) else "folder" if stat.S_ISDIR(st.st_mode) else "special file"
                    others.append((e.path, _ident(st), kind))
    except FileNotFoundError:
        raise InboxMissingError(f"the inbox {os.fsdecode(inbox)} no longer exists") from None
    return regular, others


def display_name(name: bytes) -> str:
    """A file name as text for the store and the desk (bytes that are not UTF-8 become U+FFFD)."""
    return name.decode("utf-8", "replace")


def stored_name(name: bytes, sha: str) -> str:
    """The name a copy gets in the archive or quarantine: the original where it fits (UTF-8, short enough
    for ``-NNNN`` and ``.reason.txt`` within NAME_MAX), else shortened with the SHA-256 prefix.
    The original bytes are kept in the store."""
    text = name.decode("utf-8", "replace").replace("\ufffd", "_")
    if len(text.encode()) <= STORED_NAME_MAX:
        return text
    stem, ext = os.path.splitext(text)
    ext = ext if len(ext.encode()) <= 16 else ""
    room = STORED_NAME_MAX - len(ext.encode()) - 17
    return f"{stem.encode()[:room].decode('utf-8', 'ignore')}-{sha[:16]}{ext}"


# -- outcomes ------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What happened to one file (for logs, counters and tests)."""

    kind: str  # archived | no_form | duplicate | quarantined | vanished | deferred | waiting | left_alone
    sha256: str = ""
    record_ids: list[str] = field(default_factory=list)
    reason: str = ""
    dest: Path | None = None
    pages: int = 0
    entry: Entry | None = None


@dataclass
class Stats:
    archived: int = 0
    no_form: int = 0
    duplicate: int = 0
    quarantined: int = 0
    records: int = 0
    pages: int = 0

    def add(self, o: Outcome) -> None:
        if o.kind in ("archived", "no_form", "duplicate", "quarantined"):
            setattr(self, o.kind, getattr(self, o.kind) + 1)
        if o.kind == "archived":
            self.records += len(o.record_ids)
        self.pages += o.pages

    def line(self) -> str:
        return (f"{self.archived} archived ({self.records} records), {self.no_form} without a form, "
                f"{self.duplicate} duplicates, {self.quarantined} quarantined")


# -- reading, in this process or in workers -----------------------------------------------------


def _read(path: str, process: Callable | None = None):
    """Read one claimed copy; returns ("ok", FileResult) | ("error", class, message) | ("internal", traceback).

    Plain tuples cross the process boundary whatever an exception's constructor looks like."""
    try:
        if process is None:
            from intake.pipeline import process_file as process
        return ("ok", process(path))
    except IntakeError as exc:
        return ("error", type(exc), exc.message)
    except Exception:  # noqa: BLE001 - any bug becomes internal_error for this one file
        return ("internal", traceback.format_exc())


def _load_pipeline(build: Callable | None = None) -> None:
    """Worker start: load templates, engines and models once for all the files this worker reads
    (``build()`` makes the pipeline, e.g. one with the desk's register; default: the plain one)."""
    from intake import pipeline

    # Ctrl-C reaches the whole process group: the main process decides when to stop, not the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The parallelism is the workers: one thread each (OpenCV here, Tesseract in the processes it starts),
    # or N workers would each spread over every core and fight for them.
    os.environ["OMP_THREAD_LIMIT"] = "1"
    import cv2

    cv2.setNumThreads(1)
    pipeline._DEFAULT = build() if build else pipeline.Pipeline()
    pipeline._DEFAULT.engines  # noqa: B018 - load the engines now, not on the first fax


class Readers:
    """Reads claimed copies: in this process (``jobs`` 1, or a given ``process`` function), or in
    ``jobs`` worker processes with the pipeline loaded once in each. ``build`` (picklable, no
    arguments) makes the pipeline wherever it is loaded; by default the plain one."""

    def __init__(self, jobs: int, process: Callable | None = None, build: Callable | None = None):
        self.jobs = max(1, jobs)
        self.process = process
        self.build = build
        self.pool: cf.ProcessPoolExecutor | None = None

    @property
    def parallel(self) -> bool:
        return self.process is None and self.jobs > 1

    def submit(self, path: Path) -> cf.Future:
        if not self.parallel:
            if self.process is None and self.build is not None:
                self.process = self.build().process_file
            fut: cf.Future = cf.Future()
            fut.set_result(_read(str(path), self.process))
            return fut
        for _ in range(2):
            if self.pool is None:
                self.pool = cf.ProcessPoolExecutor(self.jobs, mp_context=multiprocessing.get_context("forkserver"),
                                                   initializer=_load_pipeline, initargs=(self.build,))
            try:
                return self.pool.submit(_read, str(path))
            except cf.process.BrokenProcessPool:
                self.broken()  # a worker died while idle: start afresh
        raise EngineError("the worker processes that read faxes cannot be started")

    def broken(self) -> None:
        """A worker died (killed, out of memory): start a fresh pool for the next files."""
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


# -- one file ----------------------------------------------------------------------------------


@dataclass
class Claim:
    """A regular inbox file copied into ``work/``: the copy is what gets read, stored and archived."""

    entry: Entry
    sha256: str
    work: Path
    final: bool  # quarantine even what looks like a partial file (it has been still for the grace period)
    journalled: bool = False  # its move is in the store: from here on the journal owns the work copy


class Desk:
    """Claims inbox files, reads them, stores what they gave and moves them, one journalled step at a time.

    ``on_step(name)`` is called after each named step (``claimed``, ``journalled``, ``linked``,
    ``noted``, ``inbox_removed``, ``work_removed``, ``finished``) so that a test can kill the
    process at every one of them.
    """

    def __init__(self, store: Store, archive: Path, quarantine: Path, *, process: Callable | None = None,
                 jobs: int = 1, build: Callable | None = None, today: Callable[[], str] | None = None,
                 on_step: Callable[[str], None] | None = None):
        self.store = store
        self.archive = Path(os.path.abspath(archive))
        self.quarantine = Path(os.path.abspath(quarantine))
        self.work = store.data_dir / "work"
        self.readers = Readers(jobs, process, build)
        self._today = today or (lambda: datetime.now().strftime("%Y-%m-%d"))
        self._on_step = on_step or (lambda step: None)
        self.inflight: dict[cf.Future, Claim] = {}
        # Files that were being read when a worker died: a worker death takes every file in hand
        # with it, so a file is blamed (internal_error) only the second time.
        self.crashes: dict[str, int] = {}

    # -- start: finish the journal, clear what a kill left half-made ----------------------------

    def recover(self) -> None:
        """Finish every journalled move, then remove work copies and crops that no row refers to."""
        for move in self.store.pending_moves():
            self._move(move)
        make_private_dir(self.work)
        for p in self.work.iterdir():
            p.unlink(missing_ok=True)  # a copy claimed but never stored: its original is still in the inbox
        if self.store.crops_dir.is_dir():
            known = {r[0] for r in self.store.db.execute("SELECT id FROM records")}
            for d in self.store.crops_dir.iterdir():
                if d.name not in known:
                    shutil.rmtree(d, ignore_errors=True)

    # -- claim ---------------------------------------------------------------------------------

    def claim(self, entry: Entry, final: bool) -> Claim | str:
        """Copy a regular inbox file into work/, hashing it. Otherwise a word for why not: ``vanished``
        (gone, changed or replaced since it was listed: look again next pass) or ``unreadable``."""
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            # ELOOP: swapped for a symlink since it was listed.
            return "vanished" if exc.errno in (errno.ENOENT, errno.ELOOP) else "unreadable"
        work = self.work / f"{secrets.token_hex(8)}.fax"
        claimed = False
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or _ident(st) != entry.ident:
                return "vanished"
            h = hashlib.sha256()
            try:
                out = create_private(work)
            except OSError as exc:
                raise StoreWriteError(f"cannot write in the data folder {self.work}: {exc.strerror}") from None
            try:
                while True:
                    try:
                        chunk = os.read(fd, COPY_CHUNK)
                    except OSError:
                        return "unreadable"
                    if not chunk:
                        break
                    h.update(chunk)
                    _write_all(out, chunk, self.work)
                _sync(out, self.work)
            finally:
                os.close(out)
            if _ident(os.fstat(fd)) != entry.ident:
                return "vanished"  # the sender is still writing
            # The fax's day is the day it arrived, which the pipeline reads from the mtime.
            os.utime(work, ns=(st.st_atime_ns, st.st_mtime_ns))
            claimed = True
        finally:
            os.close(fd)
            if not claimed:
                work.unlink(missing_ok=True)
        self._on_step("claimed")
        return Claim(entry, h.hexdigest(), work, final)

    def release(self, claim: Claim) -> None:
        claim.work.unlink(missing_ok=True)

    # -- start / collect -----------------------------------------------------------------------

    def start(self, entry: Entry, final: bool = True) -> Outcome | None:
        """Take one inbox file: an Outcome now, or None while it is being read (see ``collect``)."""
        claim = self.claim(entry, final)
        if claim == "unreadable":
            log.warning("an inbox file cannot be read; left alone [unreadable_entry]")
            return Outcome("left_alone", reason="unreadable_entry", entry=entry)
        if isinstance(claim, str):
            return Outcome("vanished", entry=entry)
        if any(c.sha256 == claim.sha256 for c in self.inflight.values()):
            self.release(claim)  # the same bytes are being read: decide on this one after that
            return Outcome("waiting", claim.sha256, entry=entry)
        try:
            prior = self.store.lookup_file(claim.sha256)
            if prior is not None and prior.state != "quarantined":
                return self._finish(claim, ("duplicate", prior))
            self.inflight[self.readers.submit(claim.work)] = claim
        except BaseException:
            self.release(claim)
            raise
        return None

    def collect(self, block: bool) -> list[Outcome]:
        """Store and move every file whose reading is done (with ``block``, wait for at least one)."""
        if not self.inflight:
            return []
        done, _ = cf.wait(list(self.inflight), timeout=None if block else 0, return_when=cf.FIRST_COMPLETED)
        out = []
        for fut in done:
            claim = self.inflight.pop(fut)
            try:
                read = fut.result()
            except cf.process.BrokenProcessPool:
                self.readers.broken()
                self.crashes[claim.sha256] = self.crashes.get(claim.sha256, 0) + 1
                if self.crashes[claim.sha256] < 2:
                    self.release(claim)
                    out.append(Outcome("waiting", claim.sha256, entry=claim.entry))
                    continue
                read = ("internal", "the process reading this file died twice (killed, or out of memory)")
            out.append(self._finish(claim, read))
        return out

    def drain(self) -> list[Outcome]:
        out = []
        while self.inflight:
            out += self.collect(block=True)
        return out

    def close(self) -> None:
        for claim in self.inflight.values():
            self.release(claim)
        self.inflight.clear()
        self.readers.close()

    # -- the decision ------------------------------------------------------------------------------

    def _finish(self, claim: Claim, read) -> Outcome:
        try:
            outcome = self._decide(claim, read)
        except BaseException:
            if not claim.journalled:
                self.release(claim)
            raise
        outcome.entry = claim.entry
        return outcome

    def _decide(self, claim: Claim, read) -> Outcome:
        kind = read[0]
        if kind == "duplicate":
            return self._duplicate(claim, read[1])
        if kind == "internal":
            return self._quarantine(claim, "internal_error", "unexpected error while processing:\n" + read[1])
        if kind == "error":
            exc = read[1](read[2])
            if isinstance(exc, DESK_ERRORS):
                raise exc
            if isinstance(exc, NoFormFoundError):
                return self._no_form(claim, [(0, exc.message)], 0)
            if exc.reason in PARTIAL_REASONS and not claim.final:
                self.release(claim)
                log.info("file %s: looks incomplete (%s); waiting to see whether it changes", short(claim.sha256), exc.reason)
                return Outcome("deferred", claim.sha256, reason=exc.reason)
            return self._quarantine(claim, exc.reason, exc.message)
        result = read[1]
        skipped = [(s.source.page, s.reason) for s in result.skipped]
        if not result.records:
            return self._no_form(claim, skipped, result.pages)
        move = self._plan(claim, self._archive_day())
        ids = self.store.save_file(claim.sha256, display_name(claim.entry.name), result.records, skipped,
                                   original_name=claim.entry.name, move=move)
        claim.journalled = True
        self._on_step("journalled")
        self._move(move)
        flags = [f"{rid}{' review' if r.review_needed else ''}" for rid, r in zip(ids, result.records)]
        log.info("file %s: %d record(s) [%s], %d page(s) skipped; archived",
                 short(claim.sha256), len(ids), ", ".join(flags), len(result.skipped))
        return Outcome("archived", claim.sha256, ids, dest=self.store.resolve(move.dest), pages=result.pages)

    def _duplicate(self, claim: Claim, prior) -> Outcome:
        # Same bytes seen before (a re-sent fax): archived again, no new records.
        move = self._plan(claim, self._archive_day())
        self.store.plan_move(move)
        claim.journalled = True
        self._on_step("journalled")
        self._move(move)
        ids = self.store.record_ids_of(claim.sha256)
        log.info("file %s: duplicate of file received %s (%s); archived, no new records",
                 short(claim.sha256), prior.received, ", ".join(ids) or prior.state)
        return Outcome("duplicate", claim.sha256, ids, dest=self.store.resolve(move.dest))

    def _no_form(self, claim: Claim, skipped: list[tuple[int, str]], pages: int) -> Outcome:
        detail = "; ".join(f"page {p}: {why}" if p else why for p, why in skipped) or "no pages"
        reason = f"no_form_found: {detail}"
        move = self._plan(claim, self._archive_day(), note=f"reason: no_form_found\n{detail}\n")
        self.store.save_file(claim.sha256, display_name(claim.entry.name), [], [s for s in skipped if s[0]],
                             no_form_reason=reason, original_name=claim.entry.name, move=move)
        claim.journalled = True
        self._on_step("journalled")
        self._move(move)
        log.info("file %s: no form found (%s); archived with a reason note", short(claim.sha256), detail)
        return Outcome("no_form", claim.sha256, reason=reason, dest=self.store.resolve(move.dest), pages=pages)

    def _quarantine(self, claim: Claim, reason: str, message: str) -> Outcome:
        move = self._plan(claim, self.quarantine, note=f"reason: {reason}\n{message}\n")
        first_line = message.splitlines()[0] if message else ""
        self.store.save_quarantined(claim.sha256, display_name(claim.entry.name), f"{reason}: {first_line}",
                                    original_name=claim.entry.name, move=move)
        claim.journalled = True
        self._on_step("journalled")
        self._move(move)
        log.warning("file %s: quarantined (%s)", short(claim.sha256), reason)
        return Outcome("quarantined", claim.sha256, reason=reason, dest=self.store.resolve(move.dest))

    def _archive_day(self) -> Path:
        return self.archive / self._today()

    # -- the journalled move -------------------------------------------------------------------------

    def _plan(self, claim: Claim, folder: Path, note: str | None = None) -> Move:
        """A destination that is free on disk and in the journal (never overwrite: add -1, -2, ...)."""
        make_private_dir(folder)
        name = stored_name(claim.entry.name, claim.sha256)
        stem, suffix = os.path.splitext(name)
        for n in itertools.count():
            dest = folder / (name if n == 0 else f"{stem}-{n}{suffix}")
            if os.path.lexists(dest) or os.path.lexists(str(dest) + NOTE_SUFFIX):
                continue
            if self.store.db.execute("SELECT 1 FROM moves WHERE dest = ?", (self.store.rel(dest),)).fetchone():
                continue
            return Move(claim.sha256, self.store.rel(dest), self.store.rel(claim.work), claim.entry.path,
                        claim.entry.ident, note)
        raise AssertionError("unreachable")

    def _move(self, move: Move) -> None:
        """Carry out one journalled move; every step may already have been done by a killed run."""
        try:
            self._move_steps(move)
        except OSError as exc:
            raise StoreWriteError(f"cannot move a fax into {os.path.dirname(move.dest) or '.'}: {exc.strerror}") from None

    def _move_steps(self, move: Move) -> None:
        work, dest = self.store.resolve(move.work), self.store.resolve(move.dest)
        if not os.path.lexists(dest):
            if not work.exists():
                log.error("file %s: its claimed copy is missing; the inbox file is kept", short(move.file_sha256))
                self.store.finish_move(move)
                return
            make_private_dir(dest.parent)
            try:
                os.link(work, dest, follow_symlinks=False)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP):
                    raise
                _copy_new(work, dest)  # an --archive on another filesystem
        self._on_step("linked")
        if move.note is not None and not os.path.lexists(str(dest) + NOTE_SUFFIX):
            write_private(Path(str(dest) + NOTE_SUFFIX), move.note.encode("utf-8"))
        self._on_step("noted")
        _remove_inbox_entry(move)
        self._on_step("inbox_removed")
        work.unlink(missing_ok=True)
        self._on_step("work_removed")
        self.store.finish_move(move)
        self._on_step("finished")


def _write_all(fd: int, data: bytes, folder: Path) -> None:
    """Write every byte (a nearly full disk takes part of a write without an error, then fails)."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        raise StoreWriteError(f"cannot write in the data folder {folder}: {exc.strerror}") from None


def _sync(fd: int, folder: Path) -> None:
    try:
        os.fsync(fd)
    except OSError as exc:
        raise StoreWriteError(f"cannot write in the data folder {folder}: {exc.strerror}") from None


def _remove_inbox_entry(move: Move) -> None:
    """Remove the inbox entry the copy was taken from, if it is still that very file."""
    try:
        st = os.lstat(move.inbox_path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode) or _ident(st) != move.inbox_id:
        return  # replaced since (a new fax under the same name): it will be read on its own
    try:
        os.unlink(move.inbox_path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("file %s: stored, but the inbox entry cannot be removed (%s) [inbox_not_writable]",
                    short(move.file_sha256), exc.strerror)


def _copy_new(src: Path, dst: Path) -> None:
    with open(src, "rb") as fin:
        with open(create_private(dst), "wb") as fout:
            while chunk := fin.read(COPY_CHUNK):
                fout.write(chunk)
            fout.flush()
            os.fsync(fout.fileno())


# -- the inbox loop -----------------------------------------------------------------------------


class Stability:
    """Which inbox files this watcher has itself seen unchanged for ``settle`` seconds.

    A file's mtime says nothing (a sender can set any mtime, and an old one would count at once);
    only what this process observed counts: the time it first saw the file's current identity.
    """

    def __init__(self, settle: float, clock: Callable[[], float] = time.monotonic):
        self.settle = settle
        self.clock = clock
        self.first_seen: dict[bytes, tuple[tuple, float]] = {}

    def observe(self, entries: list[Entry]) -> None:
        now = self.clock()
        self.first_seen = {e.path: (e.ident, self.since(e, now)) for e in entries}

    def since(self, entry: Entry, now: float) -> float:
        old = self.first_seen.get(entry.path)
        return old[1] if old and old[0] == entry.ident else now

    def quiet(self, entry: Entry) -> float:
        return self.clock() - self.first_seen[entry.path][1]

    def ready(self, entries: list[Entry]) -> list[Entry]:
        self.observe(entries)
        out = [e for e in entries if self.quiet(e) >= self.settle]
        return sorted(out, key=lambda e: (self.first_seen[e.path][1], e.path))


class Watcher:
    """Watch one inbox folder (inotify, or polling with ``poll=True``) and hand complete files to a Desk."""

    def __init__(self, desk: Desk, inbox: Path, *, poll: bool = False, settle: float = 2.0, grace: float = 60.0,
                 stop: threading.Event | None = None, progress: bool | None = None, max_wait: float = 120.0,
                 max_inflight: int | None = None):
        self.desk = desk
        self.inbox = Path(inbox)
        self.inbox_bytes = os.fsencode(os.path.abspath(inbox))
        self.poll = poll
        self.stability = Stability(settle)
        self.settle = settle
        self.grace = max(grace, settle)
        self.stop = stop or threading.Event()
        self.wake = threading.Event()
        self.stats = Stats()
        # Versions already handled (never loop on one that could not be removed from the inbox),
        # versions that looked partial, and entries left alone (logged once).
        self.done: set[tuple[bytes, tuple]] = set()
        self.deferred: dict[bytes, tuple] = {}
        self.reported: set[tuple[bytes, tuple]] = set()
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.max_wait = max_wait
        self.max_inflight = max_inflight or 2 * desk.readers.jobs

    def step(self) -> tuple[int, int]:
        """Process every file that is complete now; returns (processed, still waiting)."""
        regular, others = scan_inbox(self.inbox_bytes)
        self._report(others)
        cands = [e for e in regular if (e.path, e.ident) not in self.done]
        self.deferred = {p: i for p, i in self.deferred.items() if any(e.path == p and e.ident == i for e in cands)}
        processed = waiting = 0
        for entry in self.stability.ready(cands):
            if self.stop.is_set():
                break
            quiet = self.stability.quiet(entry)
            if self.deferred.get(entry.path) == entry.ident and quiet < self.grace:
                continue
            while len(self.desk.inflight) >= self.max_inflight:
                processed += self._record(self.desk.collect(block=True))
            outcome = self.desk.start(entry, final=quiet >= self.grace)
            if outcome is not None:
                processed += self._record([outcome])
            processed += self._record(self.desk.collect(block=False))
        processed += self._record(self.desk.drain())
        for e in cands:
            if (e.path, e.ident) not in self.done:
                waiting += 1
        return processed, waiting

    def _record(self, outcomes: list[Outcome]) -> int:
        n = 0
        for o in outcomes:
            if o.kind in ("vanished", "waiting"):
                continue
            entry = o.entry
            if o.kind == "deferred":
                self.deferred[entry.path] = entry.ident
                continue
            self.done.add((entry.path, entry.ident))
            if o.kind == "left_alone":
                continue
            self.stats.add(o)
            n += 1
            self._show_progress()
        return n

    def _report(self, others: list[tuple[bytes, tuple, str]]) -> None:
        for path, ident, kind in others:
            if (path, ident) not in self.reported:
                self.reported.add((path, ident))
                log.warning("an inbox entry that is not a regular file (%s) was left alone [not_a_regular_file]", kind)

    def _show_progress(self) -> None:
        """A whole line per file handled, with what waits for a person: a line left open with a
        carriage return would be glued to the next log message."""
        if self.progress:
            from intake.messages import language
            from intake.review.queue import counts

            waiting = counts(self.desk.store).total_waiting
            tail = f"確認待ち {waiting} 件" if language() == "ja" else f"{waiting} waiting for review"
            sys.stderr.write(f"intake watch: {self.stats.line()}; {tail}\n")
            sys.stderr.flush()

    def run_once(self) -> Stats:
        """Process what is in the inbox now (waiting for files still being written, up to max_wait), then return."""
        deadline = time.monotonic() + self.max_wait
        try:
            while not self.stop.is_set():
                processed, waiting = self.step()
                if waiting == 0:
                    break
                if time.monotonic() > deadline:
                    log.warning("%d file(s) still changing after %.0fs; left for the next run", waiting, self.max_wait)
                    break
                if not processed:
                    self.stop.wait(min(0.2, self.settle / 4 or 0.05))
        finally:
            self._finish()
        return self.stats

    def run_forever(self) -> Stats:
        """Watch until ``stop`` is set (SIGTERM/Ctrl-C); the files in hand are always finished first."""
        observer = self._start_observer()
        try:
            while not self.stop.is_set():
                _, waiting = self.step()
                # Files still settling: look again soon. Otherwise sleep until an event
                # (with a slow rescan as a safety net for missed events).
                self.wake.wait(timeout=max(self.settle / 2, 0.05) if waiting else 30.0)
                self.wake.clear()
        finally:
            observer.stop()
            observer.join(timeout=5)
            self._finish()
        return self.stats

    def _start_observer(self):
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        wake = self.wake

        class _Wake(FileSystemEventHandler):
            def on_any_event(self, event):  # noqa: D401 - any change in the inbox: look again
                wake.set()

        for kind in ([PollingObserver] if self.poll else [Observer, PollingObserver]):
            observer = kind(timeout=1) if kind is PollingObserver else kind()
            observer.schedule(_Wake(), str(self.inbox), recursive=False)
            try:
                observer.start()
                log.info("watching the inbox (%s)", "polling" if kind is PollingObserver else "inotify")
                return observer
            except OSError as exc:  # e.g. inotify watch limit reached
                log.warning("inotify unavailable (%s); falling back to polling", exc)
        raise StoreError(f"cannot watch {self.inbox}")

    def _finish(self) -> None:
        if self.progress:
            sys.stderr.write("\n")
        log.info("stopped: %s (%d pages)", self.stats.line(), self.stats.pages)

    def install_signal_handlers(self) -> None:
        """SIGTERM and Ctrl-C: finish the files in hand, then exit cleanly."""

        def handler(signum, frame):
            log.info("signal %d: finishing the current file, then stopping", signum)
            self.stop.set()
            self.wake.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)


# -- locks and folders ------------------------------------------------------------------------


class FolderLock:
    """An exclusive flock held for the watcher's life: one watcher per inbox, and one per store."""

    def __init__(self, path: Path, what: str, *, folder: bool = False):
        self.path, self.what, self.folder = path, what, folder
        self.fd = -1

    def __enter__(self) -> "FolderLock":
        flags = (os.O_RDONLY | os.O_DIRECTORY) if self.folder else (os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW)
        self.fd = os.open(self.path, flags | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise InboxBusyError(f"another `intake watch` is already using {self.what}") from None
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def check_not_data_folder(inbox: Path, folders: list[Path]) -> None:
    """Refuse to watch the desk's own folders (or one inside them): it would read its own output."""
    real = Path(os.path.realpath(inbox))
    for folder in folders:
        own = Path(os.path.realpath(folder))
        if real == own or real.is_relative_to(own):
            raise InboxIsDataFolderError(
                f"the inbox {inbox} is one of the desk's own folders ({folder}); "
                "watch the folder the fax server writes into"
            )


def watch(inbox: str | Path, *, db: str | Path | None = None, archive: str | Path | None = None,
          quarantine: str | Path | None = None, poll: bool = False, once: bool = False, settle: float = 2.0,
          grace: float = 60.0, jobs: int = 1, stop: threading.Event | None = None, process: Callable | None = None,
          build: Callable | None = None, signals: bool = False, progress: bool | None = None,
          on_step: Callable[[str], None] | None = None) -> Stats:
    """Run the desk over ``inbox``; archive/quarantine default to folders beside the database.

    ``process(path)`` reads one file in this process (tests); otherwise ``build()`` (picklable) makes
    the pipeline each of the ``jobs`` readers loads once (default: the plain pipeline)."""
    inbox = Path(inbox)
    if not inbox.is_dir():
        raise InboxMissingError(f"the inbox {inbox} is not a folder; create it or check the path")
    with Store(db) as store:
        data = store.data_dir
        desk = Desk(store, Path(archive) if archive else data / "archive",
                    Path(quarantine) if quarantine else data / "quarantine", process=process, jobs=jobs,
                    build=build, on_step=on_step)
        check_not_data_folder(inbox, [data, desk.archive, desk.quarantine, store.crops_dir, desk.work])
        with FolderLock(inbox, f"the inbox {inbox}", folder=True), \
                FolderLock(Path(str(store.path) + ".watch.lock"), f"the store {store.path}"):
            make_private_dir(desk.archive)
            make_private_dir(desk.quarantine)
            desk.recover()
            watcher = Watcher(desk, inbox, poll=poll, settle=settle, grace=grace, stop=stop, progress=progress)
            if signals:
                watcher.install_signal_handlers()
            try:
                return watcher.run_once() if once else watcher.run_forever()
            finally:
                desk.close()
