"""Text: the weekday kanji and free Japanese text (names, departments, remarks)."""

from __future__ import annotations

import itertools
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from intake.model import AlignedPage, Box, FieldReading
from intake.reasons import Reason
from intake.readers.engines.base import TextRecogniser
from intake.readers.ink import added_ink, blobs
from intake.readers.language import JapaneseLexicon

if TYPE_CHECKING:
    from intake.kinds.text import TextField
    from intake.kinds.weekday import WeekdayField
    from intake.template import Template



# Old (kyūjitai) forms that modern business writing replaces by their new forms
# (營→営, 會→会, 樣→様 ...). The recogniser, trained largely on Chinese text,
# prefers them; surname forms that people really write (澤, 邊, 齋, 濱, 髙) stay allowed.
KYUJITAI_NOT_WRITTEN = set(
    "會當營樣學體發實寫變圖廣應與號參區團傳價單對壓數證驗齒聲賣讀續處擔擧覺觀關轉醫雜鐵靜顯驛黨爲僞兒兩"
    "勞勵卷歸氣淺灣燈畫盡禮稱經縣總繪聽肅臺藝藥虛裝觸譯豐辭遲隱雙靈騷髮默齡拜擇擴攝敎斷晝曉條樂榮樓檢權"
    "歡殘溫滿爐狀獨眞祕稻粹絲縱繩圓團國圍賣屆擔將專從惠戰擔據攜收壞懷"
)


def _cp932_characters() -> str:
    """Every character Japanese Windows (cp932) can write, less old forms nobody writes today.
    Multilingual recognisers sometimes prefer a Chinese form (产, 產, 课, 營) of a Japanese
    character; decoding within this set avoids that."""
    chars = []
    for code in range(0x20, 0x10000):
        c = chr(code)
        try:
            c.encode("cp932")
        except UnicodeEncodeError:
            continue
        if c not in KYUJITAI_NOT_WRITTEN:
            chars.append(c)
    return "".join(chars)


JAPANESE_TEXT = _cp932_characters()


def _ink_lines(mask: np.ndarray, multiline: bool) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (x0, y0, x1, y1) of the written lines in a mask."""
    items = [b for b in blobs(mask) if b.area >= 12]
    if not items:
        return []
    if not multiline:
        span = Box.around(items)
        return [(span.x0, span.y0, span.x1, span.y1)]
    rows = mask.any(axis=1).astype(np.uint8)
    # Close small vertical gaps inside one line (kana with detached strokes).
    rows = cv2.morphologyEx(rows.reshape(-1, 1), cv2.MORPH_CLOSE, np.ones((7, 1), np.uint8)).ravel()
    lines, start = [], None
    for y, v in enumerate(list(rows) + [0]):
        if v and start is None:
            start = y
        elif not v and start is not None:
            if y - start >= 8:
                band = mask[start:y]
                xs = np.nonzero(band.any(axis=0))[0]
                lines.append((int(xs[0]), start, int(xs[-1]) + 1, y))
            start = None
    # A band much lower than the tallest is a stray mark or the residue of a ruled line, not
    # writing: read as text it would add a "1" or a dash under the remark.
    tallest = max((y1 - y0 for _, y0, _, y1 in lines), default=0)
    return [ln for ln in lines if (ln[3] - ln[1]) >= 0.5 * tallest]


def _line_image(mask: np.ndarray, box: tuple[int, int, int, int], margin: int = 8) -> np.ndarray:
    """The line as dark ink on white, softened: the recogniser learnt from photographed and
    scanned text, whose strokes have grey edges, and is surer of itself on them."""
    x0, y0, x1, y1 = box
    h, w = mask.shape
    sub = mask[max(0, y0 - margin) : min(h, y1 + margin), max(0, x0 - margin) : min(w, x1 + margin)]
    return cv2.GaussianBlur(np.where(sub > 0, 0, 255).astype(np.uint8), (3, 3), 0)


# How many lattice-cost units weigh as much as one unit of the recogniser's log-probability.
# A misread character typically adds 5,000-10,000 to the cost of a line; at 1,500 per unit
# a reading needs the recogniser to be e^4 (50 times) surer of it to beat a real word.
COST_PER_LOG_PROB = 1500.0
# A character may be missing where the recogniser is this sure something unread is written
# (PaddleTextRecogniser.unread_mark_belief). Measured on 1,042 text fields of 220
# development faxes: 4 of the 5 readings a character short reach it, and 1 right reading.
UNREAD_MARK_DOUBT = 0.5
ALTERNATIVE_MIN_SHARE = 0.003  # a character's alternative is considered if it holds this much belief
MAX_ALTERNATIVES = 10  # the most plausible alternatives tried, one or two at a time


# Characters that handwriting makes indistinguishable: small and full-size kana, and kana that
# look like kanji (ロ/口, カ/力, エ/工, ニ/二, ハ/八, ー/一 ...). Written by hand, size and
# stroke weight are all that separate them, so the recogniser cannot be trusted to; the
# lexicon decides (ホールディングス, 山口). A swap chosen this way keeps a low confidence.
LOOKALIKE_PAIRS = ("ァア", "ィイ", "ゥウ", "ェエ", "ォオ", "ャヤ", "ュユ", "ョヨ", "ッツ", "ぁあ", "ぃい", "ぅう", "ぇえ", "ぉお",
                   "ゃや", "ゅゆ", "ょよ", "っつ", "ロ口", "カ力", "エ工", "ニ二", "ハ八", "ト卜", "タ夕", "ー一", "へヘ", "べベ", "ぺペ")
LOOKALIKE_SHARE = 0.05
_LOOKALIKES: dict[str, str] = {}
for _a, _b in LOOKALIKE_PAIRS:
    _LOOKALIKES[_a], _LOOKALIKES[_b] = _b, _a


def with_lookalikes(alternatives: list[list[tuple[str, float]]]) -> list[list[tuple[str, float]]]:
    """Each character's alternatives, plus its look-alike (at LOOKALIKE_SHARE) when not already there."""
    out = []
    for alts in alternatives:
        seen = {c for c, _ in alts}
        twin = _LOOKALIKES.get(alts[0][0]) if alts else None
        out.append(alts + [(twin, LOOKALIKE_SHARE)] if twin and twin not in seen else alts)
    return out


def candidate_readings(alternatives: list[list[tuple[str, float]]]) -> list[tuple[str, float]]:
    """The recogniser's best reading and those one or two characters away, with their log-probability."""
    best = [a[0] for a in alternatives]
    base_logp = sum(np.log(max(p, 1e-9)) for _, p in best)
    options = sorted(((i, c, p) for i, alts in enumerate(alternatives) for c, p in alts[1:] if p >= ALTERNATIVE_MIN_SHARE),
                     key=lambda o: -o[2])[:MAX_ALTERNATIVES]

    def variant(changes) -> tuple[str, float]:
        chars = [c for c, _ in best]
        logp = base_logp
        for i, c, p in changes:
            chars[i] = c
            logp += np.log(p) - np.log(max(best[i][1], 1e-9))
        return "".join(chars), float(logp)

    out = [variant(())]
    out += [variant((o,)) for o in options]
    out += [variant((a, b)) for a, b in itertools.combinations(options, 2) if a[0] != b[0]]
    return out


def read_line_with_lexicon(recogniser, lexicon: JapaneseLexicon, image: np.ndarray) -> tuple[str, float]:
    """The likeliest reading of a line given both the recogniser and the Japanese lexicon.

    Each candidate scores its log-probability under the recogniser minus its lattice cost
    (scaled by COST_PER_LOG_PROB). The confidence is the chosen reading's share of the
    candidates' total score, so two plausible words (斉藤/齊藤) leave it in doubt, times the
    square root of the recogniser's belief in its weakest chosen character: the lexicon only
    weighs the candidates it is shown, and when the true reading is not among them it would
    otherwise pick a real word (世業 for 営業) with full confidence. Measured on 100 generated
    faxes, this keeps the highest-scoring wrong reading at 0.86 instead of 0.99.
    """
    alternatives = with_lookalikes(recogniser.character_alternatives(image, JAPANESE_TEXT))
    if not alternatives:
        return "", 0.0
    scored = [(text, logp - lexicon.cost(text) / COST_PER_LOG_PROB) for text, logp in candidate_readings(alternatives)]
    top = max(score for _, score in scored)
    weights = {text: float(np.exp(score - top)) for text, score in scored}
    text = max(weights, key=weights.get)
    weakest = min(dict(alts).get(ch, 0.0) for alts, ch in zip(alternatives, text))
    return text, weights[text] / sum(weights.values()) * float(np.sqrt(weakest))


# The ink against the characters read: Japanese characters are about as wide as the writing is
# tall, so the writing's height H sets the scale. Set on the development font kiloji, seed 5101
# (190 lines: no right reading left ink wider than 0.29 H farther than 0.6 H from every character
# read, or read two characters closer than 0.46 H), checked on seed 5103; the evaluation
# populations were not used. On both (371 lines read right) one right reading is flagged, and of
# PP-OCR's own likeliest paths one character shorter 93% are, one character longer 90%.
INK_SPECK_AREA = 0.02  # components smaller than this many H² are fax speckle, not writing
UNREAD_INK_REACH = 0.6  # ink this far (in H) from every character read is ink nobody read
UNREAD_INK_WIDTH = 0.4  # a stretch of such ink this wide (in H) is a character missing
READ_TWICE_SPACING = 0.4  # two characters read closer than this (in H) are one glyph read twice
READ_TWICE_CROWDED = 0.6  # ...or closer than this where the ink shows fewer cells than characters read
# Character cells: runs of ink columns joined while the cell stays within this many H. On the
# development lines it counts 96% of lines exactly and the rest one off (a wide kanji in two
# parts, two narrow kana in one cell), so the count alone flags only when two off.
CELL_WIDTH = 1.15
COUNT_MISMATCH = 2
# Faint ink that the fax's binarisation broke into crumbs: most of the line is specks, the
# writing left is too little to count or read (心 for 山田 愛). Right readings of development
# lines keep at least 88% of their ink in writing-sized pieces.
BROKEN_INK_KEPT = 0.6


@dataclass(frozen=True)
class InkEvidence:
    """What the ink of one line says about a reading's length: the writing's height, the
    character cells the ink shows, the widest stretch of ink no read character covers (in
    heights), the closest two read characters (in heights), and the share of the ink that is
    writing rather than specks."""

    height: float
    cells: int
    unread_width: float
    closest_pair: float
    kept_share: float


def _writing(image: np.ndarray) -> tuple[np.ndarray, float]:
    """The line's ink without speckle (bool mask) and the height of its writing in pixels: the
    upper quartile of the ink's height over windows one line high, so that a slope or a low
    small kana does not count as height."""
    ink = (image < 128).astype(np.uint8)
    height = _window_height(ink)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= max(12.0, INK_SPECK_AREA * height * height)
    clean = keep[labels]
    return clean, (_window_height(clean.astype(np.uint8)) or height)


def _window_height(ink: np.ndarray) -> float:
    h, w = ink.shape
    extents = []
    for x0 in range(0, max(1, w - h + 1), max(1, h // 2)):
        ys = np.nonzero(ink[:, x0 : x0 + h].any(axis=1))[0]
        if len(ys):
            extents.append(ys[-1] - ys[0] + 1)
    return float(np.percentile(extents, 75)) if extents else 0.0


def _cells(clean: np.ndarray, height: float) -> list[tuple[int, int]]:
    xs = np.nonzero(clean.any(axis=0))[0]
    if not len(xs):
        return []
    cells: list[list[int]] = []
    for run in np.split(xs, np.nonzero(np.diff(xs) > 1)[0] + 1):
        if cells and run[-1] + 1 - cells[-1][0] <= CELL_WIDTH * height:
            cells[-1][1] = int(run[-1]) + 1
        else:
            cells.append([int(run[0]), int(run[-1]) + 1])
    return [(a, b) for a, b in cells]


def ink_cells(image: np.ndarray) -> list[tuple[int, int]]:
    """The character cells the ink of one line (dark on white) shows, as (x0, x1) columns: runs
    of ink columns, joined left to right while a cell stays within CELL_WIDTH writing heights (a
    kanji's parts and a kana's detached strokes join; two characters do not)."""
    return _cells(*_writing(image))


def ink_evidence(image: np.ndarray, positions: list[float]) -> InkEvidence:
    """The ink of one line (dark on white) against the x positions of the characters read on it."""
    clean, height = _writing(image)
    kept = float(clean.sum()) / max(1, int(np.count_nonzero(image < 128)))
    cells = len(_cells(clean, height))
    columns = np.nonzero(clean.any(axis=0))[0]
    xs = np.sort(np.asarray(positions, dtype=float))
    if height <= 0 or not len(columns) or not len(xs):
        return InkEvidence(height, cells, 0.0, float("inf"), kept)
    far = columns[np.min(np.abs(columns[:, None] - xs[None, :]), axis=1) > UNREAD_INK_REACH * height]
    widest = 0.0
    if len(far):
        for run in np.split(far, np.nonzero(np.diff(far) > 0.25 * height)[0] + 1):
            widest = max(widest, (run[-1] - run[0] + 1) / height)
    closest = float(np.diff(xs).min() / height) if len(xs) > 1 else float("inf")
    return InkEvidence(height, cells, float(widest), closest, kept)


def length_doubts(image: np.ndarray, positions: list[tuple[str, float]]) -> tuple[Reason, ...]:
    """Reasons to doubt a line's reading by its length, whatever the lexicon thinks of it: ink that
    no character read covers (a character dropped: のため read as のた); two characters read on one
    glyph (a character doubled); a count of character cells two away from the reading's; or ink so broken
    that its characters cannot be counted. The lexicon only swaps characters, never adds or drops
    one, so this holds for its reading as for the recogniser's."""
    written = [x for c, x in positions if c.strip()]
    if not written:
        return ()
    ev = ink_evidence(image, written)
    counts = {"ink": ev.cells, "read": len(written)}
    if ev.kept_share < BROKEN_INK_KEPT:
        return (Reason.of("text_ink_broken"),)
    out = []
    if ev.unread_width >= UNREAD_INK_WIDTH or ev.cells - len(written) >= COUNT_MISMATCH:
        out.append(Reason.of("text_ink_unread", **counts))
    crowded = READ_TWICE_CROWDED if ev.cells < len(written) else READ_TWICE_SPACING
    if ev.closest_pair < crowded or len(written) - ev.cells >= COUNT_MISMATCH:
        out.append(Reason.of("text_ink_read_twice", **counts))
    return tuple(out)


def read_text(aligned: AlignedPage, template: Template, spec: TextField, recogniser: TextRecogniser,
              lexicon: JapaneseLexicon | None = None) -> FieldReading:
    """Free text, NFKC-normalised; blank fields are None.

    With a ``lexicon`` each line is read as the likeliest real Japanese among the recogniser's
    per-character alternatives; otherwise as the recogniser's own best reading.
    """
    box = template.px(spec.box)
    mask, _ = added_ink(aligned, template, box)
    lines = _ink_lines(mask, spec.multiline)
    if not lines:
        return FieldReading(spec.key, None, 0.95, (), box)
    texts, confs, doubts = [], [], []
    for line in lines:
        image = _line_image(mask, line)
        if lexicon is not None:
            text, conf = read_line_with_lexicon(recogniser, lexicon, image)
        else:
            text, conf = recogniser.recognise(image, allowed=JAPANESE_TEXT)
        text = unicodedata.normalize("NFKC", text).strip()
        if text:
            texts.append(text)
            confs.append(conf)
            if recogniser.unread_mark_belief(image, JAPANESE_TEXT) >= UNREAD_MARK_DOUBT:
                doubts.append(Reason.of("text_char_missing"))
            doubts += length_doubts(image, recogniser.character_positions(image, JAPANESE_TEXT))
    if not texts:
        return FieldReading(spec.key, None, 0.3, (Reason.of("text_unread", spec.key),), box)
    value = "\n".join(texts) if spec.multiline else " ".join(texts)
    doubts += lexicon.doubts(value, spec.content) if lexicon is not None else ()
    return FieldReading(spec.key, value, float(min(confs)), tuple(d.naming(spec.key) for d in dict.fromkeys(doubts)), box)


def read_weekday(aligned: AlignedPage, template: Template, spec: WeekdayField, recogniser: TextRecogniser) -> FieldReading:
    """The weekday kanji as written (never corrected from the date)."""
    box = template.px(spec.box)
    mask, _ = added_ink(aligned, template, box, pad=2)
    lines = _ink_lines(mask, False)
    if not lines:
        return FieldReading(spec.key, None, 0.9, (), box)
    allowed = "".join(spec.allowed)
    text, conf = recogniser.recognise(_line_image(mask, lines[0], margin=10), allowed=allowed)
    if len(text) != 1 or text not in allowed:
        return FieldReading(spec.key, None, conf * 0.5, (Reason.of("weekday_unread", spec.key),), box)
    return FieldReading(spec.key, text, conf, (), box)
