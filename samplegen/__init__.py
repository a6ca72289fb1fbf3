"""Synthetic faxed テレドーム停止依頼書 with ground truth, for tests, benchmarks and training.

    python -m samplegen --out DIR --count N --seed S [--writers POPULATION|populations] [--formats tiff-g4,pdf,...]
                        [--layouts full|mixed|scale-50,2up-notes-form,...]

writes ``DIR/fax_0001.tif`` ... plus ``DIR/truth.jsonl`` (one object per file) and
``DIR/manifest.json``. Fax ``i`` depends only on (seed, i, writers, formats, layouts), so
output is reproducible byte for byte and a larger count extends a smaller one.

``--writers train`` draws MNIST digits 0..49,999 only; ``--writers test`` draws
MNIST 55,000..59,999 mixed with font and KanjiVG digits, so evaluation handwriting
differs from training. MNIST 50,000..54,999 (the recogniser's validation set) is never used.
``--writers fonts`` writes every digit and character in handwriting fonts from Debian
packages (``assets.SYSTEM_FONT_PACKAGES``) that nothing in the product was fitted on.
The single-source populations (``mnist``, ``bundled-fonts``, ``kanjivg``, ``debian-fonts``,
``blocky``) write each form from one source only, and ``populations`` draws each form's
population at random (``samplegen.writers``); every truth row and record names its ``writers``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from samplegen import assets, layout
from samplegen import writers as populations
from samplegen.fax import EXTENSIONS, fax_channel, header_text, write
from samplegen.fill import make_form_image
from samplegen.values import random_values

__all__ = ["generate", "make_fax", "make_form_image", "fax_channel", "random_values", "VERSION", "FORMATS"]

VERSION = "1.0"
WRITER_STREAMS = {name: populations.stream(name) for name in populations.choices()}  # one random stream per choice
LAYOUT_STREAM = 7  # the layout draw's own stream (see make_fax)
FORMATS = {"tiff-g4": 0.5, "tiff-g3": 0.2, "tiff-raw": 0.05, "pdf": 0.15, "png": 0.1}


def cover_sheet(rng, truth: dict, pages: int) -> np.ndarray:
    """A typed-looking 送付状 (cover sheet) at 200 dpi."""
    img = Image.new("L", (1654, 2339), 255)
    d = ImageDraw.Draw(img)
    f = assets.font(str(rng.choice(["YuseiMagic", "Yomogi"])), 48)
    big = assets.font("ReggaeOne", 90)
    sent = dt.date.fromisoformat(truth["sent_date"])
    d.text((827, 260), "FAX送付状", font=big, fill=0, anchor="mm")
    lines = [
        f"{sent.year}年{sent.month}月{sent.day}日",
        "",
        "NTTコミュニケーションズ株式会社 御中",
        "高度電話カスタマセンタ マスコーリング担当 様",
        "",
        f"送信元: {truth['contractor_name']}",
        f"{truth['customer_contact.department']} {truth['customer_contact.name']}",
        f"TEL: {truth['customer_contact.phone']}",
        "",
        f"送付枚数: {pages}枚(本紙を含む)",
        "",
        "テレドーム停止依頼書を送付いたします。",
        "ご確認のほど、よろしくお願いいたします。",
    ]
    y = 450
    for line in lines:
        if line:
            d.text((180, y), line, font=f, fill=0)
        y += 80
    d.rectangle((150, 1500, 1500, 2100), outline=0, width=3)
    d.text((180, 1520), "通信欄", font=f, fill=0)
    return np.asarray(img, np.uint8).copy()


def _page_source(kind: str, form: np.ndarray, rng, truth: dict, pages: int) -> np.ndarray:
    """The clean 200-dpi image of one page of the fax."""
    if kind == "form":
        return form
    if kind in ("privacy", "notes"):
        return assets.pdf_page(1 if kind == "privacy" else 2)  # the official PDF's own pages 1-2
    if kind == "cover":
        return cover_sheet(rng, truth, pages)
    if kind == "blank":
        return np.full_like(form, 255)
    raise ValueError(f"unknown page kind {kind!r}")


def _choose_format(rng, formats: list[str] | None) -> str:
    names = list(formats) if formats else list(FORMATS)
    bad = [n for n in names if n not in FORMATS]
    if bad:
        raise ValueError(f"unknown format(s) {bad}; choose from {sorted(FORMATS)}")
    p = np.array([FORMATS[n] for n in names])
    return str(rng.choice(names, p=p / p.sum()))


def make_fax(seed: int, index: int, writers: str = "test", formats: list[str] | None = None,
             overrides: dict | None = None, layouts: list[str] | None = None) -> tuple[bytes, str, dict]:
    """One fax file: (file bytes, extension, truth row without "file").

    ``overrides`` pins choices for hand-picked samples: format, resolution, flip, extra_pages
    (a list of "privacy"/"notes"/"cover"/"blank" before the form; "blank" goes after it), layout.

    ``layouts`` (see ``samplegen.layout``) draws how the form was put on paper; the draw has its own
    random stream, so a fax whose layout is ``full`` is the same bytes as without ``layouts``.
    """
    o = overrides or {}
    stream = populations.stream(writers)
    rng = np.random.default_rng([seed, index, stream])
    population = populations.population_of(writers, seed, index)
    values = random_values(rng)
    truth = values.truth
    fmt = o.get("format") or _choose_format(rng, formats)
    resolution = o.get("resolution") or ("fine" if rng.random() < 0.55 else "standard")
    flip = o["flip"] if "flip" in o else bool(rng.random() < 0.2)

    extra = o.get("extra_pages")
    if extra is None:
        extra = []
        if fmt != "png":  # a PNG holds one page
            if rng.random() < 0.08:
                extra.append("cover")
            if rng.random() < 0.3:
                extra += ["privacy", "notes"]
            if rng.random() < 0.04:
                extra.append("blank")
    layout_rng = np.random.default_rng([seed, index, stream, LAYOUT_STREAM])
    lay = o.get("layout") or layout.choose(layout_rng, layouts or ["full"])
    if lay.startswith("2up"):  # the notes page shares the form's sheet
        extra = [k for k in extra if k != "notes"]
    kinds = [k for k in extra if k != "blank"] + ["form"] + [k for k in extra if k == "blank"]

    form, about_writer = populations.POPULATIONS[population].fill(values, rng, population)
    form, turn = layout.lay_out(lay, form, assets.pdf_page(2) if lay.startswith("2up") else None, layout_rng)
    sent = dt.date.fromisoformat(truth["sent_date"])
    when = dt.datetime(sent.year, sent.month, sent.day, int(rng.integers(8, 20)), int(rng.integers(0, 60)))
    sender = truth["customer_contact.phone"].replace("-", "") if rng.random() < 0.5 else truth["customer_contact.phone"]
    images, page_rows = [], []
    for n, kind in enumerate(kinds, 1):
        src = _page_source(kind, form, rng, truth, len(kinds))
        head = header_text(when, sender, n, len(kinds), rng) if rng.random() < 0.9 else None
        img, dpi = fax_channel(src, rng, resolution, flip, header=head)
        images.append(img)
        rotation = ((turn if kind == "form" else 0) + (180 if flip else 0)) % 360
        page_rows.append({"page": n, "kind": kind, "rotation": rotation, "dpi": list(dpi)})
    data = write(images, dpi, fmt, when)
    row = {"format": fmt, "layout": lay, "received": when.date().isoformat(), "writers": population, **about_writer,
           "pages": page_rows, "records": [{"page": kinds.index("form") + 1, "writers": population, "fields": truth}]}
    return data, EXTENSIONS[fmt], row


def generate(out_dir, count: int, seed: int, writers: str = "test", formats: list[str] | None = None,
             overrides: dict[int, dict] | None = None, layouts: list[str] | None = None) -> list[dict]:
    """Write ``count`` faxes, ``truth.jsonl`` and ``manifest.json`` into ``out_dir``; return the truth rows."""
    populations.stream(writers)  # rejects an unknown choice before anything is written
    if why := populations.missing_material({populations.population_of(writers, seed, i) for i in range(1, count + 1)}):
        raise FileNotFoundError(why)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(1, count + 1):
        data, ext, row = make_fax(seed, i, writers, formats, (overrides or {}).get(i), layouts)
        name = f"fax_{i:04d}{ext}"
        (out / name).write_bytes(data)
        # The file looks as if it arrived when the fax was sent, as in a real inbox.
        received = dt.datetime.fromisoformat(row["received"]).timestamp()
        os.utime(out / name, (received, received))
        rows.append({"file": name, **row})
    with open(out / "truth.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    manifest = {"generator": "samplegen", "version": VERSION, "seed": seed, "writers": writers, "count": count,
                "formats": list(formats) if formats else sorted(FORMATS), "layouts": list(layouts or ["full"])}
    if populations.canonical(writers) == populations.MIXED:
        manifest["populations"] = {n: round(w, 4) for n, w in populations.mixed().items()}
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return rows
