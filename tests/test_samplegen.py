"""The synthetic fax generator: determinism, truth coverage, file formats, channel limits."""

from __future__ import annotations

import io
import json

import cv2
import numpy as np
import pytest
from PIL import Image

from intake.template import load_templates
from samplegen import fax_channel, generate, make_fax, make_form_image, random_values
from samplegen import fax as faxmod

FINE = {"format": "tiff-g4", "resolution": "fine", "flip": False, "extra_pages": []}


@pytest.fixture(scope="module")
def template():
    return load_templates()[0]


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    out = tmp_path_factory.mktemp("faxes")
    overrides = {
        1: FINE,
        2: {"format": "tiff-g3", "resolution": "standard", "flip": True, "extra_pages": ["privacy", "notes"]},
        3: {"format": "tiff-raw", "resolution": "fine", "flip": False, "extra_pages": ["cover", "blank"]},
        4: {"format": "pdf", "resolution": "standard", "flip": False, "extra_pages": []},
        5: {"format": "png", "resolution": "fine", "flip": False, "extra_pages": []},
    }
    rows = generate(out, 5, seed=7, writers="test", overrides=overrides)
    return out, rows


def test_same_seed_same_bytes_and_truth():
    a = make_fax(3, 1, "test")
    b = make_fax(3, 1, "test")
    assert a[0] == b[0] and a[2] == b[2]
    c = make_fax(4, 1, "test")
    assert c[0] != a[0]


def test_pdf_is_deterministic_too():
    o = {"format": "pdf", "resolution": "standard", "flip": False, "extra_pages": []}
    assert make_fax(5, 2, "train", overrides=o)[0] == make_fax(5, 2, "train", overrides=o)[0]


def test_truth_covers_every_template_key(batch, template):
    _, rows = batch
    keys = {f.key for f in template.fields}
    for r in rows:
        (rec,) = r["records"]
        assert set(rec["fields"]) == keys
        assert r["pages"][rec["page"] - 1]["kind"] == "form"


def test_truth_values_are_well_formed():
    import re

    for i in range(40):
        t = random_values(np.random.default_rng(i)).truth
        assert re.fullmatch(r"20\d\d-\d\d-\d\d", t["sent_date"])
        assert t["sent_date"] <= t["stop.date"] < t["resume.date"]
        assert t["targets.0.teledome_number"] and re.fullmatch(r"0180-99-\d{4}", t["targets.0.teledome_number"])
        assert re.fullmatch(r"4-\d{4}-\d{2}", t["targets.0.plan_number"])
        for k in ("stop", "resume"):
            assert t[f"{k}.weekday"] in "月火水木金土日"
            assert (t[f"{k}.time"] is None) == t[f"{k}.free"]
            assert t[f"{k}.time"] is None or re.fullmatch(r"\d\d:\d\d", t[f"{k}.time"])
        assert len(t["customer_contact.phone"].replace("-", "")) in (10, 11)


def test_tiffs_read_back_with_dpi_and_pages(batch):
    out, rows = batch
    for r in rows:
        path = out / r["file"]
        if path.suffix == ".pdf":
            continue  # read back by test_pdf_reads_back
        im = Image.open(path)
        assert getattr(im, "n_frames", 1) == len(r["pages"])
        if r["file"].endswith(".tif"):
            assert tuple(round(v) for v in im.info["dpi"]) == tuple(r["pages"][0]["dpi"])
            assert im.mode == "1"
        if r["file"].endswith(".png"):
            assert tuple(round(v) for v in im.info["dpi"]) == tuple(r["pages"][0]["dpi"])
    assert rows[1]["pages"][0]["dpi"] == [204, 98] and rows[1]["pages"][0]["rotation"] == 180
    assert [p["kind"] for p in rows[1]["pages"]] == ["privacy", "notes", "form"]
    assert Image.open(out / rows[0]["file"]).info["compression"] == "group4"
    assert Image.open(out / rows[1]["file"]).info["compression"] == "group3"
    assert (out / "truth.jsonl").read_text(encoding="utf-8").count("\n") == 5
    assert json.loads((out / "manifest.json").read_text())["seed"] == 7


def test_pdf_reads_back(batch):
    pdf2image = pytest.importorskip("pdf2image")
    out, rows = batch
    pages = pdf2image.convert_from_path(str(out / rows[3]["file"]), dpi=100)
    assert len(pages) == 1
    # 1728 px at 204 dpi across, 1146 px at 98 dpi down: an A4-ish page once resolution is honoured.
    w, h = pages[0].size
    assert abs(w / h - (1728 / 204) / (1146 / 98)) < 0.02


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a < 128, b < 128
    return (a & b).sum() / max(1, (a | b).sum())


def test_fax_channel_geometry_within_limits(template):
    page = make_form_image(random_values(np.random.default_rng(1)), np.random.default_rng(1), "train")
    draws = [faxmod.geometry(np.random.default_rng(s)) for s in range(200)]
    assert max(abs(g["angle"]) for g in draws) <= faxmod.MAX_ROTATION
    assert max(abs(g["scale"] - 1) for g in draws) <= faxmod.MAX_SCALE
    assert max(max(map(abs, g["shift"])) for g in draws) <= faxmod.MAX_SHIFT
    for seed in range(4):
        res = "standard" if seed % 2 else "fine"
        out, dpi = fax_channel(page, np.random.default_rng(seed), res, flip=False)
        assert dpi == faxmod.RESOLUTIONS[res]
        assert out.dtype == np.uint8 and set(np.unique(out)) <= {0, 255}
        assert out.shape == (round(page.shape[0] * dpi[1] / 200), faxmod.FAX_WIDTH)
        # The output matches the page moved by the channel's own first draw, not the page left still.
        g = faxmod.geometry(np.random.default_rng(seed))
        square = cv2.resize(out, (round(out.shape[1] * 200 / 204), page.shape[0]), interpolation=cv2.INTER_AREA)
        moved = faxmod.place(page, g)
        # dx search: the page sits a few pixels off centre on the 1728-pixel fax line.
        best_moved = max(_iou(np.roll(square, dx, axis=1)[:, : page.shape[1]], moved) for dx in range(-40, 41, 2))
        best_still = max(_iou(np.roll(square, dx, axis=1)[:, : page.shape[1]], page) for dx in range(-40, 41, 2))
        assert best_moved > 0.5 and best_moved > 2 * best_still, (seed, best_moved, best_still)


def test_flip_turns_the_page(template):
    page = np.full((400, 300), 255, np.uint8)
    page[20:60, 20:60] = 0  # a block near the top-left
    up, _ = fax_channel(page, np.random.default_rng(0), "fine", flip=False)
    down, _ = fax_channel(page, np.random.default_rng(0), "fine", flip=True)
    h = up.shape[0]
    assert (up[: h // 2] == 0).sum() > (up[h // 2:] == 0).sum()
    assert (down[h // 2:] == 0).sum() > (down[: h // 2] == 0).sum()


def test_writers_keep_mnist_ranges_apart():
    from samplegen.handwriting import Writer

    tr = Writer.random(np.random.default_rng(0), "train")
    te = Writer.random(np.random.default_rng(0), "test")
    assert tr.mnist_range == (0, 50_000) and te.mnist_range == (55_000, 60_000)
    with pytest.raises(ValueError):
        Writer.random(np.random.default_rng(0), "valid")


def test_png_roundtrip_bytes(batch):
    out, rows = batch
    im = Image.open(io.BytesIO((out / rows[4]["file"]).read_bytes()))
    assert im.size[0] == faxmod.FAX_WIDTH


def test_font_writers_draw_every_mark_from_the_system_fonts():
    from samplegen import assets
    from samplegen.handwriting import Writer

    hands = [Writer.random(np.random.default_rng(s), "fonts") for s in range(20)]
    assert all(w.digit_sources == ("font",) and w.text_source == "font" for w in hands)
    assert {w.font for w in hands} <= set(assets.SYSTEM_TEXT_FONTS)
    assert {w.digit_font for w in hands} <= set(assets.SYSTEM_DIGIT_FONTS)
    assert len({w.digit_font for w in hands}) > 3


@pytest.mark.skipif(bool(__import__("samplegen.assets", fromlist=["x"]).missing_system_fonts()),
                    reason="Debian handwriting fonts not installed (bash scripts/install.sh --test installs them)")
def test_a_character_a_system_font_lacks_is_drawn_in_the_fallback_font():
    from samplegen import assets

    # DkgHandwriting has Latin letters and digits only.
    assert np.array_equal(assets.font_glyph("営", "DkgHandwriting"), assets.font_glyph("営", assets.FALLBACK_SYSTEM_FONT))
    assert not np.array_equal(assets.font_glyph("7", "DkgHandwriting"), assets.font_glyph("7", assets.FALLBACK_SYSTEM_FONT))


def test_font_writers_without_the_fonts_name_the_packages_to_install(tmp_path, monkeypatch):
    from samplegen import assets

    monkeypatch.setitem(assets.SYSTEM_DIGIT_FONTS, "KleeOne", str(tmp_path / "absent.ttf"))
    with pytest.raises(FileNotFoundError, match="apt-get install -y fonts-klee"):
        generate(tmp_path / "out", 1, seed=1, writers="fonts")
    assert not (tmp_path / "out").exists()  # nothing half-written
