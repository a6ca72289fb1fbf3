"""Fill the blank form (``template.reference``, 200 dpi) by hand with a record's values."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from intake.template import Template, field_boxes, load_templates
from samplegen import handwriting as hw
from samplegen.values import Values

STAMP_LABELS = {"received": "受付", "stopped": "停止", "started": "開始"}


@lru_cache(maxsize=1)
def default_template() -> Template:
    return load_templates()[0]


def printed_word(t: Template, box) -> tuple[int, int, int, int]:
    """Bounding box of the printed ink inside a pixel box (its border lines excluded)."""
    x0, y0, x1, y1 = box.x0, box.y0, box.x1, box.y1
    ys, xs = np.nonzero(t.reference[y0 + 5: y1 - 5, x0 + 5: x1 - 5] < 128)
    if len(xs) == 0:
        return x0, y0, x1, y1
    return x0 + 5 + int(xs.min()), y0 + 5 + int(ys.min()), x0 + 5 + int(xs.max()) + 1, y0 + 5 + int(ys.max()) + 1


# -- writing digits and text --------------------------------------------------------------


def write_number(page, digits: str, box, w: hw.Writer, rng) -> None:
    """Digits written freely in a gap between printed words; spacing varies, sometimes touching."""
    bw, bh = box.x1 - box.x0, box.y1 - box.y0
    h = min(bh * 0.85, bh * w.size * rng.uniform(0.75, 1.0))
    glyphs = [hw.digit(int(c), h, w, rng) for c in digits]
    touching = rng.random() < 0.12
    gaps = [h * (rng.uniform(-0.12, 0.0) if touching else rng.uniform(0.02, 0.3)) for _ in glyphs[1:]]
    total = sum(g.shape[1] for g in glyphs) + sum(gaps)
    limit = bw * 0.98
    if total > limit:  # squeeze rather than spill far into the printed words
        s = limit / total
        glyphs = [hw.fit_height(g, g.shape[0] * s) for g in glyphs]
        gaps = [gp * s for gp in gaps]
        total = limit
    x = box.x0 + (bw - total) / 2 + rng.normal(0, max(1.0, (bw - total) * 0.15))
    cy = (box.y0 + box.y1) / 2 + rng.normal(0, bh * 0.05)
    for i, g in enumerate(glyphs):
        hw.put(page, g, int(round(x)), int(round(cy - g.shape[0] / 2 + rng.normal(0, 1.5))), w.ink)
        x += g.shape[1] + (gaps[i] if i < len(gaps) else 0)


def write_comb(page, digits: str, cells, w: hw.Writer, rng) -> None:
    """One digit per printed cell, sometimes straying over the cell line."""
    for c, cell in zip(digits, cells):
        cw, ch = cell.x1 - cell.x0, cell.y1 - cell.y0
        h = ch * min(0.95, w.size * rng.uniform(0.95, 1.12))
        g = hw.digit(int(c), h, w, rng)
        if g.shape[1] > cw * 0.95:
            g = hw.fit_height(g, g.shape[0] * cw * 0.95 / g.shape[1])
        dx, dy = rng.normal(0, cw * 0.05), rng.normal(0, ch * 0.05)
        if rng.random() < w.sloppy:  # careless: the stroke crosses the cell border
            dx += rng.choice([-1, 1]) * cw * rng.uniform(0.12, 0.3)
            dy += rng.choice([-1, 1]) * ch * rng.uniform(0.0, 0.2)
        hw.put_centered(page, g, (cell.x0 + cell.x1) / 2 + dx, (cell.y0 + cell.y1) / 2 + dy, w.ink)


def write_text(page, text: str, box, w: hw.Writer, rng, line_frac: float = 0.6, top: float | None = None) -> None:
    """A line of Japanese handwriting, left-aligned with a random indent and a slight tilt."""
    bw, bh = box.x1 - box.x0, box.y1 - box.y0
    h = bh * line_frac * rng.uniform(0.8, 1.1) if top is None else rng.uniform(40, 56)
    glyphs = [None if ch in " 　" else hw.char(ch, h, w, rng) for ch in text]
    gap = h * rng.uniform(0.02, 0.15)
    widths = [h * 0.45 if g is None else g.shape[1] for g in glyphs]
    total = sum(widths) + gap * (len(glyphs) - 1)
    room = bw * 0.94
    if total > room:
        s = room / total
        glyphs = [None if g is None else hw.fit_height(g, g.shape[0] * s) for g in glyphs]
        widths, gap, h, total = [x * s for x in widths], gap * s, h * s, room
    x = box.x0 + 8 + rng.uniform(0, max(1.0, (bw - total - 16) * 0.3))
    cy = (box.y0 + box.y1) / 2 if top is None else box.y0 + top * bh
    cy += rng.normal(0, bh * 0.04)
    slope = np.tan(np.radians(rng.normal(0, 0.8)))
    for g, wd in zip(glyphs, widths):
        if g is not None:
            y = cy + (x - box.x0) * slope
            gh = g.shape[0]
            # Small kana and punctuation sit low on the line, as written; bars stay centred.
            top_y = y + h / 2 - gh if gh < 0.5 * h and g.shape[1] < 0.8 * h else y - gh / 2
            hw.put(page, g, int(round(x)), int(round(top_y)), w.ink)
        x += wd + gap


# -- marks -------------------------------------------------------------------------------


def circle_word(page, word, w: hw.Writer, rng, oversize: bool = False) -> None:
    x0, y0, x1, y1 = word
    rx = (x1 - x0) / 2 + rng.uniform(9, 20) + (rng.uniform(14, 28) if oversize else 0)
    ry = (y1 - y0) / 2 + rng.uniform(7, 16)
    turns = rng.choice([rng.uniform(0.82, 0.95), rng.uniform(1.0, 1.2)], p=[0.2, 0.8])  # sometimes left open
    hw.loop(page, (x0 + x1) / 2 + rng.normal(0, 3), (y0 + y1) / 2 + rng.normal(0, 3), rx, ry, w, rng, turns)


def tick_word(page, word, w: hw.Writer, rng) -> None:
    x0, y0, x1, y1 = word
    size = (y1 - y0) * rng.uniform(1.1, 1.6)
    hw.tick(page, (x0 + x1) / 2 + rng.normal(0, 4), (y0 + y1) / 2 + rng.normal(0, 4), size, w, rng)


def mark_option(page, t: Template, spec, how: str, want: bool, w: hw.Writer, rng) -> None:
    words = {o.value: printed_word(t, t.px(o.box)) for o in spec.options}
    if how == "none":
        return
    if how == "both":
        for word in words.values():
            circle_word(page, word, w, rng)
        return
    if how == "tick":
        tick_word(page, words[want], w, rng)
    else:
        circle_word(page, words[want], w, rng, oversize=rng.random() < 0.1)


# -- the whole form ----------------------------------------------------------------------------


def _as_values(values) -> Values:
    """Accept a bare truth dict too: every set option circled, digits as plainly spelt."""
    if isinstance(values, Values):
        return values
    v = Values(truth=dict(values))
    for k, val in v.truth.items():
        if k.startswith("notify."):
            v.marks[k] = ("none", False) if val is None else ("circle", bool(val))
    return v


def _spelt(v: Values, key: str, spec) -> list[str]:
    """The digit strings written in each part of a date/time/phone field."""
    if key in v.spelt:
        return v.spelt[key]
    val = v.truth[key]
    if spec.kind == "date":
        y, m, d = val.split("-")
        return [y[2:], str(int(m)), str(int(d))]
    if spec.kind == "time":
        hh, mm = val.split(":")
        return [str(int(hh)), mm]
    return val.split("-")


def make_form_image(values, rng: np.random.Generator, writers: str = "test", template: Template | None = None) -> np.ndarray:
    """The blank form filled by one random writer: a clean 200-dpi greyscale page."""
    t = template or default_template()
    v = _as_values(values)
    truth = v.truth
    w = hw.Writer.random(rng, writers)
    page = t.reference.copy()
    for spec in t.fields:
        key, val = spec.key, truth.get(spec.key)
        boxes = field_boxes(t, spec)
        if spec.kind == "comb_digits":
            if val:
                write_comb(page, "".join(c for c in val if c.isdigit())[-len(spec.cells):], list(boxes.values()), w, rng)
        elif spec.kind in ("date", "time", "phone"):
            if val:
                for part, digits in zip(spec.parts, _spelt(v, key, spec)):
                    write_number(page, digits, boxes[part], w, rng)
        elif spec.kind == "weekday":
            if val:
                b = boxes["box"]
                g = hw.char(val, (b.y1 - b.y0) * rng.uniform(0.42, 0.6), w, rng)
                hw.put_centered(page, g, (b.x0 + b.x1) / 2 + rng.normal(0, 4), (b.y0 + b.y1) / 2 + rng.normal(0, 4), w.ink)
        elif spec.kind == "option_pair":
            how, want = v.marks.get(key, ("none", False) if val is None else ("circle", val))
            mark_option(page, t, spec, how, want, w, rng)
        elif spec.kind == "circled_option":
            if val:
                circle_word(page, printed_word(t, t.px(spec.text)), w, rng)
        elif spec.kind == "stamp":
            if val:
                b = boxes["box"]
                hw.stamp(page, (b.x0, b.y0, b.x1, b.y1), rng, STAMP_LABELS.get(key.rsplit(".", 1)[-1], "受付"))
        elif spec.kind == "text":
            if val:
                b = boxes["box"]
                if getattr(spec, "multiline", False) or key == "remarks":
                    write_text(page, val, b, w, rng, top=rng.uniform(0.22, 0.5))
                else:
                    write_text(page, val, b, w, rng)
    return page
