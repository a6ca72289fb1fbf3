"""The one CSV writer and reader, and the one way an export reaches a file or standard output.

Cells are neutralised against formula injection (OWASP "CSV injection"): a cell whose text
starts with ``= + - @``, TAB or CR (or their full-width forms, which Japanese spreadsheets also
take as formulas) gets a leading ``'``. A cell starting with ``'`` gets one too, so that
``unneutralise`` undoes exactly what ``neutralise`` did and real values such as ``-`` or
``+81-3-1234-5678`` come back unchanged.

Encoding is explicit and never silent: ``encode`` counts every character that an encoding
maps to another one (cp932 turns 〜 into ～) or cannot hold at all (replaced by ``?``), so the
caller can refuse a lossy export. Output goes to standard output as bytes, or to a file that
is written beside its final name and renamed into place, readable by its owner only, and never
through a symbolic link.
"""

from __future__ import annotations

import csv
import io
import os
import stat
import sys
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from intake.errors import ExitCode, IntakeError
from intake.private import write_private

FORMULA_STARTS = frozenset("=+-@\t\r＝＋－＠")
QUOTE = "'"
BOM = "\ufeff"
CSV_ENCODINGS = ("utf-8", "cp932")  # utf-8 always with a BOM, for Excel
MAX_SHEET_BYTES = 50 * 1024 * 1024  # a review sheet of a few thousand rows is a few MB


class OutputError(IntakeError):
    """An export target that must not be written (a symbolic link, a folder, a device...)."""

    reason = "unsafe_output"
    exit_code = ExitCode.bad_args


class LossyExportError(IntakeError):
    """The chosen encoding would change or lose characters, and that was not accepted."""

    reason = "lossy_export"
    exit_code = ExitCode.lossy_export


class ReviewFileError(IntakeError):
    """The review CSV cannot be used at all; ``reason`` says why (see the subclasses)."""

    reason = "review_file_invalid"
    exit_code = ExitCode.bad_args


class UndecodableSheetError(ReviewFileError):
    reason = "review_file_undecodable"


class MixedEncodingSheetError(ReviewFileError):
    reason = "review_file_mixed_encoding"


class MalformedSheetError(ReviewFileError):
    reason = "review_file_malformed"


class CellTooLargeError(ReviewFileError):
    reason = "review_file_cell_too_large"


class SheetTooLargeError(ReviewFileError):
    reason = "review_file_too_large"


class NoRecordIdColumnError(ReviewFileError):
    reason = "review_file_no_record_id"


class DuplicateColumnError(ReviewFileError):
    reason = "review_file_duplicate_columns"


# -- cells ----------------------------------------------------------------------------


def neutralise(text: str) -> str:
    """The cell text that no spreadsheet runs as a formula; ``unneutralise`` gives ``text`` back."""
    return QUOTE + text if text[:1] in FORMULA_STARTS or text[:1] == QUOTE else text


def unneutralise(cell: str) -> str:
    """Undo ``neutralise``: drop the one ``'`` it added, and nothing else."""
    if cell[:1] == QUOTE and (cell[1:2] in FORMULA_STARTS or cell[1:2] == QUOTE):
        return cell[1:]
    return cell


def looks_like_formula(text: str) -> bool:
    """True if a spreadsheet could run ``text`` as a formula. A cell of dashes alone ("-", "--") is
    shown as text by Excel and LibreOffice alike, so it is an ordinary value."""
    stripped = text.strip(" \u3000")
    if not stripped or set(stripped) <= {"-", "－"}:
        return False
    return text[:1] in FORMULA_STARTS or stripped[:1] in FORMULA_STARTS


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A whole sheet, every cell neutralised, CRLF line ends (what Excel writes and expects)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([neutralise(str(c)) for c in header])
    for row in rows:
        writer.writerow([neutralise(str(c)) for c in row])
    return buf.getvalue()


# -- encoding ----------------------------------------------------------------------------


@dataclass
class Changes:
    """What an encoding did to a text: characters mapped to a look-alike, characters replaced by '?'."""

    encoding: str
    mapped: Counter = field(default_factory=Counter)  # (from, to) -> count; both are symbols, never whole values
    replaced: Counter = field(default_factory=Counter)  # kind of character -> count

    @property
    def lossy(self) -> bool:
        return bool(self.mapped or self.replaced)

    def describe(self, lang: str | None = None) -> str:
        """What changed, in the desk's language: counts per kind and the look-alike pairs, never a lost character."""
        from intake.messages import language

        words = LOSS_WORDS[language(lang)]
        parts = []
        if self.mapped:
            pairs = ", ".join(f"{a}→{b} ×{n}" for (a, b), n in sorted(self.mapped.items()))
            parts.append(words["mapped"].format(count=sum(self.mapped.values()), pairs=pairs))
        if self.replaced:
            kinds = ", ".join(f"{words[kind]} ×{n}" for kind, n in sorted(self.replaced.items()))
            parts.append(words["replaced"].format(count=sum(self.replaced.values()), kinds=kinds))
        return f"{self.encoding}: " + "; ".join(parts or [words["none"]])


LOSS_WORDS = {
    "ja": {"mapped": "{count} 文字を似た文字に置き換えます ({pairs})", "replaced": "{count} 文字を ? に置き換えます ({kinds})",
           "none": "変わる文字はありません", "kanji/kana": "漢字・かな", "symbol/emoji": "記号・絵文字", "other": "その他",
           "refused": "何も書き出していません。すべての文字を残すには --encoding utf-8、このまま書き出すには --accept-lossy を指定してください",
           "accepted": "--accept-lossy により、このまま書き出しました"},
    "en": {"mapped": "{count} character(s) changed to a look-alike ({pairs})",
           "replaced": "{count} character(s) replaced by '?' ({kinds})", "none": "no character changed",
           "kanji/kana": "kanji/kana", "symbol/emoji": "symbol/emoji", "other": "other",
           "refused": "Nothing was written. Use --encoding utf-8 to keep every character, or --accept-lossy to write it anyway",
           "accepted": "written as it is, since --accept-lossy was given"},
}


def _kind(ch: str) -> str:
    """A kind of character, for counting what was lost (the character itself may be part of a name)."""
    name = unicodedata.name(ch, "")
    if name.startswith("CJK") or unicodedata.category(ch) == "Lo":
        return "kanji/kana"
    if unicodedata.category(ch).startswith("S"):
        return "symbol/emoji"
    return "other"


def _is_utf8(encoding: str) -> bool:
    return encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig")


def encode(text: str, encoding: str, *, bom: bool = False) -> tuple[bytes, Changes]:
    """``text`` in ``encoding`` (a UTF-8 BOM first if ``bom``), and what the encoding changed."""
    changes = Changes("utf-8" if _is_utf8(encoding) else encoding)
    if _is_utf8(encoding):
        return (BOM + text if bom else text).encode("utf-8"), changes
    out = bytearray()
    for ch in text:
        try:
            b = ch.encode(encoding)
        except UnicodeEncodeError:
            changes.replaced[_kind(ch)] += 1
            out += b"?"
            continue
        back = b.decode(encoding)
        if back != ch:
            changes.mapped[(ch, back)] += 1
        out += b
    return bytes(out), changes


def as_sheet_shows(text: str, encoding: str = "cp932") -> str:
    """``text`` as a sheet written in ``encoding`` shows it (what an untouched cell reads back as)."""
    data, _ = encode(text, encoding)
    return data.decode(encoding)


# -- writing -------------------------------------------------------------------------------


def write_output(data: bytes, out: str | Path | None) -> None:
    """Write ``data`` to standard output (as bytes), or to ``out`` atomically and owner-only.

    ``out`` must be a regular file or not exist yet: a symbolic link (which could point at any
    file the desk account can write), a folder, a FIFO or a device is refused. The bytes go to
    a temporary file in the same folder that is renamed over ``out``, so a reader never sees
    half an export and a rename never follows a link planted meanwhile.
    """
    if out is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    target = Path(out)
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"cannot use {target} for output: {exc.strerror or exc}", path=str(target)) from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise OutputError("is a symbolic link; give the path of a regular file", path=str(target))
        if not stat.S_ISREG(st.st_mode):
            raise OutputError("is not a regular file; give the path of a regular file", path=str(target))
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError("its folder does not exist", path=str(target))
    try:
        write_private(target, data)
    except OSError as exc:
        raise OutputError(f"cannot write in its folder: {exc.strerror or exc}", path=str(target)) from None


def export_bytes(text: str, out: str | Path | None, encoding: str, *, bom: bool, accept_lossy: bool) -> Changes:
    """Encode ``text`` and write it, saying on stderr what the encoding changed.

    A lossy export is refused (``LossyExportError``, nothing written) unless ``accept_lossy``.
    """
    from intake.messages import language

    data, changes = encode(text, encoding, bom=bom)
    if changes.lossy:
        words = LOSS_WORDS[language()]
        if not accept_lossy:
            raise LossyExportError(f"{changes.describe()}. {words['refused']}")
        print(f"intake: {changes.describe()}. {words['accepted']}", file=sys.stderr)
    write_output(data, out)
    return changes


# -- reading -------------------------------------------------------------------------------


def decode_sheet(data: bytes, encoding: str = "auto", *, where: str | None = None) -> str:
    """The text of a CSV as Excel may have saved it: UTF-8 with or without BOM, or cp932."""
    if encoding != "auto":
        if data.startswith(BOM.encode("utf-8")) and not _is_utf8(encoding):
            raise MixedEncodingSheetError(f"the file starts with a UTF-8 byte-order mark, not {encoding}; "
                                          "import it with --encoding auto", path=where)
        try:
            text = data.decode("utf-8-sig" if _is_utf8(encoding) else encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise UndecodableSheetError(f"the file is not valid {encoding} ({exc})", path=where) from None
        return text
    if data.startswith(BOM.encode("utf-8")):
        try:
            return data[3:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MixedEncodingSheetError(
                f"the file starts with a UTF-8 byte-order mark but byte {exc.start + 3} is not UTF-8 (a sheet pasted "
                "together from UTF-8 and Shift_JIS files?); open it in Excel and save it again as CSV UTF-8",
                path=where) from None
    for enc in ("utf-8", "cp932"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise UndecodableSheetError("the file is neither UTF-8 nor Shift_JIS (cp932); save it again as CSV from Excel",
                                path=where)


@dataclass
class Sheet:
    header: list[str]
    rows: list[tuple[int, dict[str, str | None]]]  # (line the row starts on, cells by column; None: no cell)


def read_sheet(path: str | Path, encoding: str = "auto", *, required: str = "record_id") -> Sheet:
    """Read a whole CSV or raise a ``ReviewFileError`` saying why it cannot be used. Never anything else.

    Cells are returned as typed (still neutralised): the caller compares them with what was exported.
    """
    where = str(path)
    try:
        size = os.stat(path).st_size
        if size > MAX_SHEET_BYTES:
            raise SheetTooLargeError(f"the file is {size // (1024 * 1024)} MB; a review sheet is at most "
                                     f"{MAX_SHEET_BYTES // (1024 * 1024)} MB", path=where)
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ReviewFileError(f"cannot read it: {exc.strerror or exc}", path=where) from None
    text = decode_sheet(data, encoding, where=where)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None or required not in header:
            raise NoRecordIdColumnError(f"no {required} column; export the sheet with `intake export --review` and "
                                        "edit that", path=where)
        dupes = sorted({c for c in header if header.count(c) > 1 and c})
        if dupes:
            raise DuplicateColumnError(f"column(s) {', '.join(dupes)} appear more than once; keep one of each",
                                       path=where)
        rows = []
        start = reader.line_num + 1
        for cells in reader:
            if any(c.strip() for c in cells):  # else a blank line Excel left behind
                rows.append((start, {h: (cells[i] if i < len(cells) else None) for i, h in enumerate(header)}))
            start = reader.line_num + 1  # a row's line is where it starts (a quoted cell may span lines)
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise CellTooLargeError(f"a cell near line {reader.line_num} is longer than {csv.field_size_limit()} "
                                    "characters; no field of the form is that long", path=where) from None
        raise MalformedSheetError(f"line {reader.line_num} is not valid CSV ({exc})", path=where) from None
    return Sheet(header, rows)
