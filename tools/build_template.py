"""Measure a form template from the official PDF and write form_templates/<id>/.

The form's meaning is written by hand in a semantics file (``tools/semantics/<id>.json``): each
field's key, kind, printed label, digit counts, patterns, the cross-field rules, and where on the
page the field is in the form's own terms (the cell right of a printed label, the space between two
printed words, a row of comb cells). This script is generic: it finds those places in the PDF's
own vector drawing (the ruled rectangles) and text positions (the printed words), never by
eyeballing a scan, and joins the measured boxes to the semantics:

    pip install -e '.[template]'
    python tools/build_template.py form_templates/teledome_stop_request/teledome_stop_request.pdf

A second form needs a semantics file, not a second script. It writes ``template.json``
(validated by intake.template.Template) and ``reference.png`` (the blank form page rendered by
poppler at the working dpi).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pdfplumber

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from intake.template import Template  # noqa: E402

PAD = 1.2  # keep part boxes just inside ruled lines / away from printed words (points)
THIN = 0.7  # comb cells are drawn with lines thinner than this (points); table cells with thicker ones
# Geometry keys of a field recipe: how to find it on the page. Everything else is semantics, copied.
WHERE = ("cell", "parts", "between", "word", "options", "split_at", "comb")


def box(x0, y0, x1, y1):
    return {"x0": round(x0, 1), "y0": round(y0, 1), "x1": round(x1, 1), "y1": round(y1, 1)}


def inset(cell):
    return box(cell[0] + PAD, cell[1] + PAD, cell[2] - PAD, cell[3] - PAD)


class Page:
    """The printed words and ruled rectangles of one PDF page, and the ways a recipe finds a place."""

    def __init__(self, page):
        self.width, self.height = float(page.width), float(page.height)
        self.words = [
            (w["text"], w["x0"], w["top"], w["x1"], w["bottom"])
            for w in page.extract_words(keep_blank_chars=False, use_text_flow=False, split_at_punctuation="()-・")
        ]
        self.rects = [(r["x0"], r["top"], r["x1"], r["bottom"], r["linewidth"]) for r in page.rects]

    def words_in(self, rect, text=None):
        x0, y0, x1, y1 = rect[:4]
        found = [w for w in self.words if w[1] >= x0 - 0.5 and w[3] <= x1 + 0.5 and w[2] >= y0 - 0.5 and w[4] <= y1 + 0.5]
        if text is not None:
            found = [w for w in found if w[0] == text]
        return sorted(found, key=lambda w: w[1])

    def word(self, rect, text, nth=0):
        found = self.words_in(rect, text)
        if len(found) <= nth:
            raise SystemExit(f"could not find {text!r} in {rect}: {self.words_in(rect)}")
        return found[nth]

    def cell_containing(self, x, y):
        cells = [r for r in self.rects if r[4] >= THIN and r[0] <= x <= r[2] and r[1] <= y <= r[3]]
        return min(cells, key=lambda r: (r[2] - r[0]) * (r[3] - r[1]))

    def label_cells(self, text):
        return [self.cell_containing((w[1] + w[3]) / 2, (w[2] + w[4]) / 2) for w in self.words if w[0] == text]

    def right_neighbour(self, cell):
        return [r for r in self.rects if r[4] >= THIN and abs(r[0] - cell[2]) < 0.5 and abs(r[1] - cell[1]) < 0.5][0]

    def below(self, cell):
        return [r for r in self.rects if r[4] >= THIN and abs(r[0] - cell[0]) < 0.5 and abs(r[1] - cell[3]) < 0.5][0]

    def cell(self, where: dict):
        """A table cell: the one holding a printed label (the nth from the left, within a band of the
        page), then ``right`` cells to its right or the one ``below`` it; or the box under a word."""
        if "under_word_starting" in where:
            label = [w for w in self.words if w[0].startswith(where["under_word_starting"])][0]
            return [r for r in self.rects if r[4] >= THIN and r[1] > label[4] and r[1] - label[4] < 10][0]
        cells = self.label_cells(where["label"])
        cells = [c for c in cells if c[1] > where.get("top_after", -1) and c[3] < where.get("bottom_before", 1e9)]
        cell = sorted(cells, key=lambda c: c[0])[where.get("nth_from_left", 0)] if "nth_from_left" in where else cells[0]
        for _ in range(where.get("right", 0)):
            cell = self.right_neighbour(cell)
        return self.below(cell) if where.get("below") else cell

    def between(self, cell, left, right):
        """The free space between two printed words inside a cell (to the cell's edge if ``right`` is None)."""
        a = self.word(cell, left)
        x1 = self.word(cell, right)[1] - PAD if right is not None else cell[2] - PAD
        return box(a[3] + PAD, cell[1] + PAD, x1, cell[3] - PAD)

    def comb_row(self, row: int, before: str | None = None, after: str | None = None):
        """The blank comb cells (thin rectangles holding no printed character) of the ``row``-th row,
        left or right of a printed word in that row."""
        combs = [r for r in self.rects if r[4] < THIN]
        top = sorted({round(r[1], 1) for r in combs})[row]
        cells = sorted((r for r in combs if round(r[1], 1) == top and not self.words_in(r)), key=lambda r: r[0])
        x = self.words_in((0, top - 5, self.width, top + 30), before or after)[0][1]
        return [r for r in cells if (r[0] < x if before else r[0] > x)]


def measure(page: Page, recipe: dict) -> dict:
    """One field of the template: the recipe's semantics with the boxes measured where it says."""
    field = {k: v for k, v in recipe.items() if k not in WHERE}
    kind = recipe["kind"]
    if kind == "comb_digits":
        cells = page.comb_row(**recipe["comb"])
        if len(cells) != sum(recipe["groups"]):
            raise SystemExit(f"{recipe['key']}: found {len(cells)} comb cells, groups want {sum(recipe['groups'])}")
        return field | {"cells": [box(*r[:4]) for r in cells]}
    cell = page.cell(recipe["cell"])
    if kind in ("date", "time", "phone"):
        return field | {"parts": {name: page.between(cell, *words) for name, words in recipe["parts"].items()}}
    if kind == "weekday":
        return field | {"box": page.between(cell, *recipe["between"])}
    if kind == "circled_option":
        w = page.word(cell, recipe["word"])
        return field | {"box": inset(cell), "text": box(*w[1:])}
    if kind == "option_pair":
        split = page.word(cell, recipe["split_at"])
        mid = (split[1] + split[3]) / 2
        halves = (box(cell[0] + PAD, cell[1] + PAD, mid, cell[3] - PAD), box(mid, cell[1] + PAD, cell[2] - PAD, cell[3] - PAD))
        options = [o | {"box": half, "word": box(*page.word(cell, o["text"])[1:])} for o, half in zip(recipe["options"], halves)]
        return field | {"box": inset(cell), "options": options}
    return field | {"box": inset(cell)}  # text, stamp: the cell, just inside its lines


def build(pdf_path: Path, semantics: dict) -> dict:
    pdf = pdfplumber.open(str(pdf_path))
    page = pdf.pages[semantics["page"] - 1]
    pg = Page(page)
    template = {
        "id": semantics["id"],
        "title": semantics["title"],
        "source_pdf": pdf_path.name,
        "source_page": semantics["page"],
        "page_size_pt": [round(pg.width, 3), round(pg.height, 3)],
        "working_dpi": semantics["working_dpi"],
        "reference_image": "reference.png",
        "preprocessing": semantics["preprocessing"],
        "min_alignment_quality": semantics["min_alignment_quality"],
        "fields": [measure(pg, recipe) for recipe in semantics["fields"]],
        "rules": semantics["rules"],
    }
    Template.model_validate(template)  # fail here, not at run time
    return template


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pdf", type=Path)
    ap.add_argument("--semantics", type=Path, default=None,
                    help="the form's semantics file (default: tools/semantics/<PDF name>.json)")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: form_templates/<id>)")
    args = ap.parse_args(argv)
    semantics_path = args.semantics or Path(__file__).resolve().parent / "semantics" / f"{args.pdf.stem}.json"
    semantics = json.loads(semantics_path.read_text(encoding="utf-8"))
    out = args.out or ROOT / "form_templates" / semantics["id"]
    out.mkdir(parents=True, exist_ok=True)
    template = build(args.pdf, semantics)
    (out / "template.json").write_text(json.dumps(template, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    page, dpi = str(semantics["page"]), str(semantics["working_dpi"])
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["pdftoppm", "-f", page, "-l", page, "-r", dpi, "-gray", "-png", str(args.pdf), f"{tmp}/ref"], check=True)
        rendered = next(Path(tmp).glob("ref*.png"))
        subprocess.run(["python3", "-c", f"import cv2; i=cv2.imread({str(rendered)!r},0); cv2.imwrite({str(out / 'reference.png')!r}, i, [cv2.IMWRITE_PNG_COMPRESSION, 9])"], check=True)
    print(f"wrote {out}/template.json ({len(template['fields'])} fields, {len(template['rules'])} rules) and reference.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
