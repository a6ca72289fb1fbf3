"""Forms filled on a computer before faxing: every value typed in a Japanese print font.

About one form in ten arrives like this. A computer fills a form in ways a hand does not:

* comb numbers either one digit centred in each printed cell, or the whole group typed as one
  string from the first cell on, its spacing the font's own (plus some tracking), not the cells';
* digits half-width (``0123``) or full-width (``０１２３``), as the typist's input method left them;
* one font and one size (9-14 pt) for the whole form, solid black toner;
* 要/不要 and フリー marked with a typed ``○`` laid over the word or a drawn vector ellipse around it;
* names, departments and remarks in print, left-aligned in their boxes.

The office's own date stamps stay stamps. The page then goes through the same fax channel as every
other form (``samplegen.fax``).

The print fonts come from Debian packages and are split in two. ``typed-dev`` draws from the
DEVELOPMENT fonts: anything the product fits for print (thresholds of the print-or-hand decision,
agreement rules) is fitted on them only. ``typed`` draws from the HELD-OUT fonts, which are only
ever measured on.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from intake.template import Template, field_boxes
from samplegen import handwriting as hw
from samplegen.fill import STAMP_LABELS, _as_values, _spelt, default_template, printed_word

# Development fonts: the only print the product's print-or-hand decision and print reader were tuned on.
DEV_FONT_PACKAGES = ("fonts-ipafont-gothic", "fonts-ipafont-mincho", "fonts-sawarabi-mincho")
DEV_FONTS = {
    "IPAGothic": "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
    "IPAPGothic": "/usr/share/fonts/opentype/ipafont-gothic/ipagp.ttf",
    "IPAMincho": "/usr/share/fonts/opentype/ipafont-mincho/ipam.ttf",
    "IPAPMincho": "/usr/share/fonts/opentype/ipafont-mincho/ipamp.ttf",
    "SawarabiMincho": "/usr/share/fonts/truetype/sawarabi-mincho/sawarabi-mincho-medium.ttf",
}
# Held-out fonts: measured on, never fitted on.
HELD_OUT_FONT_PACKAGES = ("fonts-vlgothic", "fonts-sawarabi-gothic", "fonts-motoya-l-cedar", "fonts-motoya-l-maruberi",
                          "fonts-mplus")
HELD_OUT_FONTS = {
    "VLGothic": "/usr/share/fonts/truetype/vlgothic/VL-Gothic-Regular.ttf",
    "VLPGothic": "/usr/share/fonts/truetype/vlgothic/VL-PGothic-Regular.ttf",
    "SawarabiGothic": "/usr/share/fonts/truetype/sawarabi-gothic/sawarabi-gothic-medium.ttf",
    "MotoyaCedar": "/usr/share/fonts/truetype/motoya-l-cedar/MTLc3m.ttf",
    "MotoyaMaruberi": "/usr/share/fonts/truetype/motoya-l-maruberi/MTLmr3m.ttf",
    "Mplus1": "/usr/share/fonts/opentype/mplus/Mplus1-Regular.otf",
    "Mplus1Code": "/usr/share/fonts/opentype/mplus/Mplus1Code-Regular.otf",
    "Mplus2Medium": "/usr/share/fonts/opentype/mplus/Mplus2-Medium.otf",
}
# ``--writers`` name -> (fonts, the Debian packages that hold them)
POPULATIONS = {"typed": (HELD_OUT_FONTS, HELD_OUT_FONT_PACKAGES), "typed-dev": (DEV_FONTS, DEV_FONT_PACKAGES)}
PRINT_FONT_PACKAGES = DEV_FONT_PACKAGES + HELD_OUT_FONT_PACKAGES

PX_PER_PT = 200 / 72  # the clean page is 200 dpi
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def missing_fonts(population: str) -> tuple[list[str], tuple[str, ...]]:
    """The font files of a typed population that are not installed, and the packages that hold them."""
    fonts, packages = POPULATIONS[population]
    return [p for p in fonts.values() if not Path(p).is_file()], packages


@dataclass(frozen=True)
class Typist:
    """How one form was filled on a computer: the same for every value on it."""

    font: str
    path: str
    size_pt: float
    comb: str  # "cells": one digit centred per cell; "string": each group typed as one string
    tracking: float  # extra space between characters of a typed string, in ems
    full_width: bool  # digits typed full-width (０１２)
    marks: str  # "glyph": a typed ○ over the word; "ellipse": a drawn ellipse around it
    line_px: int  # width of a drawn ellipse's line
    align: str  # free-space numbers: "centre" or "right" in their gap
    ink: int

    @classmethod
    def random(cls, rng: np.random.Generator, population: str) -> "Typist":
        fonts, _ = POPULATIONS[population]
        name = str(rng.choice(sorted(fonts)))
        return cls(font=name, path=fonts[name], size_pt=float(rng.uniform(9, 14)),
                   comb=str(rng.choice(["cells", "string"])), tracking=float(rng.choice([0.0, 0.0, 0.08, 0.2, 0.35])),
                   full_width=bool(rng.random() < 0.3), marks=str(rng.choice(["glyph", "ellipse"])),
                   line_px=int(rng.integers(2, 4)), align=str(rng.choice(["centre", "right"])), ink=int(rng.integers(0, 30)))

    def as_truth(self) -> dict:
        return {"font": self.font, "size_pt": round(self.size_pt, 1), "comb": self.comb, "full_width": self.full_width,
                "marks": self.marks}

    def font_px(self, size_pt: float | None = None) -> ImageFont.FreeTypeFont:
        return font_at(self.path, int(round((size_pt or self.size_pt) * PX_PER_PT)))

    def digits(self, text: str) -> str:
        return text.translate(FULL_WIDTH) if self.full_width else text


_FONTS: dict[tuple[str, int], ImageFont.FreeTypeFont] = {}


def font_at(path: str, px: int) -> ImageFont.FreeTypeFont:
    if (path, px) not in _FONTS:
        _FONTS[(path, px)] = ImageFont.truetype(path, px)
    return _FONTS[(path, px)]


@lru_cache(maxsize=None)
def _has(path: str, ch: str) -> bool:
    """Whether the font draws ``ch`` itself rather than its "missing" box (what a noncharacter gets)."""
    font = font_at(path, 48)
    return bytes(font.getmask(ch)) != bytes(font.getmask("\uffff"))


def covering(font: ImageFont.FreeTypeFont, ch: str) -> ImageFont.FreeTypeFont:
    """``font``, or where it lacks ``ch`` (M+ Code has no full-width digits) the first font of its own
    population that has it, as a word processor substitutes a font."""
    if _has(font.path, ch):
        return font
    for fonts, _ in POPULATIONS.values():
        if font.path in fonts.values():
            for path in sorted(fonts.values()):
                if _has(path, ch):
                    return font_at(path, font.size)
    return font


class InkLayer:
    """Everything the computer printed on one form, drawn as 255 = toner, laid on the page once."""

    def __init__(self, shape: tuple[int, int]):
        self.image = Image.new("L", (shape[1], shape[0]), 0)
        self.draw = ImageDraw.Draw(self.image)

    def string(self, text: str, font: ImageFont.FreeTypeFont, x: float, cy: float, tracking: float = 0.0) -> None:
        """``text`` from ``x`` on, its em box centred on ``cy``, characters ``tracking`` ems apart."""
        em = font.size
        for ch in text:
            face = covering(font, ch)
            self.draw.text((x, cy), ch, font=face, fill=255, anchor="lm")
            x += face.getlength(ch) + tracking * em

    def centred(self, ch: str, font: ImageFont.FreeTypeFont, cx: float, cy: float) -> None:
        self.draw.text((cx, cy), ch, font=covering(font, ch), fill=255, anchor="mm")

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, width: int) -> None:
        self.draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), outline=255, width=width)

    def onto(self, page: np.ndarray, ink: int) -> np.ndarray:
        toner = np.asarray(self.image, np.float32) / 255.0
        return np.minimum(page, (255.0 - toner * (255.0 - ink)).astype(np.uint8))


def string_width(text: str, font: ImageFont.FreeTypeFont, tracking: float) -> float:
    return sum(covering(font, ch).getlength(ch) for ch in text) + tracking * font.size * max(0, len(text) - 1)


def _fitting(t: Typist, text: str, room: float, tracking: float) -> ImageFont.FreeTypeFont:
    """The typist's font, made smaller (as a form's text box shrinks its text) until ``text`` fits ``room``."""
    size = t.size_pt
    font = t.font_px(size)
    while string_width(text, font, tracking) > room and size > 5:
        size *= 0.92
        font = t.font_px(size)
    return font


def type_comb(layer: InkLayer, t: Typist, digits: str, cells: list, groups: list[int]) -> None:
    font = t.font_px()
    if t.comb == "cells":
        for c, cell in zip(t.digits(digits), cells):
            layer.centred(c, _fitting(t, c, (cell.x1 - cell.x0) * 0.9, 0), (cell.x0 + cell.x1) / 2, (cell.y0 + cell.y1) / 2)
        return
    start = 0
    for n in groups:  # each group typed as one string from its first cell, where the cursor lands
        group, box = t.digits(digits[start:start + n]), cells[start:start + n]
        room = box[-1].x1 - box[0].x0 - 6
        font = _fitting(t, group, room, t.tracking)
        layer.string(group, font, box[0].x0 + 4, (box[0].y0 + box[0].y1) / 2, t.tracking)
        start += n


def type_number(layer: InkLayer, t: Typist, digits: str, box) -> None:
    """A number typed in the gap between printed words (年, 月, 時, the brackets of a phone number)."""
    text = t.digits(digits)
    room = (box.x1 - box.x0) - 8
    font = _fitting(t, text, room, 0)
    w = string_width(text, font, 0)
    x = box.x1 - 4 - w if t.align == "right" else (box.x0 + box.x1 - w) / 2
    layer.string(text, font, x, (box.y0 + box.y1) / 2)


def type_text(layer: InkLayer, t: Typist, text: str, box, rng, top: float | None = None) -> None:
    indent = float(rng.uniform(6, 24))
    font = _fitting(t, text, (box.x1 - box.x0) - indent - 6, 0)
    cy = (box.y0 + box.y1) / 2 if top is None else box.y0 + top * (box.y1 - box.y0)
    layer.string(text, font, box.x0 + indent, cy)


def mark_word(layer: InkLayer, t: Typist, word: tuple[int, int, int, int], ellipse: bool) -> None:
    """A typed ○ laid over a printed word, or a drawn ellipse around it."""
    x0, y0, x1, y1 = word
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if ellipse:
        layer.ellipse(cx, cy, (x1 - x0) / 2 + 12, (y1 - y0) / 2 + 9, t.line_px)
        return
    span = max(x1 - x0, y1 - y0)
    circle = font_at(t.path, int(round(span * 2.3)))
    layer.centred("○", circle, cx, cy)


def make_typed_form(values, rng: np.random.Generator, population: str = "typed",
                    template: Template | None = None) -> tuple[np.ndarray, dict]:
    """The blank form filled on a computer: a clean 200-dpi greyscale page, and how it was typed."""
    tpl = template or default_template()
    v = _as_values(values)
    truth = v.truth
    t = Typist.random(rng, population)
    page = tpl.reference.copy()
    layer = InkLayer(page.shape)
    stamps = []
    for spec in tpl.fields:
        key, val = spec.key, truth.get(spec.key)
        boxes = field_boxes(tpl, spec)
        if spec.kind == "comb_digits":
            if val:
                digits = "".join(c for c in val if c.isdigit())[-len(spec.cells):]
                type_comb(layer, t, digits, list(boxes.values()), list(spec.groups))
        elif spec.kind in ("date", "time", "phone"):
            if val:
                for part, digits in zip(spec.parts, _spelt(v, key, spec)):
                    type_number(layer, t, digits, boxes[part])
        elif spec.kind == "weekday":
            if val:
                b = boxes["box"]
                layer.centred(val, t.font_px(), (b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2)
        elif spec.kind == "option_pair":
            how, want = v.marks.get(key, ("none", False) if val is None else ("circle", val))
            words = {o.value: printed_word(tpl, tpl.px(o.box)) for o in spec.options}
            chosen = list(words.values()) if how == "both" else [] if how == "none" else [words[want]]
            for word in chosen:  # a computer circles; it does not tick
                mark_word(layer, t, word, t.marks == "ellipse")
        elif spec.kind == "circled_option":
            if val:  # フリー is too wide for a ○ glyph: every typist draws the ellipse
                mark_word(layer, t, printed_word(tpl, tpl.px(spec.text)), True)
        elif spec.kind == "stamp":
            if val:
                stamps.append((key, boxes["box"]))
        elif spec.kind == "text":
            if val:
                b = boxes["box"]
                many = getattr(spec, "multiline", False) or key == "remarks"
                type_text(layer, t, val, b, rng, top=float(rng.uniform(0.25, 0.45)) if many else None)
    page = layer.onto(page, t.ink)
    for key, b in stamps:  # the office's own stamp, by hand
        hw.stamp(page, (b.x0, b.y0, b.x1, b.y1), rng, STAMP_LABELS.get(key.rsplit(".", 1)[-1], "受付"))
    return page, t.as_truth()
