"""Reading a number in the light of what it may be: constrained decoding and the two-reader combination."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.readers.engines.ctc import best_path, best_path_of_length
from intake.readers.number_decoding import DIGITS, NumberReading, best_allowed, combine, fit_to_part
from intake.reasons import Reason


def _dist(best: int, p: float) -> np.ndarray:
    """A distribution over 0-9 with ``p`` on ``best`` and the rest spread evenly."""
    d = np.full(10, (1.0 - p) / 9)
    d[best] = p
    return d


distributions = st.lists(st.lists(st.floats(0.001, 1.0), min_size=10, max_size=10), min_size=1, max_size=3).map(
    lambda rows: [np.array(r) / sum(r) for r in rows])


@settings(max_examples=60, deadline=None)
@given(distributions, st.integers(0, 99))
def test_best_allowed_is_the_likeliest_possible_string(probs, modulus):
    def allows(text: str) -> bool:
        return int(text) % (modulus + 2) == 0

    found = best_allowed(probs, allows, top=10)
    candidates = ["".join(c) for c in itertools.product(DIGITS, repeat=len(probs)) if allows("".join(c))]
    assert found is not None
    text, share = found
    assert allows(text)
    score = {c: np.prod([probs[i][int(ch)] for i, ch in enumerate(c)]) for c in candidates}
    assert score[text] >= max(score.values()) - 1e-12
    assert abs(share - score[text] / sum(score.values())) < 1e-9


def test_a_possible_reading_is_kept_as_written():
    reading = NumberReading("12", 0.9, (), (_dist(1, 0.95), _dist(2, 0.9)))
    assert fit_to_part(reading, lambda t: 1 <= int(t) <= 12) is reading


def test_an_impossible_month_is_read_as_the_likeliest_possible_one():
    # 13 is no month; the second digit's runner-up is 0 (a 3 and an open 0 look alike).
    second = _dist(3, 0.7)
    second[0] = 0.25
    second /= second.sum()
    reading = NumberReading("13", 0.7, (), (_dist(1, 0.95), second))
    fitted = fit_to_part(reading, lambda t: 1 <= int(t) <= 12)
    assert fitted.text == "10" and not fitted.as_written


def test_readers_agreeing_only_after_rewriting_are_flagged():
    second = _dist(3, 0.9)
    second[2] = 0.05
    second /= second.sum()
    both_wrote_13 = NumberReading("13", 0.9, (), (_dist(1, 0.95), second))
    allows = lambda t: 1 <= int(t) <= 12  # noqa: E731
    result = combine(fit_to_part(both_wrote_13, allows), fit_to_part(both_wrote_13, allows), allows)
    assert result.text == "12"
    assert [r.code for r in result.reasons] == ["no_possible_value"], "a value neither reader saw as written must go to review"
    assert result.reasons[0].get("guess") == "12"


def test_a_reading_with_no_possible_value_nearby_is_left_as_written():
    # Nothing possible among each digit's likeliest guesses: the validator reports the impossible value.
    sure_13 = NumberReading("13", 0.9, (), (_dist(1, 0.95), _dist(3, 0.9)))
    assert fit_to_part(sure_13, lambda t: 1 <= int(t) <= 12).text == "13"


def test_one_reader_seeing_a_possible_year_settles_the_other():
    # The CNN reads 26; PP-OCR reads the open 6 as a 1 (2021, outside the year window) but gives 6 some weight.
    ocr_second = _dist(1, 0.8)
    ocr_second[6] = 0.15
    ocr_second /= ocr_second.sum()
    cnn = NumberReading("26", 0.95, (), (_dist(2, 0.99), _dist(6, 0.95)))
    ocr = NumberReading("21", 0.8, (), (_dist(2, 0.99), ocr_second))
    allows = lambda t: 25 <= int(t) <= 27  # noqa: E731
    result = combine(fit_to_part(cnn, allows), fit_to_part(ocr, allows), allows)
    assert result.text == "26" and not result.reasons


def test_a_disagreement_is_data_and_both_readings_stay_candidates():
    cnn = NumberReading("4295", 0.9, (), tuple(_dist(int(c), 0.9) for c in "4295"))
    ocr = NumberReading("4296", 0.9, (), tuple(_dist(int(c), 0.9) for c in "4296"))
    result = combine(cnn, ocr)
    assert not result.reasons, "a disagreement alone flags nothing: the posterior decides"
    assert result.disputed == ("4295", "4296")
    shares = dict(result.candidates)
    assert {"4295", "4296"} <= set(shares) and result.text in ("4295", "4296")
    assert result.confidence == shares[result.text] < 0.9
    assert sum(shares.values()) <= 1.0 + 1e-9


def test_readers_of_different_lengths_keep_both_strings_as_candidates():
    cnn = NumberReading("11", 0.9, (), (_dist(1, 0.9), _dist(1, 0.9)))
    ocr = NumberReading("1", 0.95, (), (_dist(1, 0.95),))
    result = combine(cnn, ocr)
    shares = dict(result.candidates)
    assert {"11", "1"} <= set(shares) and result.disputed == ("11", "1")
    assert sum(shares.values()) <= 1.0 + 1e-9
    only_two_digits = combine(cnn, ocr, allows=lambda t: len(t) == 2)
    assert "1" not in dict(only_two_digits.candidates) and only_two_digits.text == "11"


def test_year_window_follows_the_day_the_fax_arrived(template):
    date = next(f for f in template.fields if f.kind == "date")
    assert date.part_allows("year", "26", received_year=2026)
    assert date.part_allows("year", "27", received_year=2026)
    assert not date.part_allows("year", "21", received_year=2026)
    assert not date.part_allows("month", "13") and date.part_allows("month", "09")
    phone = next(f for f in template.fields if f.kind == "phone")
    assert phone.part_allows("area", "075") and not phone.part_allows("area", "875") and not phone.part_allows("area", "00")


def test_in_a_dispute_a_sure_cnn_outweighs_a_pp_ocr_that_is_sure_as_usual():
    # PP-OCR gives its guess 97% whether it is right or not; the CNN's 90% means more.
    cnn = NumberReading("7", 0.9, (), (_dist(7, 0.9),))
    ocr = NumberReading("1", 0.97, (), (_dist(1, 0.97),))
    result = combine(cnn, ocr)
    assert result.text == "7"
    assert result.disputed == ("7", "1")
    # PP-OCR's opinion still counts: against a CNN that is unsure, it carries the dispute.
    unsure_cnn = NumberReading("7", 0.5, (), (_dist(7, 0.5),))
    assert combine(unsure_cnn, ocr).text == "1"


def _brute_force_best_path(log_probs: np.ndarray, n: int) -> float | None:
    """The best log probability of any frame path that CTC-collapses to ``n`` characters."""
    best = None
    for path in itertools.product(range(log_probs.shape[1]), repeat=log_probs.shape[0]):
        count, previous = 0, 0
        for c in path:
            count += bool(c) and c != previous
            previous = c
        if count == n:
            score = float(sum(log_probs[t, c] for t, c in enumerate(path)))
            best = score if best is None else max(best, score)
    return best


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5), st.integers(2, 3), st.integers(0, 5), st.integers(0, 2**31))
def test_best_path_of_a_given_length_is_the_likeliest_such_path(frames, classes, n, seed):
    probs = np.random.default_rng(seed).random((frames, classes)) + 1e-3
    log_probs = np.log(probs / probs.sum(axis=1, keepdims=True))
    want = _brute_force_best_path(log_probs, n)
    found = best_path_of_length(log_probs, n)
    if want is None:
        assert found is None
    else:
        assert found is not None and len(found.labels) == n and abs(found.log_prob - want) < 1e-9
        assert len(found.peaks) == n
    greedy = best_path(log_probs)
    if len(greedy.labels) == n:
        assert found is not None and abs(found.log_prob - greedy.log_prob) < 1e-9


def test_a_digit_written_twice_without_a_gap_is_read_twice_given_the_count():
    # Frames: 1 1 1 1 with the blank never winning, so greedy decoding reads "1"; a blank
    # is likeliest in the middle, so the best path of two characters is "1 _ 1".
    p = np.array([[0.05, 0.95], [0.3, 0.7], [0.45, 0.55], [0.05, 0.95]])
    assert best_path(np.log(p)).labels == (1,)
    two = best_path_of_length(np.log(p), 2)
    assert two is not None and two.labels == (1, 1) and two.peaks == (0, 3)


def test_readers_that_agree_surely_reach_a_share_near_one_however_long_the_number():
    # The floor that keeps probabilities above zero must not cap a long number's share below
    # the review thresholds (they sit near 0.99997 for comb numbers).
    sure = tuple(_dist(int(c), 1 - 1e-9) for c in "123456")
    result = combine(NumberReading("123456", 1.0, (), sure), NumberReading("123456", 1.0, (), sure))
    assert result.text == "123456" and result.confidence > 0.999999
