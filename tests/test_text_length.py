"""A reading's length against the ink: text lines of real generated, faxed and aligned forms."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import aligned_generated_form
from intake.readers import default_engines
from intake.readers.engines.ctc import best_path, best_path_of_length
from intake.readers.ink import added_ink
from intake.readers.text import (
    JAPANESE_TEXT,
    UNREAD_INK_WIDTH,
    _ink_lines,
    _line_image,
    ink_cells,
    ink_evidence,
    length_doubts,
)
from intake.template import Template

N_FORMS = 6


@pytest.fixture(scope="module")
def recogniser():
    return default_engines().text


@pytest.fixture(scope="module")
def text_lines(template: Template):
    """(truth without spaces, line image) for every one-line text field written on a few forms."""
    out = []
    for i in range(N_FORMS):
        values, aligned = aligned_generated_form(template, 4100 + i, "standard" if i % 2 else "fine")
        for spec in template.fields:
            truth = values.truth.get(spec.key)
            if spec.kind != "text" or spec.multiline or not truth:
                continue
            mask, _ = added_ink(aligned, template, template.px(spec.box))
            lines = _ink_lines(mask, False)
            out.append(("".join(truth.split()), _line_image(mask, lines[0])))
    return out


@pytest.fixture(scope="module")
def read_right(text_lines, recogniser):
    """The lines the recogniser reads right, with where it read each character."""
    out = []
    for truth, image in text_lines:
        positions = recogniser.character_positions(image, JAPANESE_TEXT)
        if "".join(c for c, _ in positions if c.strip()) == truth:
            out.append((truth, image, positions))
    assert len(out) >= 0.8 * len(text_lines)
    return out


def test_the_ink_counts_the_characters_of_fields_of_several_lengths(text_lines):
    lengths = {len(t) for t, _ in text_lines}
    assert len(lengths) >= 4  # names, departments and companies: short and long lines
    off = [len(ink_cells(image)) - len(truth) for truth, image in text_lines]
    assert sum(d == 0 for d in off) >= 0.9 * len(off)
    assert max(abs(d) for d in off) <= 1


def test_a_right_reading_raises_no_length_doubt(read_right):
    for truth, image, positions in read_right:
        assert length_doubts(image, positions) == (), truth


def _codes(image, positions) -> set[str]:
    return {r.code for r in length_doubts(image, positions)}


def test_a_dropped_last_character_is_flagged(read_right):
    # のため read as のた: the last glyph's ink has no character read over it.
    lines = [(t, im, pos) for t, im, pos in read_right if len(pos) >= 2]
    flagged = [("text_ink_unread" in _codes(im, pos[:-1])) for _, im, pos in lines]
    assert all(flagged)


def test_a_character_dropped_anywhere_is_mostly_flagged(read_right):
    flagged = []
    for _, image, positions in read_right:
        for k in range(len(positions)):
            if positions[k][0].strip():
                flagged.append("text_ink_unread" in _codes(image, positions[:k] + positions[k + 1 :]))
    assert np.mean(flagged) >= 0.75


def test_a_glyph_read_twice_is_flagged(read_right, recogniser):
    # CTC reads one glyph twice when a blank frame splits its run: the second character one frame on.
    flagged = []
    for _, image, positions in read_right:
        frame_px = image.shape[1] / recogniser.probabilities(image).shape[0]
        for k, (c, x) in enumerate(positions):
            doubled = positions[: k + 1] + [(c, x + frame_px)] + positions[k + 1 :]
            flagged.append("text_ink_read_twice" in _codes(image, doubled))
    assert all(flagged)


def test_the_recognisers_own_reading_one_character_short_is_flagged(read_right, recogniser):
    """The likeliest path of one character fewer through the recogniser's own frames (what a
    confident drop looks like) leaves ink unread on most lines; the right reading on none."""
    allowed = recogniser._allowed_ids(JAPANESE_TEXT)
    flagged = []
    for _, image, _ in read_right:
        probs = recogniser.probabilities(image)[:, allowed]
        log_probs = np.log(np.maximum(probs / probs.sum(axis=1, keepdims=True), 1e-12))
        top = np.unique(np.concatenate([[0], np.argsort(log_probs, axis=1)[:, -4:].ravel()]))  # blank + likely
        log_probs = log_probs[:, top]
        frame_px = image.shape[1] / len(log_probs)
        n = len(best_path(log_probs).labels)
        short = best_path_of_length(log_probs, n - 1)
        if short is None or n < 2:
            continue
        flagged.append(ink_evidence(image, [(t + 0.5) * frame_px for t in short.peaks]).unread_width >= UNREAD_INK_WIDTH)
    assert np.mean(flagged) >= 0.7


def test_ink_the_fax_broke_into_crumbs_is_flagged_as_uncountable(read_right):
    # Faint ink that binarisation breaks up: the same lines with only 2x2 crumbs of each stroke left.
    for truth, image, positions in read_right:
        ys, xs = np.indices(image.shape)
        crumbs = np.where((image < 128) & (ys % 4 < 2) & (xs % 4 < 2), 0, 255).astype(np.uint8)
        assert _codes(crumbs, positions) == {"text_ink_broken"}, truth
