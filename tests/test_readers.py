"""Field readers on real generated forms, aligned by the real pipeline stages."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

import samplegen
from intake.align import align_to_template
from intake.classify import classify_page
from intake.ingest import to_square_pixels
from intake.model import Page, SourceRef
from intake.pipeline import Pipeline
from intake.kinds import read_fields
from intake.readers import default_engines
from intake.readers.marks import read_circled_option, read_option_pair
from intake.reasons import Reason
from intake.template import Template

N_FORMS = 6


@pytest.fixture(scope="module")
def engines():
    return default_engines()


@pytest.fixture(scope="module")
def read_forms(template: Template, engines):
    """(truth, readings) for a handful of freshly generated, faxed and aligned forms."""
    out = []
    for i in range(N_FORMS):
        rng = np.random.default_rng(1000 + i)
        values = samplegen.random_values(rng)
        image = samplegen.make_form_image(values, rng, "test")
        faxed, dpi = samplegen.fax_channel(image, rng, "standard" if i % 2 else "fine", flip=bool(i % 3 == 0))
        square, sq_dpi = to_square_pixels(faxed, dpi)
        page = Page(square, sq_dpi, SourceRef(f"gen{i}", 1, "0" * 64), dpi)
        aligned = align_to_template(page, classify_page(page, [template]), template)
        received = dt.date.fromisoformat(values.truth["sent_date"])
        out.append((values.truth, read_fields(aligned, template, engines, received), aligned))
    return out


def _accuracy(read_forms, template, kinds):
    keys = [f.key for f in template.fields if f.kind in kinds]
    pairs = [(truth[k], readings[k]) for truth, readings, _ in read_forms for k in keys]
    right = sum(r.value == t for t, r in pairs)
    unflagged_wrong = sum(r.value != t and not r.review for t, r in pairs)
    return right / len(pairs), unflagged_wrong


def test_marks(read_forms, template):
    acc, unflagged = _accuracy(read_forms, template, {"option_pair", "circled_option", "stamp"})
    assert acc >= 0.99 and unflagged == 0  # measured: every mark right


def test_digits(read_forms, template):
    # A digit reading is flagged by what follows the readers (the record's evidence, calibration,
    # the rules), not by the readers' disagreement: score the readings as the pipeline decides them.
    pipeline = Pipeline()
    decided = [(truth, pipeline.decide(aligned, template, readings, dt.date.fromisoformat(truth["sent_date"])).fields, aligned)
               for truth, readings, aligned in read_forms]
    acc, unflagged = _accuracy(decided, template, {"comb_digits", "date", "time", "phone"})
    assert acc >= 0.96 and unflagged == 0  # measured: 88 of 90 right, both wrong ones flagged


def test_weekday(read_forms, template):
    acc, unflagged = _accuracy(read_forms, template, {"weekday"})
    assert acc >= 0.9 and unflagged == 0  # measured: all 12 right (one wrong would still pass)


def test_text_character_error_rate(read_forms, template):
    from bench.score import edit_distance, normalise_text

    edits = chars = 0
    for truth, readings, _ in read_forms:
        for f in template.fields:
            if f.kind == "text" and truth[f.key] is not None:
                want, got = normalise_text(truth[f.key]), normalise_text(readings[f.key].value) or ""
                edits += edit_distance(got, want)
                chars += len(want)
    assert edits / chars < 0.03  # measured: 0.010


def test_blank_form_reads_as_blank(template, official_pages, engines):
    page = official_pages[2]
    aligned = align_to_template(page, classify_page(page, [template]), template)
    readings = read_fields(aligned, template, engines)
    for key, r in readings.items():
        assert r.value in (None, False), key


def test_both_options_marked_is_null_and_flagged(template, read_forms):
    import cv2

    _, _, aligned = read_forms[0]
    spec = template.field("notify.before_stop.customer")
    img = aligned.image.copy()
    for option in spec.options:  # circle both words
        b = template.px(option.box)
        cv2.ellipse(img, ((b.x0 + b.x1) // 2, (b.y0 + b.y1) // 2), (b.width // 2 - 4, b.height // 2 - 4), 0, 0, 360, 0, 3)
    both = aligned.__class__(img, aligned.form, aligned.source, aligned.quality, aligned.homography, aligned.ok)
    reading = read_option_pair(both, template, spec)
    assert reading.value is None and reading.review


def test_a_mark_beside_a_damaged_printed_word_goes_to_review(template, read_forms):
    """A fax dropout that erases half of the printed フリー leaves nothing trustworthy to judge a mark by."""
    _, _, aligned = read_forms[1]
    spec = template.field("resume.free")
    img = aligned.image.copy()
    word = template.px(spec.text)
    img[word.y0 : word.y1, word.x0 : (word.x0 + word.x1) // 2] = 255  # the left half of the word is gone
    damaged = aligned.__class__(img, aligned.form, aligned.source, aligned.quality, aligned.homography, aligned.ok)
    reading = read_circled_option(damaged, template, spec)
    assert reading.reasons == (Reason.of("print_damaged", "resume.free"),)
    assert not read_circled_option(aligned, template, spec).reasons  # the intact page raises no such doubt


def _handwritten_line(chars: str, seed: int, scales: list[float] | None = None, gap: int = 8) -> np.ndarray:
    """A line written by one evaluation writer, each character at its own share of the height,
    set ``gap`` px apart on one baseline (dark ink on white, not yet softened)."""
    from samplegen import handwriting as hw

    rng = np.random.default_rng(seed)
    writer = hw.Writer.random(rng, "test")
    glyphs = [hw.char(c, 40 * s, writer, rng) for c, s in zip(chars, scales or [1] * len(chars))]
    line = np.full((70, sum(g.shape[1] for g in glyphs) + gap * len(glyphs) + 20), 255, np.uint8)
    x = 10
    for g in glyphs:
        y = 55 - g.shape[0]  # characters stand on one baseline
        line[y : y + g.shape[0], x : x + g.shape[1]][g > 0.5] = 0
        x += g.shape[1] + gap
    return line


def _written_line(chars: str, scales: list[float], seed: int) -> np.ndarray:
    """A handwritten line, softened as the text reader sees it."""
    import cv2

    return cv2.GaussianBlur(_handwritten_line(chars, seed, scales), (3, 3), 0)


def test_a_character_written_too_small_to_read_leaves_a_trace(engines):
    from intake.readers.text import JAPANESE_TEXT, UNREAD_MARK_DOUBT

    ocr = engines.text
    whole = [ocr.unread_mark_belief(_written_line("さくら", [1, 1, 1], s), JAPANESE_TEXT) for s in range(8)]
    small = [ocr.unread_mark_belief(_written_line("さくら", [1, 0.45, 1], s), JAPANESE_TEXT) for s in range(8)]
    assert max(whole) < UNREAD_MARK_DOUBT  # lines read in full raise no doubt
    # A tiny く is often dropped (さら, a word too); the recogniser's unexplained belief between
    # さ and ら says so, though not always strongly enough to flag.
    assert np.mean(small) > np.mean(whole) + 0.1


def _faxed_line(chars: str, seed: int, gap: int = 2, scale: float = 0.3) -> np.ndarray:
    """Characters by one evaluation writer, set ``gap`` px apart, sent through a coarse fax
    (small, half vertical resolution, binarised) and softened as the digit reader does."""
    import cv2

    line = _handwritten_line(chars, seed, gap=gap)
    h, w = line.shape
    sent = cv2.resize(line, (int(w * scale), int(h * scale * 0.5)), interpolation=cv2.INTER_AREA)
    sent = np.where(sent < 160, 0, 255).astype(np.uint8)
    received = cv2.resize(sent, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_NEAREST)
    return cv2.GaussianBlur(received, (3, 3), 0)


def test_eleven_read_as_one_is_read_as_eleven_given_the_digit_count(engines):
    from intake.readers.digits import MAX_COUNT_FIT_LOG_RATIO
    from intake.readers.number_decoding import DIGITS

    ocr = engines.digits_ocr
    collapsed = 0
    for seed in range(20):
        line = _faxed_line("11", seed)
        text, _ = ocr.character_distributions(line, DIGITS)
        two, _, log_ratio = ocr.distributions_of_length(line, DIGITS, 2)
        if text == "1":  # the two runs of 1 met with no blank between them
            collapsed += 1
            assert two == "11" and 0 < log_ratio <= MAX_COUNT_FIT_LOG_RATIO
        elif len(text) == 2:
            assert two == text and log_ratio == pytest.approx(0.0, abs=1e-6)
    assert collapsed >= 2  # the fax does make close 1s run together
