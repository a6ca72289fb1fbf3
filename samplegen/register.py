"""A contract register and NTT staff directory for a generated set, as the desk's systems export them.

Every form's contractor holds the numbers its form asks for, plus a few more; many other
contractors hold many other numbers. A few per cent of forms ask for a number the contractor
does not hold: held by another contractor (the wrong party), or by nobody (a writing slip: the
contractor holds the number one digit away). ``truth.json`` says, per fax and target row, who
holds the number asked for: ``contractor``, ``other`` or ``none``.

The faxes themselves are untouched: a register is drawn from the truth rows with its own random
stream, so a set and its register are reproducible from the seed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from samplegen.values import NTT_DEPTS, company, person, phone

NOT_HELD_SHARE = 0.05
REGISTER_STREAM = 7
LEGAL_FORMS = {"株式会社": "株式会社", "(株)": "株式会社", "有限会社": "有限会社"}
# How the register spells a legal form (the form's writer may spell it otherwise).
REGISTER_SPELLING = {"株式会社": ("株式会社{}", "{}株式会社", "㈱{}"), "有限会社": ("有限会社{}", "㈲{}")}


def contractor_key(name: str) -> tuple[str, str]:
    """(legal form, core name) of a generated company name."""
    for written, kind in LEGAL_FORMS.items():
        if name.startswith(written):
            return kind, name[len(written):]
        if name.endswith(written):
            return kind, name[: -len(written)]
    return "", name


def _number(rng) -> str:
    return f"0180-99-{int(rng.integers(0, 10000)):04d}"


def _plan(rng) -> str:
    return f"4-{int(rng.integers(0, 10000)):04d}-{int(rng.integers(0, 100)):02d}"


def _slip(rng, number: str) -> str:
    """The number with one of its last four digits changed: what a writer's slip does."""
    digits = list(number[-4:])
    i = int(rng.integers(0, 4))
    digits[i] = str((int(digits[i]) + int(rng.integers(1, 10))) % 10)
    return number[:-4] + "".join(digits)


def _spelt(rng, number: str) -> str:
    """A number as a desk system may export it: hyphens, none, or full-width digits."""
    r = rng.random()
    if r < 0.2:
        return number.replace("-", "")
    if r < 0.3:
        return number.translate(str.maketrans("0123456789-", "０１２３４５６７８９－"))
    return number


def make_register(rows: list[dict], seed: int, out_dir: str | Path) -> dict[str, dict]:
    """Write ``contracts.csv`` (UTF-8 with BOM), ``staff.csv`` (cp932) and ``truth.json`` into ``out_dir``."""
    rng = np.random.default_rng([seed, REGISTER_STREAM])
    asked = {f[f"targets.{i}.teledome_number"] for r in rows for rec in r["records"] for f in [rec["fields"]]
             for i in range(4)} - {None}
    holder: dict[str, tuple[str, str]] = {}
    spelling: dict[tuple[str, str], str] = {}
    contracts: list[tuple[tuple[str, str], str, str]] = []

    def fresh() -> str:
        while True:
            n = _number(rng)
            if n not in holder and n not in asked:
                return n

    def hold(key: tuple[str, str], number: str, plan: str) -> None:
        if holder.setdefault(number, key) == key:
            contracts.append((key, number, plan))

    def spell(key: tuple[str, str]) -> str:
        if key not in spelling:
            patterns = REGISTER_SPELLING.get(key[0], ("{}",))
            spelling[key] = str(rng.choice(patterns)).format(key[1])
        return spelling[key]

    forms = [(r["file"], rec["fields"]) for r in rows for rec in r["records"]]
    for _, fields in forms:
        key = contractor_key(fields["contractor_name"])
        spell(key)
        used = [i for i in range(4) if fields[f"targets.{i}.teledome_number"]]
        odd = int(rng.choice(used)) if used and rng.random() < NOT_HELD_SHARE else None
        wrong_party = bool(rng.random() < 0.5)
        for i in used:
            number, plan = fields[f"targets.{i}.teledome_number"], fields[f"targets.{i}.plan_number"]
            if i == odd and wrong_party:
                hold(contractor_key(company(rng)), number, plan)
            elif i == odd:
                meant = _slip(rng, number)
                hold(key, meant if meant not in asked else fresh(), plan)
            else:
                hold(key, number, plan)
        for _ in range(int(rng.integers(0, 4))):
            hold(key, fresh(), _plan(rng))
    for _ in range(3 * len(forms)):
        key = contractor_key(company(rng))
        for _ in range(int(rng.integers(1, 5))):
            hold(key, fresh(), _plan(rng))

    truth = {}
    for file, fields in forms:
        key = contractor_key(fields["contractor_name"])
        held = {}
        for i in range(4):
            number = fields[f"targets.{i}.teledome_number"]
            if number:
                held[str(i)] = "contractor" if holder.get(number) == key else "other" if number in holder else "none"
        truth[file] = {"targets": held, "asks_unheld": any(v != "contractor" for v in held.values())}

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    order = rng.permutation(len(contracts))
    lines = ["contractor_name,teledome_number,plan_number"]
    lines += [f"{spell(contracts[j][0])},{_spelt(rng, contracts[j][1])},{_spelt(rng, contracts[j][2])}" for j in order]
    (out / "contracts.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8-sig"))
    (out / "staff.csv").write_bytes(("\r\n".join(_staff_lines(rng, [f for _, f in forms])) + "\r\n").encode("cp932"))
    (out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return truth


def _staff_lines(rng, forms: list[dict]) -> list[str]:
    """The NTT contacts the forms name, as the form gives them, plus others; a name two forms give
    different details for is left out (a name not in the directory is not an error)."""
    staff: dict[str, tuple[str, str]] = {}
    clash = set()
    for f in forms:
        name = f["ntt_contact.name"]
        if not name:
            continue
        entry = (f["ntt_contact.department"] or str(rng.choice(NTT_DEPTS)), f["ntt_contact.phone"] or phone(rng))
        old = staff.setdefault(name, entry)
        if (f["ntt_contact.department"] and old[0] != entry[0]) or (f["ntt_contact.phone"] and old[1] != entry[1]):
            clash.add(name)
    for _ in range(20):
        staff.setdefault(person(rng), (str(rng.choice(NTT_DEPTS)), phone(rng)))
    return ["department,name,phone"] + [f"{d},{n},{p}" for n, (d, p) in staff.items() if n not in clash]
