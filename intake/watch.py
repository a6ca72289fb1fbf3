"""The inbox watcher: every fax the fax server drops into a folder becomes records, exactly once.

For each file: wait until it is complete (size and mtime stable), hash it, and
  - bytes already stored        -> archive it again ("duplicate of ..."), no new records;
  - readable, with form pages   -> records + crops stored in ONE transaction, then archive/YYYY-MM-DD/;
  - readable, but no form page  -> stored as a file with zero records and the reason, archived with
                                   a ``.reason.txt`` beside it;
  - unreadable (IntakeError)    -> quarantine/ with ``<name>.reason.txt`` (reason code + message);
  - anything unexpected         -> quarantine/ with reason ``internal_error`` and the traceback.
The database is written before the file moves, so a crash at any point leaves
the file either in the inbox (to be redone, or archived as already stored) or
moved with its records committed: never lost, never read twice.

Log lines name files by SHA-256 prefix and records by id: fax file names often
carry the sender's phone number, and field values are personal data.
"""

from __future__ import annotations

import errno
import fcntl
import itertools
import logging
import os
import shutil
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from intake.errors import EngineError, IntakeError, NoFormFoundError, StoreError, TemplateError
from intake.ingest import sha256_of
from intake.store import Store, make_private_dir

log = logging.getLogger("intake.desk")

IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".reason.txt")
# These mean the desk itself is broken (no OCR engine, bad template, store unusable),
# not the fax: stop and leave the file in the inbox for the next start.
DESK_ERRORS = (EngineError, TemplateError, StoreError)


def is_candidate(path: Path) -> bool:
    """A file the watcher should take: not hidden, not a temporary file still being written."""
    name = path.name
    return not name.startswith(".") and not name.lower().endswith(IGNORED_SUFFIXES) and path.is_file()


def short(sha: str) -> str:
    return sha[:12]


@dataclass
class Outcome:
    """What happened to one file (for logs, counters and tests)."""

    kind: str  # archived | no_form | duplicate | quarantined | vanished
    sha256: str = ""
    record_ids: list[str] = field(default_factory=list)
    reason: str = ""
    dest: Path | None = None


@dataclass
class Stats:
    archived: int = 0
    no_form: int = 0
    duplicate: int = 0
    quarantined: int = 0
    records: int = 0

    def add(self, o: Outcome) -> None:
        if o.kind in ("archived", "no_form", "duplicate", "quarantined"):
            setattr(self, o.kind, getattr(self, o.kind) + 1)
        if o.kind == "archived":
            self.records += len(o.record_ids)

    def line(self) -> str:
        return (f"{self.archived} archived ({self.records} records), {self.no_form} without a form, "
                f"{self.duplicate} duplicates, {self.quarantined} quarantined")


# -- moving files without ever overwriting ----------------------------------------


def _taken(dst: Path) -> bool:
    return dst.exists() or Path(str(dst) + ".reason.txt").exists()


def move_no_clobber(src: Path, folder: Path) -> Path:
    """Move ``src`` into ``folder``, adding -1, -2... to the name if it is taken; returns the new path."""
    make_private_dir(folder)
    stem, suffix = os.path.splitext(src.name)
    for n in itertools.count():
        dst = folder / (src.name if n == 0 else f"{stem}-{n}{suffix}")
        if _taken(dst):
            continue
        try:
            os.link(src, dst)  # atomic, and fails rather than overwrite
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP):
                raise
            shutil.copy2(src, dst)  # another filesystem: copy, then remove below
        os.chmod(dst, 0o600)
        os.unlink(src)
        return dst
    raise AssertionError("unreachable")


def write_private_text(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


# -- one file ----------------------------------------------------------------------


class Desk:
    """Turns one complete inbox file into stored records and moves it to archive or quarantine."""

    def __init__(self, store: Store, archive: Path, quarantine: Path, *,
                 process: Callable | None = None, today: Callable[[], str] | None = None):
        self.store = store
        self.archive = Path(archive)
        self.quarantine = Path(quarantine)
        self._process = process
        self._today = today or (lambda: datetime.now().strftime("%Y-%m-%d"))

    def process(self, path: Path):
        if self._process is None:
            from intake.pipeline import process_file

            self._process = process_file
        return self._process(path)

    def handle(self, path: Path) -> Outcome:
        """Process one file; never raises for a bad file (only for DESK_ERRORS)."""
        try:
            return self._handle(Path(path))
        except DESK_ERRORS:
            raise
        except FileNotFoundError:
            log.warning("a file vanished from the inbox before it could be processed")
            return Outcome("vanished")
        except Exception:  # noqa: BLE001 - the desk must keep running whatever one file does
            return self._guarded_quarantine(Path(path), traceback.format_exc())

    def _handle(self, path: Path) -> Outcome:
        sha = sha256_of(path)
        prior = self.store.lookup_file(sha)
        if prior is not None and prior.state != "quarantined":
            # Same bytes seen before (a re-sent fax, or a restart after a crash between commit and move).
            dest = self._archive(path, sha)
            ids = self.store.record_ids_of(sha)
            log.info("file %s: duplicate of file received %s (%s); archived, no new records",
                     short(sha), prior.received, ", ".join(ids) or prior.state)
            return Outcome("duplicate", sha, ids, dest=dest)
        try:
            result = self.process(path)
        except DESK_ERRORS:
            raise
        except NoFormFoundError as exc:
            return self._no_form(path, sha, [(0, exc.message)])
        except IntakeError as exc:
            return self._quarantine(path, sha, exc.reason, exc.message)
        if not result.records:
            return self._no_form(path, sha, [(s.source.page, s.reason) for s in result.skipped])
        ids = self.store.save_file(sha, path.name, result.records, [(s.source.page, s.reason) for s in result.skipped])
        dest = self._archive(path, sha)
        flags = [f"{rid}{' review' if r.review_needed else ''}" for rid, r in zip(ids, result.records)]
        log.info("file %s: %d record(s) [%s], %d page(s) skipped; archived",
                 short(sha), len(ids), ", ".join(flags), len(result.skipped))
        return Outcome("archived", sha, ids, dest=dest)

    def _no_form(self, path: Path, sha: str, skipped: list[tuple[int, str]]) -> Outcome:
        detail = "; ".join(f"page {p}: {why}" if p else why for p, why in skipped) or "no pages"
        reason = f"no_form_found: {detail}"
        self.store.save_file(sha, path.name, [], [s for s in skipped if s[0]], no_form_reason=reason)
        dest = self._archive(path, sha)
        write_private_text(Path(str(dest) + ".reason.txt"), f"reason: no_form_found\n{detail}\n")
        log.info("file %s: no form found (%s); archived with a reason note", short(sha), detail)
        return Outcome("no_form", sha, reason=reason, dest=dest)

    def _archive(self, path: Path, sha: str) -> Path:
        dest = move_no_clobber(path, self.archive / self._today())
        self.store.set_stored_path(sha, dest)
        return dest

    def _quarantine(self, path: Path, sha: str, reason: str, message: str) -> Outcome:
        self.store.save_quarantined(sha, path.name, f"{reason}: {message.splitlines()[0] if message else ''}")
        dest = move_no_clobber(path, self.quarantine)
        write_private_text(Path(str(dest) + ".reason.txt"), f"reason: {reason}\n{message}\n")
        self.store.set_stored_path(sha, dest)
        log.warning("file %s: quarantined (%s)", short(sha), reason)
        return Outcome("quarantined", sha, reason=reason, dest=dest)

    def _guarded_quarantine(self, path: Path, tb: str) -> Outcome:
        """Last resort for a bug: get the file out of the inbox with the traceback, keep the desk running."""
        try:
            sha = sha256_of(path)
        except OSError:
            sha = ""
        if not path.exists():
            return Outcome("vanished", sha)
        try:
            return self._quarantine(path, sha or "unknown", "internal_error", "unexpected error while processing:\n" + tb)
        except Exception:  # noqa: BLE001
            log.error("file %s: internal error, and it could not be quarantined; left in the inbox", short(sha))
            return Outcome("vanished", sha, reason="internal_error")


# -- the inbox loop -----------------------------------------------------------------


class Stability:
    """Remembers each file's (size, mtime) and says which have not changed for ``settle`` seconds."""

    def __init__(self, settle: float):
        self.settle = settle
        self.seen: dict[Path, tuple[int, int, float]] = {}

    def ready(self, paths: list[Path]) -> list[Path]:
        now = time.time()
        out = []
        fresh: dict[Path, tuple[int, int, float]] = {}
        for p in paths:
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            sig = (st.st_size, st.st_mtime_ns)
            old = self.seen.get(p)
            since = old[2] if old and old[:2] == sig else now
            fresh[p] = (*sig, since)
            # Stable: unchanged since we first saw it this way, or (first sighting) untouched for `settle`.
            quiet = max(now - since, now - st.st_mtime_ns / 1e9)
            if quiet >= self.settle:
                out.append(p)
        self.seen = fresh
        return sorted(out, key=lambda p: (self.seen[p][1], p.name))


class Watcher:
    """Watch one inbox folder (inotify, or polling with ``poll=True``) and hand complete files to a Desk."""

    def __init__(self, desk: Desk, inbox: Path, *, poll: bool = False, settle: float = 2.0,
                 stop: threading.Event | None = None, progress: bool | None = None, max_wait: float = 120.0):
        self.desk = desk
        self.inbox = Path(inbox)
        self.poll = poll
        self.stability = Stability(settle)
        self.settle = settle
        self.stop = stop or threading.Event()
        self.wake = threading.Event()
        self.stats = Stats()
        self.done: set[tuple[Path, int, int]] = set()
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.max_wait = max_wait

    def candidates(self) -> list[Path]:
        try:
            paths = [p for p in self.inbox.iterdir() if is_candidate(p)]
        except FileNotFoundError:
            raise StoreError(f"the inbox {self.inbox} does not exist") from None
        out = []
        for p in paths:
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            if (p, st.st_size, st.st_mtime_ns) not in self.done:
                out.append(p)
        return out

    def step(self) -> tuple[int, int]:
        """Process every file that is complete now; returns (processed, still waiting)."""
        cands = self.candidates()
        processed = 0
        for p in self.stability.ready(cands):
            if self.stop.is_set():
                break
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            outcome = self.desk.handle(p)
            self.done.add((p, st.st_size, st.st_mtime_ns))  # never loop on a file we could not move
            self.stats.add(outcome)
            processed += 1
            self._show_progress()
        return processed, len(cands) - processed

    def _show_progress(self) -> None:
        if self.progress:
            sys.stderr.write(f"\r\x1b[Kintake watch: {self.stats.line()}")
            sys.stderr.flush()

    def run_once(self) -> Stats:
        """Process what is in the inbox now (waiting for files still being written, up to max_wait), then return."""
        deadline = time.monotonic() + self.max_wait
        while not self.stop.is_set():
            processed, waiting = self.step()
            if waiting == 0:
                break
            if time.monotonic() > deadline:
                log.warning("%d file(s) still changing after %.0fs; left for the next run", waiting, self.max_wait)
                break
            if not processed:
                self.stop.wait(min(0.2, self.settle / 4 or 0.05))
        self._finish()
        return self.stats

    def run_forever(self) -> Stats:
        """Watch until ``stop`` is set (SIGTERM/Ctrl-C); the file in hand is always finished first."""
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
        log.info("stopped: %s", self.stats.line())

    def install_signal_handlers(self) -> None:
        """SIGTERM and Ctrl-C: finish the current file, then exit cleanly."""

        def handler(signum, frame):
            log.info("signal %d: finishing the current file, then stopping", signum)
            self.stop.set()
            self.wake.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)


class InboxLock:
    """One watcher per store: a second one would race the first on the same files."""

    def __init__(self, path: Path):
        self.path = path
        self.fh = None

    def __enter__(self) -> "InboxLock":
        self.fh = open(self.path, "a")
        os.chmod(self.path, 0o600)
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.close()
            raise StoreError(f"another `intake watch` is already using this store (lock {self.path})") from None
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


def watch(inbox: str | Path, *, db: str | Path | None = None, archive: str | Path | None = None,
          quarantine: str | Path | None = None, poll: bool = False, once: bool = False, settle: float = 2.0,
          stop: threading.Event | None = None, process: Callable | None = None, signals: bool = False,
          progress: bool | None = None) -> Stats:
    """Run the desk over ``inbox``; archive/quarantine default to folders beside the database."""
    inbox = Path(inbox)
    if not inbox.is_dir():
        raise StoreError(f"the inbox {inbox} is not a folder; create it or check the path")
    with Store(db) as store:
        data = store.path.parent
        desk = Desk(store, Path(archive) if archive else data / "archive",
                    Path(quarantine) if quarantine else data / "quarantine", process=process)
        make_private_dir(desk.archive)
        make_private_dir(desk.quarantine)
        watcher = Watcher(desk, inbox, poll=poll, settle=settle, stop=stop, progress=progress)
        if signals:
            watcher.install_signal_handlers()
        with InboxLock(Path(str(store.path) + ".watch.lock")):
            return watcher.run_once() if once else watcher.run_forever()
