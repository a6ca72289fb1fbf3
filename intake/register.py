"""What the desk knows about its customers: the contract register and the NTT staff directory.

Two CSV files as the desk's systems export them (UTF-8 with or without BOM, or cp932, a header
row, further columns ignored):

    contracts: contractor_name,teledome_number,plan_number   one row per number (and plan on it)
    staff:     department,name,phone

A file is loaded whole or refused whole (``RegisterError``, every bad line named). The check
step runs after validate: every target row must name a Teledome number this contractor holds
and a plan that runs on it; the contractor's name as written must be a registered one; an NTT
contact found in the staff directory must carry its department and phone. Each failure is a
``register:*`` review reason naming the fields, whatever the reading's confidence.

The register is also evidence for the reader, as a keyer uses it: a number whose only doubt is
the readers' (low confidence, disagreement) is settled when the row's pair is one this
contractor holds and the ink supports it (the shown reading, or an alternative the readers gave
real probability). A number the ink does not support is never replaced by a registered one.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import os
import re
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

from intake.errors import RegisterError
from intake.model import FieldReading, Record
from intake.reasons import Reason

log = logging.getLogger("intake.register")

CONTRACT_COLUMNS = ("contractor_name", "teledome_number", "plan_number")
STAFF_COLUMNS = ("department", "name", "phone")
TARGET_ROWS = 4
# An alternative reading the readers gave at least this share of their joint belief is one the
# ink supports; below it, a registered number is not put in place of what was read.
MIN_SUPPORT = 0.2
# Reader doubts the register may settle (reason codes): of a number, a posterior the record's own
# evidence left unsettled (and, from stores of earlier versions, the readers' confidence and
# disagreement); of a name, also the lexicon's doubts (words it does not know, a character read
# twice, a given name it does not know, a character that may be missing) and the ink's count of
# characters against the reading's.
SETTLEABLE = ("low_posterior", "low_confidence", "readers_disagree")
SETTLEABLE_TEXT = SETTLEABLE + ("text_not_a_word", "text_doubled_char", "text_name_unknown", "text_char_missing",
                                "text_ink_unread", "text_ink_read_twice", "text_ink_broken")
# The legal form as written before or after the name (NFKC has already turned ㈱ into (株)).
LEGAL_FORMS = {"株式会社": "株式会社", "(株)": "株式会社", "有限会社": "有限会社", "(有)": "有限会社",
               "合同会社": "合同会社", "(同)": "合同会社"}
_DASHES = re.compile(r"[\s\-‐‑‒–—―−ー－]")
MAX_PROBLEMS_SHOWN = 20


# -- numbers and names as the desk writes them ----------------------------------------


def digits_of(text: str) -> str | None:
    """The digits of a number written with or without hyphens (full-width allowed); None if anything else."""
    s = _DASHES.sub("", unicodedata.normalize("NFKC", text or ""))
    return s if s.isdigit() else None


def teledome_number(text: str) -> str | None:
    """``0180-99-1234`` from any spelling of a ten-digit 0180 number, else None."""
    d = digits_of(text)
    if d is None or len(d) != 10 or not d.startswith("0180"):
        return None
    return f"{d[:4]}-{d[4:6]}-{d[6:]}"


def plan_number(text: str) -> str | None:
    """``4-1234-56`` from any spelling of a seven-digit plan number, else None."""
    d = digits_of(text)
    if d is None or len(d) != 7:
        return None
    return f"{d[0]}-{d[1:5]}-{d[5:]}"


def phone_digits(text: str) -> str | None:
    d = digits_of(text)
    return d if d and d.startswith("0") and len(d) in (10, 11) else None


def squeeze(text: str) -> str:
    """NFKC without any spaces: how two spellings of one name or department are compared."""
    return "".join(unicodedata.normalize("NFKC", text or "").split())


def name_key(text: str) -> tuple[str, str]:
    """(legal form, core name): ``（株）山田商事``, ``㈱山田商事`` and ``山田商事株式会社`` share one key."""
    s = squeeze(text)
    for written in sorted(LEGAL_FORMS, key=len, reverse=True):
        if s.startswith(written) and len(s) > len(written):
            return LEGAL_FORMS[written], s[len(written):]
        if s.endswith(written) and len(s) > len(written):
            return LEGAL_FORMS[written], s[: -len(written)]
    return "", s


def edit_distance(a: str, b: str, limit: int | None = None) -> int:
    """Levenshtein distance; stops early (returning ``limit + 1``) once it must exceed ``limit``."""
    if limit is not None and abs(len(a) - len(b)) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if limit is not None and min(cur) > limit:
            return limit + 1
        prev = cur
    return prev[-1]


def close_limit(core: str) -> int:
    """How many characters of a core name a misreading may change: one for short names, two beyond."""
    return 1 if len(core) <= 4 else 2


# -- the loaded register ------------------------------------------------------------------


@dataclass(frozen=True)
class Contractor:
    name: str  # as the register spells it
    key: tuple[str, str]
    numbers: dict[str, frozenset[str]]  # Teledome number -> plans that run on it


@dataclass(frozen=True)
class StaffMember:
    department: str
    name: str
    phone: str


@dataclass(frozen=True)
class RegisterVersion:
    """Which register a record was checked against: the files' SHA-256 prefix and when they were loaded."""

    sha256: str
    loaded: str

    def to_json(self) -> dict[str, str]:
        return {"sha256": self.sha256, "loaded": self.loaded}


@dataclass(frozen=True)
class Register:
    contractors: tuple[Contractor, ...]
    holders: dict[str, Contractor]  # Teledome number -> its holder
    staff: dict[str, tuple[StaffMember, ...]]  # squeezed name -> members of that name
    version: RegisterVersion

    def match_contractor(self, written: str | None) -> tuple[Contractor | None, str]:
        """The registered contractor a written name means, and how: ``exact``, ``close`` or ``none``.

        A close match (a misreading of a character or two) is taken only when the written name is
        nearer to it than halfway to any other registered contractor, so two are never confused.
        """
        if not written or not squeeze(written):
            return None, "none"
        kind, core = name_key(written)
        compatible = [c for c in self.contractors if not kind or not c.key[0] or c.key[0] == kind]
        for c in compatible:
            if c.key[1] == core:
                return c, "exact"
        limit = close_limit(core)
        scored = sorted(((edit_distance(core, c.key[1], limit), c) for c in compatible), key=lambda t: t[0])
        scored = [(d, c) for d, c in scored if d <= limit]
        if not scored:
            return None, "none"
        d, best = scored[0]
        nearest_other = min((edit_distance(best.key[1], c.key[1], 2 * d) for c in self.contractors if c is not best),
                            default=2 * d + 1)
        if 2 * d < nearest_other:
            return best, "close"
        return None, "none"

    def holds(self, contractor: Contractor | None, number: str) -> bool:
        return contractor is not None and number in contractor.numbers


# -- loading ---------------------------------------------------------------------------------


def decode_csv(data: bytes, path: str) -> str:
    """UTF-8 with or without BOM, else cp932; refused whole otherwise."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        encodings = ("utf-8",)
    else:
        encodings = ("utf-8", "cp932")
    first_bad = 0
    for enc in encodings:
        try:
            return data.decode(enc)
        except UnicodeDecodeError as exc:
            first_bad = first_bad or exc.start
    line = data[:first_bad].count(b"\n") + 1
    raise RegisterError(f"line {line}: the file is neither UTF-8 nor Shift_JIS (cp932); export it again as CSV",
                        path=path)


def _rows(text: str, columns: tuple[str, ...], path: str) -> Iterable[tuple[int, dict[str, str]]]:
    """(line number, row) per non-blank data row; the header must name every column."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or not any(h.strip() for h in header):
        raise RegisterError("the file is empty; it needs a header row " + ",".join(columns) + " and one row per entry",
                            path=path)
    names = [squeeze(h).lower() for h in header]
    missing = [c for c in columns if c not in names]
    if missing:
        raise RegisterError(f"line 1: the header lacks {', '.join(missing)} (it must name "
                            f"{','.join(columns)}; further columns are ignored)", path=path)
    where = {c: names.index(c) for c in columns}
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        yield reader.line_num, {c: (cells[i].strip() if i < len(cells) else "") for c, i in where.items()}


def _refuse(problems: list[str], path: str, what: str) -> None:
    if problems:
        shown = "; ".join(problems[:MAX_PROBLEMS_SHOWN])
        more = f"; and {len(problems) - MAX_PROBLEMS_SHOWN} more" if len(problems) > MAX_PROBLEMS_SHOWN else ""
        raise RegisterError(f"{len(problems)} problem(s), the {what} was not loaded: {shown}{more}", path=path)


def parse_contracts(text: str, path: str = "contracts") -> tuple[Contractor, ...]:
    problems: list[str] = []
    spelled: dict[tuple[str, str], str] = {}
    numbers: dict[tuple[str, str], dict[str, set[str]]] = {}
    holder_of: dict[str, tuple[tuple[str, str], int]] = {}
    seen = 0
    for line, row in _rows(text, CONTRACT_COLUMNS, path):
        seen += 1
        name, tel, plan = row["contractor_name"], teledome_number(row["teledome_number"]), plan_number(row["plan_number"])
        bad = []
        if not squeeze(name):
            bad.append("contractor_name is blank")
        if tel is None:
            bad.append(f"teledome_number '{row['teledome_number']}' is not a Teledome number (ten digits 0180…)")
        if plan is None:
            bad.append(f"plan_number '{row['plan_number']}' is not a plan number (seven digits, e.g. 4-1234-56)")
        if bad:
            problems.append(f"line {line}: " + ", ".join(bad))
            continue
        key = name_key(name)
        if tel in holder_of and holder_of[tel][0] != key:
            problems.append(f"line {line}: teledome_number {tel} is already held by another contractor "
                            f"(line {holder_of[tel][1]}); a number has one holder")
            continue
        holder_of.setdefault(tel, (key, line))
        spelled.setdefault(key, name)
        numbers.setdefault(key, {}).setdefault(tel, set()).add(plan)
    if not seen and not problems:
        problems.append("no contracts after the header")
    _refuse(problems, path, "contract register")
    return tuple(Contractor(spelled[k], k, {t: frozenset(p) for t, p in nums.items()}) for k, nums in numbers.items())


def parse_staff(text: str, path: str = "staff") -> dict[str, tuple[StaffMember, ...]]:
    problems: list[str] = []
    staff: dict[str, list[StaffMember]] = {}
    seen = 0
    for line, row in _rows(text, STAFF_COLUMNS, path):
        seen += 1
        bad = []
        if not squeeze(row["name"]):
            bad.append("name is blank")
        phone = row["phone"]
        if phone and phone_digits(phone) is None:
            bad.append(f"phone '{phone}' is not a Japanese phone number (10 or 11 digits from 0)")
        if bad:
            problems.append(f"line {line}: " + ", ".join(bad))
            continue
        staff.setdefault(squeeze(row["name"]), []).append(StaffMember(squeeze(row["department"]), row["name"], phone))
    if not seen and not problems:
        problems.append("no staff after the header")
    _refuse(problems, path, "staff directory")
    return {k: tuple(v) for k, v in staff.items()}


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise RegisterError(f"cannot read the file: {exc.strerror or exc}", path=str(path)) from None


def load_register(contracts: str | Path, staff: str | Path | None = None) -> Register:
    """Load both files whole, or raise ``RegisterError`` naming every bad line."""
    contracts = Path(contracts)
    data = _read(contracts)
    contractors = parse_contracts(decode_csv(data, str(contracts)), str(contracts))
    digest = hashlib.sha256(data)
    members: dict[str, tuple[StaffMember, ...]] = {}
    if staff is not None:
        staff = Path(staff)
        staff_data = _read(staff)
        members = parse_staff(decode_csv(staff_data, str(staff)), str(staff))
        digest.update(b"\0" + staff_data)
    holders = {t: c for c in contractors for t in c.numbers}
    loaded = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return Register(contractors, holders, members, RegisterVersion(digest.hexdigest()[:16], loaded))


# -- where the register comes from -----------------------------------------------------------

CONFIG_FILE = "config.toml"
ENV_CONTRACTS, ENV_STAFF = "INTAKE_CONTRACTS", "INTAKE_STAFF"


def configured_paths(contracts: str | None, staff: str | None, data_dir: Path) -> tuple[Path | None, Path | None]:
    """The register files: the flags, else ``$INTAKE_CONTRACTS``/``$INTAKE_STAFF``, else ``[register]``
    in ``<data folder>/config.toml`` (paths there are relative to that folder)."""
    c = contracts or os.environ.get(ENV_CONTRACTS)
    s = staff or os.environ.get(ENV_STAFF)
    config = data_dir / CONFIG_FILE
    if (c is None or s is None) and config.is_file():
        import tomllib

        try:
            section = tomllib.loads(config.read_text(encoding="utf-8")).get("register", {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise RegisterError(f"not valid TOML: {exc}", path=str(config)) from None
        c = c or (str(data_dir / section["contracts"]) if section.get("contracts") else None)
        s = s or (str(data_dir / section["staff"]) if section.get("staff") else None)
    if c is None and s is not None:
        raise RegisterError("a staff directory was given without a contract register (--contracts)")
    return (Path(c) if c else None), (Path(s) if s else None)


class RegisterSource:
    """The register files, reloaded when they change (checked between faxes).

    A changed file that is malformed is refused whole: the previous version stays in use (records
    name the version they were checked against) and the log says so, without any file content.
    """

    def __init__(self, contracts: Path, staff: Path | None = None):
        self.contracts, self.staff = contracts, staff
        self._stamp = self._signature()
        self.register = load_register(contracts, staff)

    def _signature(self) -> tuple:
        out = []
        for p in (self.contracts, self.staff):
            try:
                st = p.stat() if p else None
            except OSError:
                st = None
            out.append((st.st_size, st.st_mtime_ns) if st else None)
        return tuple(out)

    def current(self) -> Register:
        stamp = self._signature()
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                fresh = load_register(self.contracts, self.staff)
            except RegisterError as exc:
                log.warning("register files changed but were refused [%s]; still using version %s",
                            exc.reason, self.register.version.sha256)
                return self.register
            if fresh.version.sha256 != self.register.version.sha256:
                log.info("register reloaded: version %s", fresh.version.sha256)
                self.register = fresh
        return self.register


# -- the check step --------------------------------------------------------------------------


@dataclass
class _Findings:
    fields: dict[str, FieldReading]
    reasons: list[Reason] = field(default_factory=list)

    def flag(self, reason: Reason) -> None:
        self.reasons.append(reason)
        for key in reason.fields:
            if key in self.fields:
                self.fields[key] = self.fields[key].with_reason(reason)


def _settleable(reading: FieldReading, doubts: tuple[str, ...] = SETTLEABLE) -> bool:
    """Doubted only by the readers (low confidence, disagreement), not by a rule or a broken digit."""
    return bool(reading.reasons) and all(r.code in doubts for r in reading.reasons)


def _confirm(found: _Findings, keys: Iterable[str], registered: dict[str, str]) -> list[dict]:
    """Lift the readers' doubts on text and phone fields the register confirms as read, word for word."""
    out = []
    for key in keys:
        reading = found.fields.get(key)
        if reading is not None and reading.value and _settleable(reading, SETTLEABLE_TEXT):
            out.append({"field": key, "read": reading.value, "registered": registered.get(key, reading.value),
                        "support": 1.0})
            found.fields[key] = replace(reading, reasons=())
    return out


def _support(reading: FieldReading, value: str) -> float:
    """The share of the readers' joint belief this value holds (1 for the value shown, if no alternatives)."""
    for candidate, p in reading.candidates:
        if candidate == value:
            return p
    return 1.0 if reading.value == value and not reading.candidates else 0.0


def _settle_row(contractor: Contractor, tel: FieldReading, plan: FieldReading) -> tuple[str, str, float] | None:
    """The one pair this contractor holds that the ink supports, where the readers' doubt left room for it."""
    options = []
    for number, plans in contractor.numbers.items():
        for p in plans:
            if (number != tel.value and not _settleable(tel)) or (p != plan.value and not _settleable(plan)):
                continue  # a confident reading is never replaced
            support = _support(tel, number) * _support(plan, p)
            shown = number == tel.value and p == plan.value
            if support > 0 and (shown or min(_support(tel, number), _support(plan, p)) >= MIN_SUPPORT):
                options.append((number, p, support))
    return options[0] if len(options) == 1 else None


def check_against_register(record: Record, register: Register) -> Record:
    """Check one validated record against what the desk knows; returns it with the ``register`` object
    and a ``register:*`` reason on every field that disagrees with the register."""
    found = _Findings(dict(record.fields))
    get = lambda k: found.fields.get(k)  # noqa: E731
    name = get("contractor_name")
    written = name.value if name else None
    contractor, how = register.match_contractor(written)
    if written and contractor is None:
        found.flag(Reason.of("register:contractor_unknown", "contractor_name"))
    rows, settled = [], []
    for i in range(TARGET_ROWS):
        tk, pk = f"targets.{i}.teledome_number", f"targets.{i}.plan_number"
        tel, plan = get(tk), get(pk)
        if tel is None or tel.value is None:
            continue
        if contractor is not None and plan is not None and plan.value is not None:
            held = contractor.numbers.get(tel.value, frozenset())
            if plan.value not in held or _settleable(tel) or _settleable(plan):
                choice = _settle_row(contractor, tel, plan)
                if choice is not None:
                    settled += _apply_settlement(found, tel, plan, choice)
        tel, plan = get(tk), get(pk)
        holder = register.holders.get(tel.value)
        row: dict[str, Any] = {"row": i, "teledome_number": tel.value, "plan_number": plan.value if plan else None}
        if holder is None:
            row["holder"] = "none"
            found.flag(Reason.of("register:number_not_held", (tk, pk), number=tel.value))
        elif contractor is None:
            row["holder"] = "other"  # the contractor is unknown; the name says why
            row["registered_holder"] = holder.name
        elif holder is not contractor:
            row["holder"] = "other"
            row["registered_holder"] = holder.name
            found.flag(Reason.of("register:number_held_by_other", (tk, pk), number=tel.value))
        else:
            row["holder"] = "contractor"
            if plan is not None and plan.value is not None:
                row["plan_on_number"] = plan.value in contractor.numbers[tel.value]
                if not row["plan_on_number"]:
                    found.flag(Reason.of("register:plan_not_on_number", (pk, tk), plan=plan.value, number=tel.value))
        rows.append(row)
    if how == "exact" and rows and all(r["holder"] == "contractor" and r.get("plan_on_number") for r in rows):
        # The name as read is a registered contractor's, and it holds every pair the form asks for.
        settled += _confirm(found, ["contractor_name"], {"contractor_name": contractor.name})
    staff = _check_staff(found, register)
    if staff.get("agrees") and staff.get("compared"):
        # The name as read is in the directory, and the department or phone read beside it agree.
        settled += _confirm(found, ["ntt_contact.name", *staff["compared"]], {})
    summary = {
        "version": register.version.to_json(),
        "contractor": {"as_written": written, "registered": contractor.name if contractor else None, "match": how},
        "targets": rows,
        "ntt_contact": staff,
        "settled": settled,
        "reasons": [r.to_json() for r in found.reasons],
    }
    return replace(record, fields=found.fields, register=summary)


def _apply_settlement(found: _Findings, tel: FieldReading, plan: FieldReading, choice: tuple[str, str, float]) -> list[dict]:
    number, p, support = choice
    out = []
    for reading, value in ((tel, number), (plan, p)):
        if not _settleable(reading):
            continue
        out.append({"field": reading.key, "read": reading.value, "registered": value,
                    "support": round(_support(reading, value), 4)})
        found.fields[reading.key] = replace(reading, value=value, reasons=())
    return out


def _check_staff(found: _Findings, register: Register) -> dict[str, Any]:
    name = found.fields.get("ntt_contact.name")
    if name is None or not name.value:
        return {"in_directory": None}
    members = register.staff.get(squeeze(name.value))
    if not members:
        return {"in_directory": False}
    dept = found.fields.get("ntt_contact.department")
    phone = found.fields.get("ntt_contact.phone")
    wrong: list[str] = []
    compared: list[str] = []
    if dept is not None and dept.value and any(m.department for m in members):
        compared.append(dept.key)
        if all(m.department != squeeze(dept.value) for m in members if m.department):
            wrong.append(dept.key)
    if phone is not None and phone.value and any(m.phone for m in members):
        compared.append(phone.key)
        if all(phone_digits(m.phone) != digits_of(phone.value) for m in members if m.phone):
            wrong.append(phone.key)
    if wrong:
        found.flag(Reason.of("register:staff_mismatch", tuple(wrong), name_field="ntt_contact.name"))
    return {"in_directory": True, "department": members[0].department, "phone": members[0].phone,
            "agrees": not wrong, "compared": compared}


# -- command line ------------------------------------------------------------------------------


def add_arguments(parser) -> None:
    """``--contracts`` and ``--staff`` for ``intake scan`` and ``intake watch``."""
    parser.add_argument("--contracts", default=None, metavar="CSV",
                        help="contract register (contractor_name,teledome_number,plan_number); default "
                             f"${ENV_CONTRACTS} or [register] contracts in <data folder>/{CONFIG_FILE}")
    parser.add_argument("--staff", default=None, metavar="CSV",
                        help=f"NTT staff directory (department,name,phone); default ${ENV_STAFF} or the config file")


def open_register(contracts: str | None, staff: str | None, data_dir: Path) -> RegisterSource | None:
    """The configured register, loaded (``RegisterError`` if a file is bad), or None if none is configured."""
    c, s = configured_paths(contracts, staff, data_dir)
    if c is None:
        return None
    source = RegisterSource(c, s)
    r = source.register
    log.info("register version %s: %d contractor(s), %d number(s), %d staff name(s)",
             r.version.sha256, len(r.contractors), len(r.holders), len(r.staff))
    return source
