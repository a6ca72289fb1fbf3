"""Score records against the generator's truth: per field group accuracy, unflagged errors, CER."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field

from intake.kinds import KINDS
from intake.model import FieldReading
from intake.register import edit_distance  # noqa: F401 - the character error rate's distance, also used by tests
from intake.validate import validate_record

GROUPS = {name: kind.bench_group for name, kind in KINDS.items()}  # field kind -> benchmark row


def normalise_text(v):
    if v is None:
        return None
    return "".join(unicodedata.normalize("NFKC", str(v)).split())


@dataclass
class Score:
    """Running totals for one engine configuration."""

    fields: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0]))  # group -> [n, right, flagged, unflagged wrong]
    records: int = 0
    straight_through: int = 0
    records_unflagged_wrong: int = 0
    records_flagged: int = 0
    records_review_as_written: int = 0
    records_with_disagreement: int = 0
    records_passable: int = 0  # records a perfect reader could pass (the form breaks no rule as filled in)
    straight_through_passable: int = 0  # of those, how many went straight through
    by_population: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0]))  # writers -> digit fields [n, right, flagged, unflagged wrong]
    missing_records: int = 0
    by_layout: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0]))  # layout -> [form pages, missed]
    extra_records: int = 0
    skipped_right: int = 0
    non_form_pages: int = 0
    cer_edits: int = 0
    cer_chars: int = 0
    pages: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # the process's own CPU time and its children's (Tesseract runs as one)
    unreadable_files: int = 0
    errors: list = field(default_factory=list)

    def add_record(self, template, record_json: dict, truth_fields: dict, writers: str | None = None) -> None:
        """Score one record against the truth; ``writers`` (the population that wrote it) adds a per-population row."""
        self.records += 1
        review = record_json["review"]["needed"]
        self.straight_through += not review
        self.records_flagged += review
        passable = not needs_review_as_written(template, truth_fields)
        self.records_review_as_written += not passable
        self.records_passable += passable
        self.straight_through_passable += passable and not review
        # A disagreement between the digit readers is a note where the record's evidence settled
        # it and a flag where it did not: counted either way, as how often the readers differ.
        self.records_with_disagreement += any(r["code"] == "readers_disagree"
                                              for r in record_json["review"]["reasons"] + record_json["review"].get("notes", []))
        any_unflagged_wrong = False
        for spec in template.fields:
            got = record_json["fields"][spec.key]
            want = truth_fields.get(spec.key)
            group = GROUPS[spec.kind]
            if group == "text":
                right = normalise_text(got["value"]) == normalise_text(want)
                if want is not None or got["value"] is not None:
                    w, g = normalise_text(want) or "", normalise_text(got["value"]) or ""
                    self.cer_edits += edit_distance(g, w)
                    self.cer_chars += max(1, len(w))
            else:
                right = got["value"] == want
            buckets = [self.fields[group]]
            if group == "digits" and writers is not None:
                buckets.append(self.by_population[writers])
            for bucket in buckets:
                bucket[0] += 1
                bucket[1] += right
                bucket[2] += got["review"]
                bucket[3] += not right and not got["review"]
            if not right and not got["review"]:
                any_unflagged_wrong = True
                self.errors.append((record_json["source"]["file"], spec.key, want, got["value"], got["confidence"]))
        # Strict: a wrong value that is not itself flagged counts even if another field sent the
        # record to review, since a reviewer looks at the flagged fields.
        self.records_unflagged_wrong += any_unflagged_wrong

    def flagged_fields(self) -> tuple[int, int]:
        """(fields flagged for review, fields), every kind together."""
        return sum(b[2] for b in self.fields.values()), sum(b[0] for b in self.fields.values())

    def worst_population(self) -> tuple[str, float] | None:
        """The population whose digit fields were read right least often, and that share."""
        rated = {p: b[1] / b[0] for p, b in self.by_population.items() if b[0]}
        if not rated:
            return None
        worst = min(rated, key=lambda p: (rated[p], p))
        return worst, rated[worst]


def needs_review_as_written(template, truth_fields: dict) -> bool:
    """Whether the form as the customer filled it breaks a rule (a required option left blank,
    a weekday that does not match its date), so that even a perfect reading must go to review.

    One minus the share of such records is the highest straight-through any reader can reach.
    """
    readings = {spec.key: FieldReading(spec.key, truth_fields.get(spec.key), 1.0) for spec in template.fields}
    fields, record_reasons = validate_record(template, readings)
    return bool(record_reasons) or any(f.review for f in fields.values())


def population_rows(scores: dict[str, Score]) -> list[tuple[str, list[str]]]:
    """Digit accuracy and unflagged wrong digits per writer population, then the worst population."""
    found = sorted({p for s in scores.values() for p in s.by_population})
    rows: list[tuple[str, list[str]]] = []
    for p in found:
        rows.append((f"  digits, {p}: exactly right", [_pct(s.by_population[p][1], s.by_population[p][0]) if p in s.by_population
                                                       else "n/a" for s in scores.values()]))
        rows.append((f"  digits, {p}: wrong and unflagged", [str(s.by_population[p][3]) if p in s.by_population else "n/a"
                                                             for s in scores.values()]))
    if len(found) > 1:
        worst = [s.worst_population() for s in scores.values()]
        rows.append(("  digits, worst population", [f"{w[0]} {100 * w[1]:.1f}%" if w else "n/a" for w in worst]))
    return rows


def table(scores: dict[str, Score]) -> str:
    """One plain-text table, a column per engine configuration."""
    names = list(scores)
    rows: list[tuple[str, list[str]]] = []
    for group in ("digits", "weekday", "marks", "text"):
        rows.append((f"{group}: exactly right", [_pct(s.fields[group][1], s.fields[group][0]) for s in scores.values()]))
        rows.append((f"{group}: wrong and unflagged", [f"{s.fields[group][3]}" for s in scores.values()]))
        rows.append((f"{group}: flagged for review", [_pct(s.fields[group][2], s.fields[group][0]) for s in scores.values()]))
        if group == "digits":
            rows += population_rows(scores)
    rows += [
        ("fields flagged for review, all kinds", [_pct(*s.flagged_fields()) for s in scores.values()]),
        ("text character error rate", [_pct(s.cer_edits, s.cer_chars) for s in scores.values()]),
        ("records", [str(s.records) for s in scores.values()]),
        ("records straight through", [_pct(s.straight_through, s.records) for s in scores.values()]),
        ("  at most, if every field were read right", [_pct(s.records - s.records_review_as_written, s.records) for s in scores.values()]),
        ("  straight through of those a perfect reader passes", [f"{s.straight_through_passable}/{s.records_passable} "
                                                                 f"({_pct(s.straight_through_passable, s.records_passable)})"
                                                                 for s in scores.values()]),
        ("  records with a digit-reader disagreement", [_pct(s.records_with_disagreement, s.records) for s in scores.values()]),
        ("records flagged for review", [str(s.records_flagged) for s in scores.values()]),
        ("records with an unflagged wrong value", [f"{s.records_unflagged_wrong} ({_pct(s.records_unflagged_wrong, s.records)})" for s in scores.values()]),
        ("form pages missed / non-form pages taken", [f"{s.missing_records} / {s.extra_records}" for s in scores.values()]),
        *[(f"  form pages missed, {lay}", [f"{s.by_layout[lay][1]}/{s.by_layout[lay][0]}" for s in scores.values()])
          for lay in _layouts(scores)],
        ("non-form pages skipped", [f"{s.skipped_right}/{s.non_form_pages}" for s in scores.values()]),
        ("seconds per page, wall", [f"{s.seconds / max(1, s.pages):.2f}" for s in scores.values()]),
        ("seconds per page, CPU", [f"{s.cpu_seconds / max(1, s.pages):.2f}" for s in scores.values()]),
    ]
    width = max(len(r[0]) for r in rows)
    colw = [max(len(n), 12) for n in names]
    lines = [" " * width + "  " + "  ".join(n.rjust(w) for n, w in zip(names, colw))]
    lines.append("-" * len(lines[0]))
    for label, vals in rows:
        lines.append(label.ljust(width) + "  " + "  ".join(v.rjust(w) for v, w in zip(vals, colw)))
    return "\n".join(lines)


def _same(got, want) -> bool:
    return normalise_text(got) == normalise_text(want) if isinstance(want, str) else got == want


def _layouts(scores: dict[str, Score]) -> list[str]:
    """The layouts in the run, when there is more than the form at its own size."""
    seen = sorted({lay for s in scores.values() for lay in s.by_layout})
    return [] if seen in ([], ["full"]) else seen


def _pct(a: float, b: float) -> str:
    return f"{100.0 * a / b:.1f}%" if b else "n/a"


@dataclass
class RegisterScore:
    """The same records checked against a generated register: a full ``Score`` for them, and what
    the register adds (forms asking for a number the contractor does not hold, clean records)."""

    register: object
    score: Score = field(default_factory=Score)
    asks_unheld: int = 0
    caught: int = 0
    clean: int = 0
    clean_straight_plain: int = 0
    clean_straight_checked: int = 0
    settled: int = 0
    settled_wrong: int = 0
    invented: list = field(default_factory=list)

    def add_record(self, template, record, truth_fields: dict, truth_register: dict, writers: str | None = None) -> None:
        from intake.register import check_against_register

        checked = check_against_register(record, self.register)
        as_json = checked.to_json()
        self.score.add_record(template, as_json, truth_fields, writers)
        unheld = [i for i, holder in truth_register["targets"].items() if holder != "contractor"]
        if unheld:
            self.asks_unheld += 1
            flagged = all(as_json["fields"][f"targets.{i}.teledome_number"]["review"] for i in unheld)
            self.caught += flagged and as_json["review"]["needed"]
        elif not needs_review_as_written(template, truth_fields):
            self.clean += 1
            self.clean_straight_plain += not record.review_needed
            self.clean_straight_checked += not as_json["review"]["needed"]
        for s in checked.register["settled"]:
            self.settled += 1
            self.settled_wrong += not _same(checked.fields[s["field"]].value, truth_fields.get(s["field"]))
        contractor = self.register.match_contractor(truth_fields.get("contractor_name"))[0]
        for i in range(4):
            key = f"targets.{i}.teledome_number"
            got = as_json["fields"][key]
            if (got["value"] != truth_fields.get(key) and not got["review"]
                    and self.register.holds(contractor, got["value"])):
                self.invented.append((record.source.file, key, truth_fields.get(key), got["value"]))

    def lines(self) -> list[str]:
        return [
            f"forms asking for a number the contractor does not hold: flagged {self.caught} of {self.asks_unheld}",
            f"clean records (a perfect reader could pass them): {self.clean}; straight through without the "
            f"register {_pct(self.clean_straight_plain, self.clean)}, with it {_pct(self.clean_straight_checked, self.clean)}",
            f"reader doubts the register settled: {self.settled} ({self.settled_wrong} to a value the form does not hold)",
            f"registered numbers in a record where the ink says otherwise, unflagged: {len(self.invented)}",
        ]
