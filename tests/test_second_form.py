"""A second form beside the real one: a small order slip, drawn here from its template and never
shipped, is classified, aligned and read end to end with the same code, and the real form is still
found with both templates loaded. Proves that a form is data, not code."""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

import samplegen
from samplegen import fax as samplefax
from conftest import REPO
from intake.classify import classify_page
from intake.ingest import to_square_pixels
from intake.model import Page, SourceRef
from intake.pipeline import Pipeline
from intake.template import Template, load_template

FORM = Path(__file__).resolve().parent / "form_templates" / "order_slip"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
TRUTH = {"order.number": "305-172", "urgent": True, "customer.name": "山田太郎"}
INSTRUCTIONS = [
    "Write one digit in each box of the order number.",
    "Circle YES if the order is urgent, NO if it is not.",
    "Write the customer's name as on the contract.",
    "Fax this slip to the order desk before 15:00.",
]


def draw_reference(spec: dict) -> np.ndarray:
    """The blank slip at its working dpi: every field's boxes and words where the template puts them."""
    s = spec["working_dpi"] / 72
    w, h = (round(v * s) for v in spec["page_size_pt"])
    image = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(image)

    def font(pt: float):
        return ImageFont.truetype(FONT, round(pt * s))

    def px(b: dict) -> list[float]:
        return [b["x0"] * s, b["y0"] * s, b["x1"] * s, b["y1"] * s]

    def centred(text: str, b: dict, pt: float) -> None:
        x0, y0, x1, y1 = font(pt).getbbox(text)
        bx0, by0, bx1, by1 = px(b)
        draw.text(((bx0 + bx1 - (x1 - x0)) / 2 - x0, (by0 + by1 - (y1 - y0)) / 2 - y0), text, font=font(pt), fill=0)

    draw.text((40 * s, 28 * s), "ORDER SLIP", font=font(24), fill=0)
    for i, line in enumerate(INSTRUCTIONS):
        draw.text((40 * s, (72 + 14 * i) * s), line, font=font(9), fill=0)
    for f in spec["fields"]:
        first = f.get("cells", [f.get("box")])[0]
        draw.text((40 * s, (first["y0"] + 8) * s), f["label"], font=font(11), fill=0)
        if f["kind"] == "comb_digits":
            for cell in f["cells"]:
                draw.rectangle(px(cell), outline=0, width=3)
            gap_left, gap_right = f["cells"][2]["x1"], f["cells"][3]["x0"]
            centred("-", {"x0": gap_left, "x1": gap_right, "y0": first["y0"], "y1": first["y1"]}, 12)
        elif f["kind"] == "option_pair":
            draw.rectangle(px(f["box"]), outline=0, width=3)
            for option in f["options"]:
                centred(option["text"], option["word"], 13)
            draw.line(px(f["options"][1]["box"])[:2] + [f["options"][1]["box"]["x0"] * s, f["box"]["y1"] * s], fill=0, width=3)
        else:
            draw.rectangle(px(f["box"]), outline=0, width=3)
    # The office's own table: ruled lines and printed words for the page to be recognised by.
    for i in range(6):
        draw.line([40 * s, (360 + 36 * i) * s, 390 * s, (360 + 36 * i) * s], fill=0, width=3)
    for x in (40, 140, 265, 390):
        draw.line([x * s, 360 * s, x * s, 540 * s], fill=0, width=3)
    for i, word in enumerate(("Received", "Checked", "Entered", "Shipped", "Invoiced")):
        draw.text((48 * s, (370 + 36 * i) * s), word, font=font(11), fill=0)
    draw.text((40 * s, 552 * s), "Office use only. Keep this slip for one year.", font=font(9), fill=0)
    return np.asarray(image)


def slip_at(root: Path, working_dpi: int | None = None) -> Template:
    """The slip's template in ``root``, its blank drawn at its working dpi (or at ``working_dpi``)."""
    folder = root / "order_slip"
    shutil.copytree(FORM, folder)
    spec = json.loads((folder / "template.json").read_text(encoding="utf-8"))
    spec["working_dpi"] = working_dpi or spec["working_dpi"]
    (folder / "template.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    Image.fromarray(draw_reference(spec)).save(folder / "reference.png")
    return load_template(folder)


@pytest.fixture(scope="module")
def slip(tmp_path_factory) -> Template:
    return slip_at(tmp_path_factory.mktemp("templates"))


def faxed(image: np.ndarray, seed: int, flip: bool = False) -> tuple[np.ndarray, tuple[int, int]]:
    return samplegen.fax_channel(image, np.random.default_rng(seed), "fine", flip)


@pytest.fixture(scope="module")
def slip_fax(slip, tmp_path_factory) -> Path:
    """The slip filled by hand and faxed upside down, as a PNG file."""
    rng = np.random.default_rng(11)
    filled = samplegen.make_form_image(TRUTH, rng, "test", template=slip)
    page, dpi = faxed(filled, 12, flip=True)
    path = tmp_path_factory.mktemp("inbox") / "slip.png"
    path.write_bytes(samplefax.write([page], dpi, "png", dt.datetime(2026, 12, 1, 9, 0)))
    return path


def test_the_slip_template_is_a_valid_template(slip):
    assert [f.kind for f in slip.fields] == ["comb_digits", "option_pair", "text"]
    assert slip.folder.name == "order_slip" and slip.reference.shape == (1654, 1165)


def test_the_second_form_is_classified_aligned_and_read_end_to_end(slip, template, slip_fax, caplog):
    pipeline = Pipeline(templates=[template, slip])
    with caplog.at_level(logging.DEBUG, logger="intake"):
        result = pipeline.process_file(slip_fax, received=dt.date(2026, 12, 1))
    [record] = result.records
    assert record.form == "order_slip" and record.alignment_quality > 0.9
    assert {k: f.value for k, f in record.fields.items()} == TRUTH
    # Each stage says at DEBUG what it decided, and never what was written.
    said = "\n".join(r.getMessage() for r in caplog.records)
    for decision in ("classified as order_slip, rotation 180", "alignment quality", "engine ppocr loaded",
                     "reading 3 fields with ppocr (text), onnx-cnn and ppocr (digits)", "field(s) flagged"):
        assert decision in said, said
    assert not any(str(v) in said for v in ("305", "172", "山田", slip_fax.name))


def test_a_template_at_another_working_dpi_reads_the_same(slip, slip_fax, tmp_path):
    """The readers' pixel lengths were measured at 200 dpi; a template worked at 300 dpi scales them."""
    sharper = slip_at(tmp_path, working_dpi=300)
    assert sharper.scaled(6) == 9 and sharper.scaled_area(12) == 27 and sharper.reference.shape == (2480, 1748)
    [record] = Pipeline(templates=[sharper]).process_file(slip_fax, received=dt.date(2026, 12, 1)).records
    assert record.alignment_quality > 0.9
    assert {k: f.value for k, f in record.fields.items()} == TRUTH


def test_the_real_form_is_still_found_beside_the_slip(slip, template):
    fax = REPO / "samples" / "fax_0001.tif"
    result = Pipeline(templates=[slip, template]).process_file(fax, received=dt.date(2027, 6, 1))
    assert [r.form for r in result.records] == ["teledome_stop_request"]


def test_a_real_match_beats_an_implausible_better_score(slip, slip_fax, tmp_path):
    """A template the page matches only with an impossible geometry (a copy of the slip stretched a
    third wider, not taller) must not hide the template it really matches, even where its score is
    as high."""
    folder = tmp_path / "order_slip_stretched"
    shutil.copytree(slip.folder, folder)
    spec = json.loads((folder / "template.json").read_text(encoding="utf-8"))
    width, height = spec["page_size_pt"]
    spec |= {"id": "order_slip_stretched", "page_size_pt": [width * 1.35, height]}
    (folder / "template.json").write_text(json.dumps(spec), encoding="utf-8")
    stretched = load_template(folder)  # its reference is the slip's, stretched to the wider page
    image = np.asarray(Image.open(slip_fax).convert("L"))
    square, dpi = to_square_pixels(image, (204.0, 196.0))
    page = Page(square, dpi, SourceRef(str(slip_fax), 1, "0" * 64))
    alone = classify_page(page, [stretched])
    assert not alone.geometry_ok and "implausible" in alone.reason  # the form, but not where it could be
    assert alone.score >= classify_page(page, [slip]).score  # it would win on score alone
    chosen = classify_page(page, [stretched, slip])
    assert chosen.form == "order_slip" and chosen.geometry_ok and chosen.rotation == 180
