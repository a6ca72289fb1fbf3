"""Measure the テレドーム停止依頼書 template from the official PDF and write form_templates/.

Every box comes from the PDF's own vector drawing (the ruled rectangles) and
text positions (the printed words), never from eyeballing a scan:

    pip install -e '.[template]'
    python tools/build_template.py form_templates/teledome_stop_request/teledome_stop_request.pdf

It writes ``template.json`` (validated by intake.template.Template) and
``reference.png`` (the blank form page rendered by poppler at the working dpi).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pdfplumber

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from intake.template import Template  # noqa: E402

FORM_ID = "teledome_stop_request"
PAGE = 3
DPI = 200
PAD = 1.2  # keep part boxes just inside ruled lines / away from printed words (points)


def box(x0, y0, x1, y1):
    return {"x0": round(x0, 1), "y0": round(y0, 1), "x1": round(x1, 1), "y1": round(y1, 1)}


class Page:
    def __init__(self, page):
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

    def cell_containing(self, x, y, min_lw=0.7):
        cells = [r for r in self.rects if r[4] >= min_lw and r[0] <= x <= r[2] and r[1] <= y <= r[3]]
        return min(cells, key=lambda r: (r[2] - r[0]) * (r[3] - r[1]))

    def label_cells(self, text):
        return [self.cell_containing((w[1] + w[3]) / 2, (w[2] + w[4]) / 2) for w in self.words if w[0] == text]

    def right_neighbour(self, cell):
        cands = [r for r in self.rects if r[4] >= 0.7 and abs(r[0] - cell[2]) < 0.5 and abs(r[1] - cell[1]) < 0.5]
        return cands[0]


def between(page, cell, left, right, nth_left=0, nth_right=0):
    """The free space between two printed words inside a table cell."""
    a = page.word(cell, left, nth_left)
    b = page.word(cell, right, nth_right)
    return box(a[3] + PAD, cell[1] + PAD, b[1] - PAD, cell[3] - PAD)


def date_fields(page, cell, key, prefix_word):
    parts = {
        "year": between(page, cell, prefix_word, "年"),
        "month": between(page, cell, "年", "月"),
        "day": between(page, cell, "月", "日"),
    }
    return {"key": key, "kind": "date", "parts": parts, "year_prefix": "20",
            "digits": {"year": [2, 2], "month": [1, 2], "day": [1, 2]},
            "patterns": {"month": "0?[1-9]|1[0-2]", "day": "0?[1-9]|[12][0-9]|3[01]"},
            "year_window": [-1, 1]}


def build(pdf_path: Path) -> dict:
    pdf = pdfplumber.open(str(pdf_path))
    pg = Page(pdf.pages[PAGE - 1])
    width, height = float(pdf.pages[PAGE - 1].width), float(pdf.pages[PAGE - 1].height)
    fields: list[dict] = []
    rules: list[dict] = []

    # 送付年月日: the cell to the right of the label.
    sent_cell = pg.right_neighbour(pg.label_cells("送付年月日")[0])
    f = date_fields(pg, sent_cell, "sent_date", "20")
    f.update(label="送付年月日", required=True)
    fields.append(f)

    # ご契約者名
    name_cell = pg.right_neighbour(pg.label_cells("ご契約者名")[0])
    fields.append({"key": "contractor_name", "kind": "text", "label": "ご契約者名", "required": True,
                   "box": box(name_cell[0] + PAD, name_cell[1] + PAD, name_cell[2] - PAD, name_cell[3] - PAD)})

    # Target rows: blank comb cells (thin rectangles that hold no printed character).
    combs = [r for r in pg.rects if r[4] < 0.7]
    row_tops = sorted({round(r[1], 1) for r in combs})
    for i, top in enumerate(row_tops):
        row = sorted((r for r in combs if round(r[1], 1) == top), key=lambda r: r[0])
        blank = [r for r in row if not pg.words_in(r)]
        plan_x = pg.words_in((0, top - 5, width, top + 30), "企画番号")[0][1]
        tel = [r for r in blank if r[0] < plan_x]
        plan = [r for r in blank if r[0] > plan_x]
        assert len(tel) == 4 and len(plan) == 6, (len(tel), len(plan))
        fields.append({"key": f"targets.{i}.teledome_number", "kind": "comb_digits", "label": "テレドーム番号",
                       "group": f"targets.{i}", "cells": [box(*r[:4]) for r in tel], "groups": [4],
                       "format": "0180-99-{0}"})
        fields.append({"key": f"targets.{i}.plan_number", "kind": "comb_digits", "label": "企画番号",
                       "group": f"targets.{i}", "cells": [box(*r[:4]) for r in plan], "groups": [4, 2],
                       "format": "4-{0}-{1}"})
        rules.append({"rule": "row_complete", "fields": [f"targets.{i}.teledome_number", f"targets.{i}.plan_number"],
                      "message": "a target row needs both the Teledome number and the plan number"})

    # 停止期間: rows labelled 停止 / 開始 in the period table.
    period_label_cells = {}
    for label in ("停止", "開始"):
        cands = [c for c in pg.label_cells(label) if c[1] > 300 and c[3] < 400]
        period_label_cells[label] = cands[0]
    for label, key in (("停止", "stop"), ("開始", "resume")):
        cell = pg.right_neighbour(period_label_cells[label])
        free_cell = pg.right_neighbour(cell)
        f = date_fields(pg, cell, f"{key}.date", "20")
        f.update(label=f"{label}日", required=True)
        fields.append(f)
        fields.append({"key": f"{key}.weekday", "kind": "weekday", "label": f"{label}曜日",
                       "box": between(pg, cell, "(", ")"), "allowed": list("月火水木金土日")})
        fields.append({"key": f"{key}.time", "kind": "time", "label": f"{label}時刻",
                       "parts": {"hour": between(pg, cell, ")", "時"), "minute": between(pg, cell, "時", "分")},
                       "digits": {"hour": [1, 2], "minute": [1, 2]},
                       "patterns": {"hour": "0?[0-9]|1[0-9]|2[0-3]", "minute": "[0-5]?[0-9]"}})
        fw = pg.word(free_cell, "フリー")
        fields.append({"key": f"{key}.free", "kind": "circled_option", "label": f"{label}フリー",
                       "box": box(free_cell[0] + PAD, free_cell[1] + PAD, free_cell[2] - PAD, free_cell[3] - PAD),
                       "text": box(fw[1], fw[2], fw[3], fw[4])})
        rules.append({"rule": "weekday_matches_date", "fields": [f"{key}.date", f"{key}.weekday"]})
        rules.append({"rule": "exactly_one", "fields": [f"{key}.time", f"{key}.free"],
                      "message": "write a time or circle フリー, not both"})
    rules.append({"rule": "not_before", "fields": ["stop.date", "sent_date"],
                  "message": "the stop date is before the sending date"})
    rules.append({"rule": "after", "fields": ["resume.date", "resume.time", "stop.date", "stop.time"],
                  "message": "the restart must come after the stop"})
    rules.append({"rule": "at_least_one", "fields": ["targets.*.teledome_number"],
                  "message": "no Teledome number to stop"})

    # 連絡の要否: four rows x (customer, sales), each a 要・不要 pair.
    for row_label, key in (("停止前", "before_stop"), ("停止後", "after_stop"), ("開始前", "before_resume"), ("開始後", "after_resume")):
        label_cell = pg.label_cells(row_label)[0]
        who_cell = pg.right_neighbour(label_cell)
        for who in ("customer", "sales"):
            opt_cell = pg.right_neighbour(who_cell)
            yo = pg.word(opt_cell, "要")
            dot = pg.word(opt_cell, "・")
            fuyo = pg.word(opt_cell, "不要")
            mid = (dot[1] + dot[3]) / 2
            fields.append({
                "key": f"notify.{key}.{who}", "kind": "option_pair", "label": f"{row_label}{'お客様' if who == 'customer' else '販売担当者'}連絡",
                "box": box(opt_cell[0] + PAD, opt_cell[1] + PAD, opt_cell[2] - PAD, opt_cell[3] - PAD),
                "options": [
                    {"value": True, "text": "要", "box": box(opt_cell[0] + PAD, opt_cell[1] + PAD, mid, opt_cell[3] - PAD),
                     "word": box(*yo[1:])},
                    {"value": False, "text": "不要", "box": box(mid, opt_cell[1] + PAD, opt_cell[2] - PAD, opt_cell[3] - PAD),
                     "word": box(*fuyo[1:])},
                ],
            })
            rules.append({"rule": "required", "fields": [f"notify.{key}.{who}"], "message": "circle 要 or 不要"})
            if who == "customer":
                who_cell = pg.right_neighbour(opt_cell)

    # Contacts: the left table is the customer's, the right one NTT's.
    for key, side in (("customer_contact", 0), ("ntt_contact", 1)):
        for label, sub in (("所属部門", "department"), ("担当者名", "name")):
            cell = pg.right_neighbour(sorted(pg.label_cells(label), key=lambda c: c[0])[side])
            fields.append({"key": f"{key}.{sub}", "kind": "text", "label": label,
                           "box": box(cell[0] + PAD, cell[1] + PAD, cell[2] - PAD, cell[3] - PAD),
                           **({"content": "person_name"} if sub == "name" else {})})
        cell = pg.right_neighbour(sorted(pg.label_cells("電話番号"), key=lambda c: c[0])[side])
        fields.append({"key": f"{key}.phone", "kind": "phone", "label": "電話番号",
                       "parts": {"area": between(pg, cell, "(", ")"), "local": between(pg, cell, ")", "-"),
                                 "line": box(pg.word(cell, "-")[3] + PAD, cell[1] + PAD, cell[2] - PAD, cell[3] - PAD)},
                       "digits": {"area": [2, 5], "local": [1, 4], "line": [3, 4]},
                       # Japanese area codes are 0 then a non-zero digit (00 is a carrier prefix).
                       "patterns": {"area": "0[1-9][0-9]*"}})
    rules.append({"rule": "required", "fields": ["customer_contact.phone"], "message": "the customer's phone number is missing"})

    # 通信欄: the big box under its label.
    label = [w for w in pg.words if w[0].startswith("【通信欄】")][0]
    remarks = [r for r in pg.rects if r[4] >= 0.7 and r[1] > label[4] and r[1] - label[4] < 10][0]
    fields.append({"key": "remarks", "kind": "text", "label": "通信欄", "multiline": True,
                   "box": box(remarks[0] + PAD, remarks[1] + PAD, remarks[2] - PAD, remarks[3] - PAD)})

    # Office-use stamp cells: the cell under each of 受付・停止・開始 in the bottom-right table.
    for label, key in (("受付", "received"), ("停止", "stopped"), ("開始", "started")):
        head = [c for c in pg.label_cells(label) if c[1] > 700][0]
        below = [r for r in pg.rects if r[4] >= 0.7 and abs(r[0] - head[0]) < 0.5 and abs(r[1] - head[3]) < 0.5][0]
        fields.append({"key": f"office_use.{key}", "kind": "stamp", "label": f"事務処理欄 {label}",
                       "box": box(below[0] + PAD, below[1] + PAD, below[2] - PAD, below[3] - PAD)})

    template = {
        "id": FORM_ID,
        "title": "テレドーム停止依頼書",
        "source_pdf": pdf_path.name,
        "source_page": PAGE,
        "page_size_pt": [round(width, 3), round(height, 3)],
        "working_dpi": DPI,
        "reference_image": "reference.png",
        "preprocessing": ["ecc_refine"],
        "min_alignment_quality": 0.6,
        "fields": fields,
        "rules": rules,
    }
    Template.model_validate(template)  # fail here, not at run time
    return template


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pdf", type=Path)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "form_templates" / FORM_ID)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    template = build(args.pdf)
    (args.out / "template.json").write_text(json.dumps(template, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["pdftoppm", "-f", str(PAGE), "-l", str(PAGE), "-r", str(DPI), "-gray", "-png",
                        str(args.pdf), f"{tmp}/ref"], check=True)
        rendered = next(Path(tmp).glob("ref*.png"))
        subprocess.run(["python3", "-c", f"import cv2; i=cv2.imread({str(rendered)!r},0); cv2.imwrite({str(args.out / 'reference.png')!r}, i, [cv2.IMWRITE_PNG_COMPRESSION, 9])"], check=True)
    print(f"wrote {args.out}/template.json ({len(template['fields'])} fields, {len(template['rules'])} rules) and reference.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
