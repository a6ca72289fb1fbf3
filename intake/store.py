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
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

from intake.errors import StoreError
from intake.model import Record

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
]
SCHEMA_VERSION = len(MIGRATIONS)


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


def make_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make it owner-only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def record_id(sha256: str, page: int) -> str:
    """A record's id: deterministic, so a retried file reuses the same id (and crop folder)."""
    return f"{sha256[:16]}-{page}"


@dataclass
class StoredField:
    key: str
    value: Any
    confidence: float
    review: bool
    reasons: list[str]
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
    reasons: list[str]
    created: str
    reviewer: str | None = None
    reviewed_at: str | None = None
    fields: dict[str, StoredField] = field(default_factory=dict)

    def values(self) -> dict[str, Any]:
        return {k: f.value for k, f in self.fields.items()}

    def to_json(self) -> dict[str, Any]:
        """The record contract (as ``Record.to_json()``), plus the record ``id``.

        Once a person has reviewed a record it no longer needs review, and no
        field is flagged; the original reasons stay listed for the history.
        """
        pending = self.review_state == "pending"
        return {
            "id": self.id,
            "source": {"file": self.file_name, "page": self.page, "sha256": self.file_sha256},
            "form": self.form,
            "review": {"needed": pending and self.review_needed, "reasons": list(self.reasons)},
            "fields": {
                k: {"value": f.value, "confidence": round(float(f.confidence), 4), "review": pending and f.review}
                for k, f in self.fields.items()
            },
        }


@dataclass
class FileRow:
    sha256: str
    name: str
    received: str
    state: str
    reason: str | None
    stored_path: str | None


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

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else default_db_path()
        self.crops_dir = self.path.parent / "crops"
        try:
            make_private_dir(self.path.parent)
            self._touch_private(self.path)
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

    # -- plumbing ----------------------------------------------------------------

    @staticmethod
    def _touch_private(path: Path) -> None:
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        os.chmod(path, 0o600)

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
            raise StoreError(f"the record store {self.path} is busy or broken: {exc}") from None
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

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
            db.execute("UPDATE files SET stored_path = ? WHERE sha256 = ?", (str(path), sha256))
            if db.execute("SELECT 1 FROM files WHERE sha256 = ?", (sha256,)).fetchone():
                db.execute("INSERT OR IGNORE INTO stored_copies VALUES (?, ?)", (sha256, str(path)))

    def save_quarantined(self, sha256: str, name: str, reason: str, *, received: datetime | None = None) -> None:
        """Remember a file that could not be read (replacing an older attempt at the same bytes)."""
        with self.transaction() as db:
            self._upsert_file(db, sha256, name, iso(received or utcnow()), "quarantined", reason)

    def save_file(
        self,
        sha256: str,
        name: str,
        records: list[Record],
        skipped: list[tuple[int, str]] = (),
        *,
        received: datetime | None = None,
        no_form_reason: str = "no_form_found",
    ) -> list[str]:
        """Store a processed file and all its records in ONE transaction; returns the record ids.

        Crops are written first (to deterministic paths): if the process dies
        before the commit, a retry simply overwrites them.
        """
        now = iso(received or utcnow())
        crop_paths = {r.source.page: self._write_crops(record_id(sha256, r.source.page), r) for r in records}
        state = "processed" if records else "no_form"
        reason = None if records else no_form_reason
        ids = []
        with self.transaction() as db:
            self._upsert_file(db, sha256, name, now, state, reason)
            for page, why in skipped:
                db.execute("INSERT OR REPLACE INTO skipped_pages VALUES (?, ?, ?)", (sha256, page, why))
            for r in records:
                rid = record_id(sha256, r.source.page)
                ids.append(rid)
                self._insert_record(db, rid, sha256, r, now, crop_paths[r.source.page])
        return ids

    @staticmethod
    def _upsert_file(db, sha256: str, name: str, received: str, state: str, reason: str | None) -> None:
        """Insert a file row; an earlier quarantined attempt at the same bytes is superseded (its
        received time and stored copies are kept). A file already processed is never stored twice."""
        cur = db.execute(
            "INSERT INTO files (sha256, name, received, state, reason) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(sha256) DO UPDATE SET name = excluded.name, state = excluded.state, "
            "reason = excluded.reason WHERE files.state = 'quarantined'",
            (sha256, name, received, state, reason),
        )
        if cur.rowcount != 1:
            raise StoreError(f"file {sha256[:12]} is already stored; it must be archived, not processed again")

    def _insert_record(self, db, rid: str, sha256: str, r: Record, now: str, crops: dict[str, str]) -> None:
        db.execute(
            "INSERT INTO records (id, file_sha256, page, form, review_needed, review_state, reasons,"
            " record_reasons, alignment_quality, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                rid, sha256, r.source.page, r.form, int(r.review_needed),
                "pending" if r.review_needed else "straight_through",
                dumps(r.review_reasons()), dumps(list(r.reasons)), float(r.alignment_quality), now,
            ),
        )
        for pos, (key, f) in enumerate(r.fields.items()):
            db.execute(
                "INSERT INTO fields VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (rid, key, pos, dumps(f.value), float(f.confidence), int(f.review), dumps(list(f.reasons)), crops.get(key)),
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
            if not cv2.imwrite(str(path), img):
                raise StoreError(f"could not write crop image {path}; is the disk full?")
            os.chmod(path, 0o600)
            out[key] = str(path)
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
                reasons=json.loads(row["reasons"]), created=row["created"], reviewer=row["reviewer"],
                reviewed_at=row["reviewed_at"],
            )
            for f in self.db.execute("SELECT * FROM fields WHERE record_id = ? ORDER BY position", (rec.id,)):
                rec.fields[f["key"]] = StoredField(
                    f["key"], json.loads(f["value"]) if f["value"] is not None else None, f["confidence"],
                    bool(f["review"]), json.loads(f["reasons"]), f["crop_path"],
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
        return self.records(("pending",))

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
                "UPDATE records SET review_state = 'reviewed', reviewer = ?, reviewed_at = ? WHERE id = ?",
                (reviewer, when, rid),
            )
            if cur.rowcount != 1:
                raise StoreError(f"no record {rid} in the store")
        return n

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

    def _copies(self, sha256: str) -> list[str]:
        rows = self.db.execute("SELECT path FROM stored_copies WHERE file_sha256 = ?", (sha256,))
        return [r[0] for r in rows]

    def purge(self, older_than_days: float, *, dry_run: bool = False, now: datetime | None = None) -> PurgeReport:
        """Delete every file received before the cutoff: its records, fields, audit rows, crops and stored fax."""
        cutoff = iso((now or utcnow()) - timedelta(days=older_than_days))
        shas = [r[0] for r in self.db.execute("SELECT sha256 FROM files WHERE received <= ?", (cutoff,))]
        report = PurgeReport(files=len(shas))
        ids = [rid for sha in shas for rid in self.record_ids_of(sha)]
        report.records = len(ids)
        crop_dirs = [self.crops_dir / rid for rid in ids if (self.crops_dir / rid).is_dir()]
        report.crop_folders = len(crop_dirs)
        faxes = [Path(p) for sha in shas for p in self._copies(sha) if Path(p).exists()]
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


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass
