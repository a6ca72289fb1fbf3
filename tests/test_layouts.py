"""Forms as offices print them: reduced and enlarged copies, two pages to a sheet, cut edges.

Every page comes from the sample generator's layouts (``samplegen.layout``) sent through its fax
channel, then is classified and aligned by the product as any received page.
"""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

import samplegen
from bench.score import Score, table
from intake.align import align_to_template
from intake.classify import classify_page
from intake.ingest import to_square_pixels
from intake.model import Page, SourceRef
from intake.pipeline import OFF_PAGE_MARGIN_MM, Pipeline
from samplegen import assets, layout

from conftest import REPO

SRC = SourceRef("generated", 1, "0" * 64)
LAYOUTS = ["scale-50", "scale-60", "scale-70", "scale-76", "scale-130", "2up-notes-form", "2up-form-notes", "cut-edge"]


def _faxed(sheet: np.ndarray, seed: int, resolution: str = "fine", flip: bool = False) -> Page:
    img, dpi = samplegen.fax_channel(sheet, np.random.default_rng(seed), resolution, flip)
    square, sq_dpi = to_square_pixels(img, dpi)
    return Page(square, sq_dpi, SRC, dpi)


@pytest.fixture(scope="session")
def filled_form():
    rng = np.random.default_rng(11)
    return samplegen.make_form_image(samplegen.random_values(rng), rng, "test")


@pytest.fixture(scope="session")
def laid_out(filled_form):
    """One faxed page per layout: (page, the form's turn on the sheet)."""
    notes = assets.pdf_page(2)
    out = {}
    for i, name in enumerate(LAYOUTS):
        sheet, turn = layout.lay_out(name, filled_form, notes, np.random.default_rng([3, i]))
        out[name] = (_faxed(sheet, 20 + i, "standard" if i % 2 else "fine"), turn)
    return out


@pytest.mark.parametrize("name", LAYOUTS)
def test_each_layout_is_found_turned_right_and_aligned(template, laid_out, name):
    page, turn = laid_out[name]
    c = classify_page(page, [template])
    assert c.form == template.id and c.geometry_ok, c.reason
    assert c.rotation == turn
    aligned = align_to_template(page, c, template)
    assert aligned.ok and not aligned.reasons
    # A cut edge or an enlarged copy loses some of the form's lines; the rest land on the template's.
    assert aligned.quality > (0.6 if name in ("scale-130", "cut-edge") else 0.85)


@pytest.mark.parametrize("clockwise", [True, False])
def test_two_up_turned_either_way_upside_down_too(template, filled_form, clockwise):
    sheet = layout.two_up(filled_form, assets.pdf_page(2), clockwise)
    page = _faxed(sheet, 40, "fine", flip=True)
    c = classify_page(page, [template])
    assert c.form == template.id
    assert c.rotation == ((270 if clockwise else 90) + 180) % 360


@pytest.mark.parametrize("kind,how", [("notes", "scale-130"), ("notes", "scale-50"), ("privacy", "scale-76"),
                                      ("privacy+notes", "2up"), ("cover", "scale-60")])
def test_other_pages_at_any_print_size_are_not_forms(template, kind, how):
    """The notes page shares the form's title: enlarged, its title matches, but only over a corner of the form."""
    rng = np.random.default_rng(9)
    if kind == "privacy+notes":
        sheet = layout.two_up(assets.pdf_page(1), assets.pdf_page(2), True)
    else:
        src = samplegen.cover_sheet(rng, samplegen.random_values(rng).truth, 2) if kind == "cover" \
            else assets.pdf_page(1 if kind == "privacy" else 2)
        sheet = layout.lay_out(how, src, None, rng)[0]
    c = classify_page(_faxed(sheet, 50), [template])
    assert c.form is None, c.reason


def test_a_recognised_form_with_an_untrustworthy_geometry_is_a_flagged_record(template, filled_form):
    """A page squashed in one direction (as a wrong resolution tag leaves it) is the form, but no fax
    is stretched like that: it becomes a record flagged alignment_failed with nothing read, not a skip."""
    page = _faxed(filled_form, 60)
    squashed = Page(cv2.resize(page.image, None, fx=1.0, fy=0.8, interpolation=cv2.INTER_AREA), page.dpi, SRC)
    c = classify_page(squashed, [template])
    assert c.form == template.id and not c.geometry_ok
    aligned = align_to_template(squashed, c, template)
    assert not aligned.ok and [r.code for r in aligned.reasons] == ["alignment_failed"]
    record = Pipeline([template], engines=None).read_aligned(aligned, template)
    assert record.review_needed and all(f.value is None for f in record.fields.values())


def test_generator_layouts_option_and_truth(tmp_path):
    out = tmp_path / "set"
    subprocess.run([sys.executable, "-m", "samplegen", "--out", str(out), "--count", "3", "--seed", "4",
                    "--layouts", "2up-notes-form,scale-60"], cwd=REPO, check=True, capture_output=True)
    rows = [json.loads(line) for line in (out / "truth.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {r["layout"] for r in rows} <= {"2up-notes-form", "scale-60"}
    for r in rows:
        form = next(p for p in r["pages"] if p["kind"] == "form")
        if r["layout"].startswith("2up"):
            assert form["rotation"] in (90, 270)
            assert "notes" not in [p["kind"] for p in r["pages"]]  # it is on the form's sheet
    assert json.loads((out / "manifest.json").read_text())["layouts"] == ["2up-notes-form", "scale-60"]
    bad = subprocess.run([sys.executable, "-m", "samplegen", "--out", str(out), "--layouts", "scale-20"],
                         cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown layout" in bad.stderr


def test_full_layout_leaves_the_generated_bytes_unchanged():
    assert samplegen.make_fax(8, 1, "test", layouts=["full"]) == samplegen.make_fax(8, 1, "test")


def test_mixed_layouts_are_mostly_full_pages():
    rng = np.random.default_rng(0)
    drawn = [layout.choose(rng, ["mixed"]) for _ in range(400)]
    assert 0.6 < drawn.count("full") / len(drawn) < 0.8
    assert len(set(drawn)) == len(layout.LAYOUTS)


def test_bench_table_has_a_missed_row_per_layout():
    s = Score()
    s.by_layout["full"] = [10, 0]
    s.by_layout["scale-50"] = [4, 1]
    text = table({"product": s})
    assert "form pages missed, scale-50" in text and "1/4" in text
    only_full = Score()
    only_full.by_layout["full"] = [3, 0]
    assert "form pages missed, full" not in table({"product": only_full})


def test_fields_cut_off_at_the_edge_are_flagged_not_trusted(template, laid_out, filled_form):
    """A form cut at an edge is read, but a field that reaches past the received page is flagged
    ``off_page`` whatever the readers made of the part that was sent; a whole page has none."""
    pipeline = Pipeline([template])
    page, _ = laid_out["cut-edge"]
    aligned = align_to_template(page, classify_page(page, [template]), template)
    assert aligned.off_page is not None and aligned.off_page.any()
    record = pipeline.read_aligned(aligned, template)
    flagged = {k for k, f in record.fields.items() if "off_page" in [r.code for r in f.reasons]}
    assert flagged
    m = int(round(OFF_PAGE_MARGIN_MM * template.working_dpi / 25.4))
    for k in flagged:
        b = record.fields[k].box
        assert aligned.off_page[max(0, b.y0 - m): b.y1 + m, max(0, b.x0 - m): b.x1 + m].any()
    whole = _faxed(filled_form, 70)
    aligned_whole = align_to_template(whole, classify_page(whole, [template]), template)
    assert aligned_whole.off_page.mean() < 0.05  # a sliver of margin at most, where no field lies
    assert not any("off_page" in [r.code for r in f.reasons] for f in pipeline.read_aligned(aligned_whole, template).fields.values())
