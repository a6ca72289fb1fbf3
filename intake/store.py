"""The record store: one SQLite file (WAL mode) plus crop images beside it.

Everything a fax produced lives here: which file it was (by SHA-256), its
records, every field, and an audit row for each correction a reviewer made.
The schema is versioned with ``PRAGMA user_version``; ``MIGRATIONS[i]`` moves a
database from version ``i`` to ``i + 1``, so old stores upgrade in place.

Personal data: the database, its WAL files and the crops are created readable by
the owner only, and deleted rows are overwritten (``secure_delete``) so that a
purge really removes them.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

from intake.errors import NotADatabaseError, StoreError, StoreWriteError, VersionConflict
from intake.model import Record, record_json
from intake.private import create_private, make_private_dir, write_private
from intake.reasons import Reason

DEFAULT_DB = Path("intake-data") / "intake.db"

FILE_STATES = ("processed", "no_form", "quarantined")
REVIEW_STATES = ("pending", "reviewed", "straight_through")

MIGRATIONS: list[str] = [
    # 0 -> 1: the tables.
    """
    CREATE TABLE files (
        sha256      TEXT PRIMARY KEY,
        name        TEXT NOT NULL,            -- original file name in the inbox
        received    TEXT NOT NULL,            -- ISO-8601 UTC, when the desk took it
        state       TEXT NOT NULL CHECK (state IN ('processed', 'no_form', 'quarantined')),
        reason      TEXT,                     -- reason code + message when not processed
        stored_path TEXT                      -- where the fax now lies (archive or quarantine)
    );
    CREATE TABLE records (
        id            TEXT PRIMARY KEY,       -- '<sha256 prefix>-<page>': stable, no personal data
        file_sha256   TEXT NOT NULL REFERENCES files(sha256) ON DELETE CASCADE,
        page          INTEGER NOT NULL,
        form          TEXT NOT NULL,
        review_needed INTEGER NOT NULL,
        review_state  TEXT NOT NULL CHECK (review_state IN ('pending', 'reviewed', 'straight_through')),
        reasons       TEXT NOT NULL,          -- JSON list: every reason, record level first
        record_reasons TEXT NOT NULL,         -- JSON list: record-level reasons only
        alignment_quality REAL NOT NULL DEFAULT 0,
        created       TEXT NOT NULL,
        reviewer      TEXT,
        reviewed_at   TEXT,
        UNIQUE (file_sha256, page)
    );
    CREATE TABLE fields (
        record_id  TEXT NOT NULL REFERENCES records(id) ON DELETE CASCADE,
        key        TEXT NOT NULL,
        position   INTEGER NOT NULL,          -- template order, for stable columns
        value      TEXT,                      -- JSON
        confidence REAL NOT NULL,
        review     INTEGER NOT NULL,
        reasons    TEXT NOT NULL,             -- JSON list
        crop_path  TEXT,
        PRIMARY KEY (record_id, key)
    );
    CREATE TABLE audit (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        record_id TEXT NOT NULL REFERENCES records(id) ON DELETE CASCADE,
        key       TEXT NOT NULL,
        old_value TEXT,                       -- JSON
        new_value TEXT,                       -- JSON
        reviewer  TEXT NOT NULL,
        at        TEXT NOT NULL
    );
    CREATE TABLE skipped_pages (
        file_sha256 TEXT NOT NULL REFERENCES files(sha256) ON DELETE CASCADE,
        page        INTEGER NOT NULL,
        reason      TEXT NOT NULL,
        PRIMARY KEY (file_sha256, page)
    );
    """,
    # 1 -> 2: indexes for the daily queries (review queue, export, purge).
    """
    CREATE INDEX records_by_state ON records(review_state, created);
    CREATE INDEX files_by_received ON files(received);
    CREATE INDEX audit_by_record ON audit(record_id);
    """,
    # 2 -> 3: every place a copy of a file was put (a re-sent fax is archived again), so purge finds them all.
    """
    CREATE TABLE stored_copies (
        file_sha256 TEXT NOT NULL REFERENCES files(sha256) ON DELETE CASCADE,
        path        TEXT NOT NULL,
        PRIMARY KEY (file_sha256, path)
    );
    INSERT INTO stored_copies SELECT sha256, stored_path FROM files WHERE stored_path IS NOT NULL;
    """,
    # 3 -> 4: the original name's bytes (any bytes, not only UTF-8), and the move journal: where a
    # claimed fax is going, written in the same transaction as its rows and before it moves, so that
    # a restart finishes every move and purge finds every copy. Paths become relative to the data
    # folder (see _relative_paths, run in the same transaction).
    """
    ALTER TABLE files ADD COLUMN original_name BLOB;
    CREATE TABLE moves (
        dest           TEXT PRIMARY KEY,      -- where the copy goes, relative to the data folder
        file_sha256    TEXT NOT NULL,
        work           TEXT NOT NULL,         -- the claimed copy it comes from, relative to the data folder
        inbox_path     BLOB NOT NULL,         -- the inbox entry to remove once the copy is in place
        inbox_dev      INTEGER NOT NULL,
        inbox_ino      INTEGER NOT NULL,
        inbox_size     INTEGER NOT NULL,
        inbox_mtime_ns INTEGER NOT NULL,
        note           TEXT                   -- the .reason.txt to write beside it, if any
    );
    """,
    # 4 -> 5: the trail of erasures on request. No personal data: the record id, who, when, and counts.
    """
    CREATE TABLE erasures (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        record_id TEXT NOT NULL,              -- no foreign key: the record is gone
        by        TEXT NOT NULL,
        at        TEXT NOT NULL,
        removed   TEXT NOT NULL               -- JSON: counts of what was removed
    );
    """,
    # 5 -> 6: what the desk's register said about a record, and which register version it was checked against.
    """
    ALTER TABLE records ADD COLUMN register TEXT;          -- JSON register object, NULL when none was loaded
    ALTER TABLE records ADD COLUMN register_version TEXT;  -- '<sha256 prefix>@<loaded time>'
    """,
    # 6 -> 7: review decisions. A record waits until a person decides: confirmed, on hold or returned
    # to the sender (with a note); a fax that gave no record waits the same way. ``version`` grows
    # with every decision so that two reviewers cannot overwrite each other unseen.
    """
    ALTER TABLE records ADD COLUMN decision TEXT
        CHECK (decision IS NULL OR decision IN ('confirmed', 'on_hold', 'returned'));
    ALTER TABLE records ADD COLUMN decision_note TEXT;
    ALTER TABLE records ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
    UPDATE records SET decision = 'confirmed' WHERE review_state = 'reviewed';
    ALTER TABLE audit ADD COLUMN note TEXT;
    ALTER TABLE files ADD COLUMN decision TEXT
        CHECK (decision IS NULL OR decision IN ('not_a_request', 'keyed', 'asked_again'));
    ALTER TABLE files ADD COLUMN decision_note TEXT;
    ALTER TABLE files ADD COLUMN reviewer TEXT;
    ALTER TABLE files ADD COLUMN decided_at TEXT;
    ALTER TABLE files ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE file_audit (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        file_sha256 TEXT NOT NULL REFERENCES files(sha256) ON DELETE CASCADE,
        old_value   TEXT,
        new_value   TEXT,
        note        TEXT,
        reviewer    TEXT NOT NULL,
        at          TEXT NOT NULL
    );
    CREATE TABLE reviewers (
        name          TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,              -- scrypt, see intake/review/accounts.py
        created       TEXT NOT NULL
    );
    CREATE TABLE leases (
        item     TEXT PRIMARY KEY,                -- a record id, or 'file:<sha256>'
        reviewer TEXT NOT NULL,
        expires  TEXT NOT NULL
    );
    CREATE INDEX records_by_decision ON records(decision, review_state, created);
    CREATE INDEX file_audit_by_file ON file_audit(file_sha256);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

SQLITE_MAGIC = b"SQLite format 3\x00"
# Folders of the desk's own layout: an old relative path is re-rooted at the first of these.
DATA_SUBFOLDERS = ("archive", "quarantine", "crops", "work")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="seconds")


def default_db_path() -> Path:
    """``$INTAKE_DB`` if set, else ``./intake-data/intake.db``."""
    return Path(os.environ.get("INTAKE_DB") or DEFAULT_DB)


def to_json_value(value: Any) -> Any:
    """A field value as plain JSON (dates become ISO strings)."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if hasattr(value, "isoformat"):  # datetime.time
        return value.isoformat()
    return value


def dumps(value: Any) -> str:
    return json.dumps(to_json_value(value), ensure_ascii=False, default=str)


def _reasons_dump(reasons) -> str:
    return dumps([r.to_json() for r in reasons])


def _reasons_load(text: str) -> list[Reason]:
    """Reasons as data; a string kept by an older store loads as code ``legacy``."""
    return [Reason.from_json(r) for r in json.loads(text)]


def check_sqlite_file(path: Path) -> bool:
    """Whether ``path`` exists; raises NotADatabaseError, touching nothing, if it is not an SQLite database."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(st.st_mode):
        raise NotADatabaseError(f"{path} is not a regular file; --db must name an SQLite database file")
    if st.st_size == 0:
        return True  # SQLite's own empty database (a store created but not yet written)
    with open(path, "rb") as fh:
        head = fh.read(len(SQLITE_MAGIC))
    if head != SQLITE_MAGIC:
        raise NotADatabaseError(f"{path} is not an SQLite database; check --db (nothing was changed)")
    return True


def record_id(sha256: str, page: int) -> str:
    """A record's id: deterministic, so a retried file reuses the same id (and crop folder)."""
    return f"{sha256[:16]}-{page}"


@dataclass
class StoredField:
    key: str
    value: Any
    confidence: float
    review: bool
    reasons: list[Reason]
    crop_path: str | None


@dataclass
class StoredRecord:
    """A record as kept in the store (what export and review work on)."""

    id: str
    file_sha256: str
    file_name: str
    page: int
    form: str
    review_needed: bool
    review_state: str
    reasons: list[Reason]
    created: str
    reviewer: str | None = None
    reviewed_at: str | None = None
    fields: dict[str, StoredField] = field(default_factory=dict)
    register: dict[str, Any] | None = None
    decision: str | None = None  # None (waiting, or straight through), confirmed, on_hold, returned
    decision_note: str | None = None
    version: int = 0

    def values(self) -> dict[str, Any]:
        return {k: f.value for k, f in self.fields.items()}

    def to_json(self, lang: str | None = None) -> dict[str, Any]:
        """The record contract (as ``Record.to_json()``), plus the record ``id``.

        Once a person has reviewed a record it no longer needs review, and no
        field is flagged; the original reasons stay listed for the history.
        """
        pending = self.review_state == "pending"
        return record_json({"file": self.file_name, "page": self.page, "sha256": self.file_sha256}, self.form,
                           pending and self.review_needed, self.reasons,
                           {k: (f.value, f.confidence, pending and f.review) for k, f in self.fields.items()},
                           lang, record_id=self.id, register=self.register)


@dataclass
class FileRow:
    sha256: str
    name: str
    received: str
    state: str
    reason: str | None
    stored_path: str | None
    original_name: bytes | None = None  # the name's bytes in the inbox (``name`` is its readable form)
    decision: str | None = None  # None (waiting for a person), not_a_request, keyed, asked_again
    decision_note: str | None = None
    reviewer: str | None = None
    decided_at: str | None = None
    version: int = 0


@dataclass(frozen=True)
class Move:
    """One journalled step: the claimed copy ``work`` goes to ``dest`` (both relative to the data folder),
    then the inbox entry it was taken from (identified by device, inode, size and mtime) is removed."""

    file_sha256: str
    dest: str
    work: str
    inbox_path: bytes
    inbox_id: tuple[int, int, int, int]
    note: str | None = None


@dataclass
class ErasureReport:
    """What erasing one record removed (counts only), and the records of its fax that remain."""

    record_id: str
    fields: int = 0
    audit_rows: int = 0
    crop_files: int = 0
    fax_copies: int = 0
    file_row: bool = False
    fax_kept_for: list[str] = field(default_factory=list)  # other records of the same fax, still stored

    def counts(self) -> dict[str, int]:
        return {"fields": self.fields, "audit_rows": self.audit_rows, "crop_files": self.crop_files,
                "fax_copies": self.fax_copies, "file_row": int(self.file_row)}
    decision: str | None = None  # None (waiting for a person), not_a_request, keyed, asked_again
    decision_note: str | None = None
    reviewer: str | None = None
    decided_at: str | None = None
    version: int = 0


@dataclass
class PurgeReport:
    files: int = 0
    records: int = 0
    crop_folders: int = 0
    faxes: int = 0

    def summary(self) -> str:
        return (f"{self.files} files, {self.records} records, {self.crop_folders} crop folders, "
                f"{self.faxes} archived/quarantined faxes")


class Store:
    """The SQLite store. Use as a context manager, or call ``close()``."""

    def __init__(self, path: str | Path | None = None, *, create: bool = True):
        """Open (and with ``create``, create) the store. Nothing is created or changed in mode before
        the file is known to be an SQLite database; with ``create=False`` a missing store is an error."""
        self.path = Path(os.path.abspath(path if path else default_db_path()))
        self.data_dir = self.path.parent
        self.crops_dir = self.data_dir / "crops"
        exists = check_sqlite_file(self.path)
        if not exists and not create:
            raise StoreError(f"there is no record store at {self.path}; check --db")
        try:
            if not exists:
                make_private_dir(self.data_dir)
                os.close(create_private(self.path))
            else:
                os.chmod(self.path, 0o600)
            # isolation_level=None: we open transactions ourselves, explicitly.
            self.db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute("PRAGMA secure_delete=ON")
            self.db.execute("PRAGMA synchronous=FULL")
            self.migrate()
            self._private_sidecars()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the record store {self.path}: {exc}; check the path and permissions") from None
        except OSError as exc:
            raise StoreError(f"cannot open the record store {self.path}: {exc.strerror}; check the path and permissions") from None

    # -- paths: everything stored is relative to the data folder, so any working folder will do ------

    def rel(self, path: str | Path) -> str:
        """``path`` as stored: relative to the data folder (a folder outside it, such as an ``--archive``
        elsewhere, stays absolute)."""
        full = Path(os.path.abspath(path))
        return str(full.relative_to(self.data_dir)) if full.is_relative_to(self.data_dir) else str(full)

    def resolve(self, stored: str | os.PathLike) -> Path:
        """A stored path as a real one (absolute paths from outside the data folder stay as they are)."""
        return self.data_dir / stored

    # -- plumbing ----------------------------------------------------------------

    def _private_sidecars(self) -> None:
        for suffix in ("-wal", "-shm"):
            p = Path(str(self.path) + suffix)
            if p.exists():
                os.chmod(p, 0o600)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreWriteError(f"the record store {self.path} is busy or broken: {exc}") from None
        try:
            yield self.db
            self.db.execute("COMMIT")
        except BaseException as exc:
            if self.db.in_transaction:
                try:
                    self.db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # the write failed already; that is the error to report
            if isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError:
                # Disk full, I/O error, read-only, corrupt: the desk cannot record anything and must stop.
                # (A constraint failure is a bug in the caller and stays what it is.)
                raise StoreWriteError(f"the record store {self.path} cannot be written: {exc}") from None
            raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        """Bring the schema to ``SCHEMA_VERSION``, one migration per transaction."""
        current = self.version
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {current}, newer than this program ({SCHEMA_VERSION}); upgrade fax-intake"
            )
        for v in range(current, SCHEMA_VERSION):
            with self.transaction() as db:
                for statement in MIGRATIONS[v].split(";"):
                    if statement.strip():
                        db.execute(statement)
                if v + 1 in MIGRATION_STEPS:
                    MIGRATION_STEPS[v + 1](self, db)
                # PRAGMA takes no parameters; v is our own integer.
                db.execute(f"PRAGMA user_version = {v + 1}")

    # -- files -------------------------------------------------------------------

    def lookup_file(self, sha256: str) -> FileRow | None:
        row = self.db.execute("SELECT * FROM files WHERE sha256 = ?", (sha256,)).fetchone()
        return FileRow(**dict(row)) if row else None

    def record_ids_of(self, sha256: str) -> list[str]:
        rows = self.db.execute("SELECT id FROM records WHERE file_sha256 = ? ORDER BY page", (sha256,))
        return [r[0] for r in rows]

    def set_stored_path(self, sha256: str, path: str | Path) -> None:
        with self.transaction() as db:
            self._add_copy(db, sha256, self.rel(path))

    def _add_copy(self, db, sha256: str, stored: str) -> None:
        db.execute("UPDATE files SET stored_path = ? WHERE sha256 = ?", (stored, sha256))
        if db.execute("SELECT 1 FROM files WHERE sha256 = ?", (sha256,)).fetchone():
            db.execute("INSERT OR IGNORE INTO stored_copies VALUES (?, ?)", (sha256, stored))

    def save_quarantined(self, sha256: str, name: str, reason: str, *, received: datetime | None = None,
                         original_name: bytes | None = None, move: Move | None = None) -> None:
        """Remember a file that could not be read (replacing an older attempt at the same bytes)."""
        with self.transaction() as db:
            self._upsert_file(db, sha256, name, iso(received or utcnow()), "quarantined", reason, original_name)
            if move is not None:
                self._journal(db, move)

    # -- the move journal ------------------------------------------------------------

    def plan_move(self, move: Move) -> None:
        """Journal a move of a file already stored (a re-sent fax archived again)."""
        with self.transaction() as db:
            self._journal(db, move)

    def _journal(self, db, move: Move) -> None:
        """The copy is known (stored_copies, for purge) and the move journalled, before anything moves."""
        self._add_copy(db, move.file_sha256, move.dest)
        db.execute("INSERT INTO moves VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (move.dest, move.file_sha256, move.work, move.inbox_path, *move.inbox_id, move.note))

    def pending_moves(self) -> list[Move]:
        rows = self.db.execute("SELECT * FROM moves ORDER BY rowid").fetchall()
        return [Move(r["file_sha256"], r["dest"], r["work"], bytes(r["inbox_path"]),
                     (r["inbox_dev"], r["inbox_ino"], r["inbox_size"], r["inbox_mtime_ns"]), r["note"]) for r in rows]

    def finish_move(self, move: Move) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM moves WHERE dest = ?", (move.dest,))

    def save_file(
        self,
        sha256: str,
        name: str,
        records: list[Record],
        skipped: list[tuple[int, str]] = (),
        *,
        received: datetime | None = None,
        no_form_reason: str = "no_form_found",
        original_name: bytes | None = None,
        move: Move | None = None,
    ) -> list[str]:
        """Store a processed file and all its records (and its journalled move) in ONE transaction;
        returns the record ids.

        Crops are written first (to deterministic paths); if the transaction fails they are removed,
        so no crop is ever left without its record.
        """
        now = iso(received or utcnow())
        state = "processed" if records else "no_form"
        reason = None if records else no_form_reason
        ids = []
        crop_dirs = [self.crops_dir / record_id(sha256, r.source.page) for r in records]
        try:
            crop_paths = {r.source.page: self._write_crops(record_id(sha256, r.source.page), r) for r in records}
            with self.transaction() as db:
                self._upsert_file(db, sha256, name, now, state, reason, original_name)
                for page, why in skipped:
                    db.execute("INSERT OR REPLACE INTO skipped_pages VALUES (?, ?, ?)", (sha256, page, why))
                for r in records:
                    rid = record_id(sha256, r.source.page)
                    ids.append(rid)
                    self._insert_record(db, rid, sha256, r, now, crop_paths[r.source.page])
                if move is not None:
                    self._journal(db, move)
        except BaseException:
            for d in crop_dirs:
                if not self.db.execute("SELECT 1 FROM records WHERE id = ?", (d.name,)).fetchone():
                    shutil.rmtree(d, ignore_errors=True)
            raise
        return ids

    @staticmethod
    def _upsert_file(db, sha256: str, name: str, received: str, state: str, reason: str | None,
                     original_name: bytes | None = None) -> None:
        """Insert a file row; an earlier quarantined attempt at the same bytes is superseded (its
        received time and stored copies are kept). A file already processed is never stored twice."""
        cur = db.execute(
            "INSERT INTO files (sha256, name, received, state, reason, original_name) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(sha256) DO UPDATE SET name = excluded.name, state = excluded.state, "
            "reason = excluded.reason, original_name = excluded.original_name WHERE files.state = 'quarantined'",
            (sha256, name, received, state, reason, original_name),
        )
        if cur.rowcount != 1:
            raise StoreError(f"file {sha256[:12]} is already stored; it must be archived, not processed again")

    def _insert_record(self, db, rid: str, sha256: str, r: Record, now: str, crops: dict[str, str]) -> None:
        db.execute(
            "INSERT INTO records (id, file_sha256, page, form, review_needed, review_state, reasons,"
            " record_reasons, alignment_quality, created, register, register_version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                rid, sha256, r.source.page, r.form, int(r.review_needed),
                "pending" if r.review_needed else "straight_through",
                _reasons_dump(r.review_reasons()), _reasons_dump(r.reasons), float(r.alignment_quality), now,
                None if r.register is None else dumps(r.register), _register_version(r.register),
            ),
        )
        for pos, (key, f) in enumerate(r.fields.items()):
            db.execute(
                "INSERT INTO fields VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (rid, key, pos, dumps(f.value), float(f.confidence), int(f.review), _reasons_dump(f.reasons), crops.get(key)),
            )

    def _write_crops(self, rid: str, r: Record) -> dict[str, str]:
        """Save each field's crop as an owner-only PNG; returns key -> path."""
        if not r.crops:
            return {}
        import cv2

        folder = make_private_dir(self.crops_dir / rid)
        out = {}
        for key, img in r.crops.items():
            if img is None or getattr(img, "size", 0) == 0:
                continue
            path = folder / f"{key}.png"
            encoded, png = cv2.imencode(".png", img)
            if not encoded:
                raise StoreWriteError(f"could not encode the crop image {path}")
            try:
                write_private(path, png.tobytes())
            except OSError as exc:
                raise StoreWriteError(f"could not write crop image {path}: {exc.strerror or exc}") from None
            out[key] = self.rel(path)
        return out

    # -- records -----------------------------------------------------------------

    def _load(self, where: str, params: tuple = ()) -> list[StoredRecord]:
        rows = self.db.execute(
            "SELECT r.*, f.name AS file_name FROM records r JOIN files f ON f.sha256 = r.file_sha256 "
            f"WHERE {where} ORDER BY r.created, r.id",
            params,
        ).fetchall()
        out = []
        for row in rows:
            rec = StoredRecord(
                id=row["id"], file_sha256=row["file_sha256"], file_name=row["file_name"], page=row["page"],
                form=row["form"], review_needed=bool(row["review_needed"]), review_state=row["review_state"],
                reasons=_reasons_load(row["reasons"]), created=row["created"], reviewer=row["reviewer"],
                reviewed_at=row["reviewed_at"],
                register=json.loads(row["register"]) if row["register"] else None,
                decision=row["decision"], decision_note=row["decision_note"],
                version=row["version"],
            )
            for f in self.db.execute("SELECT * FROM fields WHERE record_id = ? ORDER BY position", (rec.id,)):
                rec.fields[f["key"]] = StoredField(
                    f["key"], json.loads(f["value"]) if f["value"] is not None else None, f["confidence"],
                    bool(f["review"]), _reasons_load(f["reasons"]),
                    str(self.resolve(f["crop_path"])) if f["crop_path"] else None,
                )
            out.append(rec)
        return out

    def get_record(self, rid: str) -> StoredRecord | None:
        found = self._load("r.id = ?", (rid,))
        return found[0] if found else None

    def records(self, states: tuple[str, ...] = REVIEW_STATES) -> list[StoredRecord]:
        marks = ", ".join("?" for _ in states)
        return self._load(f"r.review_state IN ({marks})", tuple(states))

    def pending_review(self) -> list[StoredRecord]:
        """Records waiting for a person: flagged, and no decision yet (on hold and returned are decided)."""
        return self._load("r.review_state = 'pending' AND r.decision IS NULL")

    def decided(self, decision: str) -> list[StoredRecord]:
        return self._load("r.decision = ?", (decision,))

    def actionable(self) -> list[StoredRecord]:
        """Records operations can act on: reviewed by a person, or clean straight through."""
        return self.records(("reviewed", "straight_through"))

    def apply_review(self, rid: str, changes: dict[str, Any], reviewer: str, *, at: datetime | None = None) -> int:
        """Apply corrected values, write one audit row per changed field, mark the record reviewed.

        All in one transaction; returns the number of fields changed.
        """
        when = iso(at or utcnow())
        with self.transaction() as db:
            n = 0
            for key, new in changes.items():
                row = db.execute("SELECT value FROM fields WHERE record_id = ? AND key = ?", (rid, key)).fetchone()
                if row is None:
                    raise StoreError(f"record {rid} has no field {key}")
                new_json = dumps(new)
                if row["value"] == new_json:
                    continue
                db.execute("UPDATE fields SET value = ? WHERE record_id = ? AND key = ?", (new_json, rid, key))
                db.execute(
                    "INSERT INTO audit (record_id, key, old_value, new_value, reviewer, at) VALUES (?, ?, ?, ?, ?, ?)",
                    (rid, key, row["value"], new_json, reviewer, when),
                )
                n += 1
            cur = db.execute(
                "UPDATE records SET review_state = 'reviewed', decision = 'confirmed', reviewer = ?, reviewed_at = ?,"
                " version = version + 1 WHERE id = ?",
                (reviewer, when, rid),
            )
            if cur.rowcount != 1:
                raise StoreError(f"no record {rid} in the store")
        return n

    def record_decision(self, rid: str, decision: str | None, reviewer: str, *, changes: dict[str, Any] | None = None,
                        note: str | None = None, accepted: list[tuple[str, tuple[str, ...]]] = (),
                        expected_version: int | None = None, at: datetime | None = None) -> int:
        """Apply changed values and a decision (None reopens) in ONE transaction; returns the new version.

        Audit rows: one per changed field, one per rule accepted as written (key ``#accept``,
        new value the reason code, note the fields), and one for the decision (key ``#decision``,
        old and new state, note). ``expected_version``: the version the reviewer saw; if another
        decision came in between, nothing is written and ``VersionConflict`` is raised.
        """
        when = iso(at or utcnow())
        with self.transaction() as db:
            row = db.execute("SELECT review_state, decision, version FROM records WHERE id = ?", (rid,)).fetchone()
            if row is None:
                raise StoreError(f"no record {rid} in the store")
            if expected_version is not None and row["version"] != expected_version:
                raise VersionConflict(f"record {rid} was changed by someone else (version {row['version']}, "
                                      f"you saw {expected_version}); reload it")
            for key, new in (changes or {}).items():
                old = db.execute("SELECT value FROM fields WHERE record_id = ? AND key = ?", (rid, key)).fetchone()
                if old is None:
                    raise StoreError(f"record {rid} has no field {key}")
                new_json = dumps(new)
                if old["value"] == new_json:
                    continue
                db.execute("UPDATE fields SET value = ? WHERE record_id = ? AND key = ?", (new_json, rid, key))
                self._audit(db, rid, key, old["value"], new_json, reviewer, when)
            for code, keys in accepted:
                self._audit(db, rid, "#accept", None, dumps(code), reviewer, when, ", ".join(keys))
            old_state = row["decision"] or ("waiting" if row["review_state"] == "pending" else row["review_state"])
            self._audit(db, rid, "#decision", dumps(old_state), dumps(decision or "waiting"), reviewer, when, note)
            review_state = "reviewed" if decision == "confirmed" else "pending"
            db.execute(
                "UPDATE records SET decision = ?, decision_note = ?, review_state = ?, reviewer = ?, reviewed_at = ?,"
                " version = version + 1 WHERE id = ?",
                (decision, note, review_state, reviewer, when, rid),
            )
            return row["version"] + 1

    @staticmethod
    def _audit(db, rid: str, key: str, old: str | None, new: str | None, reviewer: str, when: str,
               note: str | None = None) -> None:
        db.execute(
            "INSERT INTO audit (record_id, key, old_value, new_value, reviewer, at, note) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (rid, key, old, new, reviewer, when, note),
        )

    # -- faxes that gave no record (review) -------------------------------------------

    def unread_files(self, *, waiting: bool = True) -> list[FileRow]:
        """Files taken in that gave no record (no form, quarantined): waiting for a person, oldest first."""
        cond = "decision IS NULL" if waiting else "decision IS NOT NULL"
        rows = self.db.execute(
            f"SELECT * FROM files WHERE state IN ('no_form', 'quarantined') AND {cond} ORDER BY received, sha256"
        ).fetchall()
        return [FileRow(**dict(r)) for r in rows]

    def decide_file(self, sha256: str, decision: str | None, reviewer: str, *, note: str | None = None,
                    keyed: list[tuple[Record, str]] = (), accepted: list[tuple[str, tuple[str, ...]]] = (),
                    expected_version: int | None = None, at: datetime | None = None) -> list[str]:
        """Decide an unread fax (None reopens); ``keyed``: records typed by hand from its pages, stored
        confirmed with an audit row per typed field. One transaction; returns the new record ids."""
        when = iso(at or utcnow())
        ids = []
        with self.transaction() as db:
            row = db.execute("SELECT decision, version FROM files WHERE sha256 = ?", (sha256,)).fetchone()
            if row is None:
                raise StoreError(f"no file {sha256[:12]} in the store")
            if expected_version is not None and row["version"] != expected_version:
                raise VersionConflict(f"fax {sha256[:12]} was decided by someone else; reload it")
            for record, by_hand in keyed:
                rid = record_id(sha256, record.source.page)
                self._insert_record(db, rid, sha256, record, when, {})
                for key, f in record.fields.items():
                    if f.value is not None:
                        self._audit(db, rid, key, None, dumps(f.value), reviewer, when, by_hand)
                for code, keys in accepted:
                    self._audit(db, rid, "#accept", None, dumps(code), reviewer, when, ", ".join(keys))
                self._audit(db, rid, "#decision", dumps("waiting"), dumps("confirmed"), reviewer, when, by_hand)
                db.execute("UPDATE records SET decision = 'confirmed', review_state = 'reviewed', reviewer = ?,"
                           " reviewed_at = ?, version = 1 WHERE id = ?", (reviewer, when, rid))
                ids.append(rid)
            db.execute(
                "INSERT INTO file_audit (file_sha256, old_value, new_value, note, reviewer, at) VALUES (?, ?, ?, ?, ?, ?)",
                (sha256, dumps(row["decision"] or "waiting"), dumps(decision or "waiting"), note, reviewer, when),
            )
            db.execute("UPDATE files SET decision = ?, decision_note = ?, reviewer = ?, decided_at = ?,"
                       " version = version + 1 WHERE sha256 = ?", (decision, note, reviewer, when, sha256))
        return ids

    def file_audit(self, sha256: str) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM file_audit WHERE file_sha256 = ? ORDER BY id", (sha256,)).fetchall()
        return [dict(r) | {"old_value": json.loads(r["old_value"]), "new_value": json.loads(r["new_value"])}
                for r in rows]

    # -- reviewers and leases ------------------------------------------------------------

    def add_reviewer(self, name: str, password_hash: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO reviewers (name, password_hash, created) VALUES (?, ?, ?) "
                       "ON CONFLICT(name) DO UPDATE SET password_hash = excluded.password_hash",
                       (name, password_hash, iso(utcnow())))

    def reviewer_hash(self, name: str) -> str | None:
        row = self.db.execute("SELECT password_hash FROM reviewers WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def take_lease(self, item: str, reviewer: str, seconds: float, *, now: datetime | None = None) -> str:
        """Hold ``item`` for ``reviewer`` unless someone else holds an unexpired lease; returns the holder."""
        t = now or utcnow()
        with self.transaction() as db:
            row = db.execute("SELECT reviewer, expires FROM leases WHERE item = ?", (item,)).fetchone()
            if row and row["reviewer"] != reviewer and row["expires"] > iso(t):
                return row["reviewer"]
            db.execute("INSERT OR REPLACE INTO leases VALUES (?, ?, ?)", (item, reviewer, iso(t + timedelta(seconds=seconds))))
        return reviewer

    def lease_holder(self, item: str, *, now: datetime | None = None) -> str | None:
        row = self.db.execute("SELECT reviewer FROM leases WHERE item = ? AND expires > ?",
                              (item, iso(now or utcnow()))).fetchone()
        return row[0] if row else None

    def release_lease(self, item: str, reviewer: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM leases WHERE item = ? AND reviewer = ?", (item, reviewer))

    def audit(self, rid: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM audit" + (" WHERE record_id = ?" if rid else "") + " ORDER BY id"
        rows = self.db.execute(sql, (rid,) if rid else ()).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["old_value"] = json.loads(d["old_value"]) if d["old_value"] is not None else None
            d["new_value"] = json.loads(d["new_value"]) if d["new_value"] is not None else None
            out.append(d)
        return out

    # -- retention ---------------------------------------------------------------

    def _copies(self, sha256: str) -> list[Path]:
        rows = self.db.execute("SELECT path FROM stored_copies WHERE file_sha256 = ?", (sha256,))
        return [self.resolve(r[0]) for r in rows]

    def purge(self, older_than_days: float, *, dry_run: bool = False, now: datetime | None = None) -> PurgeReport:
        """Delete every file received before the cutoff: its records, fields, audit rows, crops and stored fax."""
        cutoff = iso((now or utcnow()) - timedelta(days=older_than_days))
        shas = [r[0] for r in self.db.execute("SELECT sha256 FROM files WHERE received <= ?", (cutoff,))]
        report = PurgeReport(files=len(shas))
        ids = [rid for sha in shas for rid in self.record_ids_of(sha)]
        report.records = len(ids)
        crop_dirs = [self.crops_dir / rid for rid in ids if (self.crops_dir / rid).is_dir()]
        report.crop_folders = len(crop_dirs)
        faxes = [p for sha in shas for p in self._copies(sha) if os.path.lexists(p)]
        report.faxes = len(faxes)
        if dry_run:
            return report
        # Rows first: if we die half-way, files on disk without rows are harmless; the reverse is not.
        with self.transaction() as db:
            for sha in shas:
                db.execute("DELETE FROM files WHERE sha256 = ?", (sha,))  # cascades to records, fields, audit
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for d in crop_dirs:
            shutil.rmtree(d, ignore_errors=True)
        for fax in faxes:
            fax.unlink(missing_ok=True)
            Path(str(fax) + ".reason.txt").unlink(missing_ok=True)
            _remove_if_empty(fax.parent)
        return report

    # -- requests from the people in the records -----------------------------------

    def erase_records(self, ids: list[str], by: str, *, at: datetime | None = None) -> list[ErasureReport]:
        """Remove records with their fields, audit rows and crops, in one transaction, and log each erasure.

        The fax file holds every record read from it: its stored copies and its file row go only
        with the last of its records; until then the report lists the records that keep it.
        Logged per record: id, who, when and counts, never a value.
        """
        when = iso(at or utcnow())
        reports: list[ErasureReport] = []
        crops: list[Path] = []
        faxes: list[Path] = []
        with self.transaction() as db:
            for rid in ids:
                row = db.execute("SELECT file_sha256 FROM records WHERE id = ?", (rid,)).fetchone()
                if row is None:
                    raise StoreError(f"no record {rid} in the store")
                report = ErasureReport(rid)
                paths = [r[0] for r in db.execute("SELECT crop_path FROM fields WHERE record_id = ?", (rid,)) if r[0]]
                crops += [self.resolve(p) for p in paths]
                report.crop_files = sum(1 for p in paths if os.path.lexists(self.resolve(p)))
                report.fields = db.execute("SELECT COUNT(*) FROM fields WHERE record_id = ?", (rid,)).fetchone()[0]
                report.audit_rows = db.execute("SELECT COUNT(*) FROM audit WHERE record_id = ?", (rid,)).fetchone()[0]
                db.execute("DELETE FROM records WHERE id = ?", (rid,))  # cascades to fields and audit
                sha = row["file_sha256"]
                remaining = [r[0] for r in db.execute("SELECT id FROM records WHERE file_sha256 = ? ORDER BY page", (sha,))]
                if remaining:
                    report.fax_kept_for = remaining
                else:
                    copies = self._copies(sha)
                    # A move still journalled would put the fax back on the next start: drop it, and its claimed copy.
                    claimed = [self.resolve(m.work) for m in self.pending_moves() if m.file_sha256 == sha]
                    faxes += copies + claimed
                    report.fax_copies = sum(1 for p in set(copies + claimed) if os.path.lexists(p))
                    report.file_row = True
                    db.execute("DELETE FROM moves WHERE file_sha256 = ?", (sha,))
                    db.execute("DELETE FROM files WHERE sha256 = ?", (sha,))  # cascades to copies, skipped pages
                reports.append(report)
            for report in reports:
                db.execute("INSERT INTO erasures (record_id, by, at, removed) VALUES (?, ?, ?, ?)",
                           (report.record_id, by, when, json.dumps(report.counts())))
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # no copy of the rows left in the WAL
        for crop in crops:
            crop.unlink(missing_ok=True)
        for rid in ids:
            shutil.rmtree(self.crops_dir / rid, ignore_errors=True)
        for fax in faxes:
            fax.unlink(missing_ok=True)
            Path(str(fax) + ".reason.txt").unlink(missing_ok=True)
            _remove_if_empty(fax.parent)
        return reports

    def erasures(self) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM erasures ORDER BY id").fetchall()
        return [dict(r) | {"removed": json.loads(r["removed"])} for r in rows]


def _relative_paths(store: "Store", db) -> None:
    """Migration 4: stored paths become relative to the data folder.

    An absolute path inside the data folder is made relative. A relative path was relative to
    whichever folder the watcher ran in; it is re-rooted at the desk's own layout (the part from
    ``archive/``, ``quarantine/`` or ``crops/`` on), or kept if it names nothing of that layout.
    An absolute path outside the data folder (``--archive`` elsewhere) stays absolute.
    """

    def fixed(old: str) -> str:
        p = Path(old)
        if p.is_absolute():
            return store.rel(p) if p.is_relative_to(store.data_dir) else old
        for i, part in enumerate(p.parts):
            if part in DATA_SUBFOLDERS:
                return str(Path(*p.parts[i:]))
        return old

    for table, column, key in (("stored_copies", "path", "rowid"), ("files", "stored_path", "sha256"),
                               ("fields", "crop_path", "rowid")):
        for row in db.execute(f"SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL").fetchall():
            new = fixed(row[1])
            if new != row[1]:
                db.execute(f"UPDATE OR IGNORE {table} SET {column} = ? WHERE {key} = ?", (new, row[0]))


# Python steps run inside a migration's transaction, after its SQL: version -> step.
MIGRATION_STEPS = {4: _relative_paths}


def _register_version(register: dict[str, Any] | None) -> str | None:
    if register is None:
        return None
    return f"{register['version']['sha256']}@{register['version']['loaded']}"


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass
