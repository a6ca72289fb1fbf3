"""Decoding digits: from per-digit probabilities to one number, and from two readers to one reading.

A reader gives, for each digit it saw, a distribution over 0-9. ``fit_to_part`` reads
those as the likeliest value the part may take (a month of 1-12), and ``combine`` joins
two independent readers by the product of their opinions into a distribution over candidate
strings. A disagreement is kept as data (``disputed``), not as a flag: whether the reading
needs a person is decided later, from the posterior over the candidates once the record's
own evidence is weighed in (``intake.evidence``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from intake.reasons import Reason

DIGITS = "0123456789"
# Where the readers disagree, PP-OCR's probabilities are raised to this power before the two
# are weighed. Measured on 220 development faxes, the number shown to the reviewer is then
# right in 8 more of 3,300 digit fields (0.5-0.75 alike).
OCR_WEIGHT_IN_DISPUTE = 0.5


@dataclass(frozen=True)
class NumberReading:
    """A string of digits with its confidence, any reason to doubt it, and per-digit probabilities.

    ``reasons`` name no field yet: the field's reader attaches them to its key.

    ``as_written`` is False when the reader's own best guess was not a possible value of the
    part (a month of 13) and ``text`` is the most likely possible reading instead.
    """

    text: str
    confidence: float
    reasons: tuple[Reason, ...] = ()
    probs: tuple[np.ndarray, ...] = ()
    as_written: bool = True
    # Possible strings with their share of the readers' joint belief, likeliest first; the
    # share not listed (1 - sum) is belief in strings too unlikely to enumerate.
    candidates: tuple[tuple[str, float], ...] = ()
    # The two readers' own readings where they differ (CNN's first), else None.
    disputed: tuple[str, str] | None = None


Allows = Callable[[str], bool]


def best_allowed(probs: Sequence[np.ndarray], allows: Allows | None, top: int = 4) -> tuple[str, float] | None:
    """The most probable digit string that ``allows`` accepts, and its share of all accepted strings.

    The digits are taken as independent (each ``probs[i]`` a distribution over 0-9); only the
    ``top`` likeliest digits of each position are considered, which keeps the search small.
    """
    if allows is None:
        text = "".join(DIGITS[int(np.argmax(p))] for p in probs)
        return text, float(np.prod([p.max() for p in probs]))
    choices = [np.argsort(p)[::-1][:top] for p in probs]
    best, best_p, total = None, 0.0, 0.0
    for combo in itertools.product(*choices):
        text = "".join(DIGITS[int(d)] for d in combo)
        if not allows(text):
            continue
        p = float(np.prod([probs[i][d] for i, d in enumerate(combo)]))
        total += p
        if p > best_p:
            best, best_p = text, p
    if best is None or total <= 0:
        return None
    return best, best_p / total


def likeliest(probs: Sequence[np.ndarray], floor: float = 0.01, top: int = 3) -> list[tuple[str, float]]:
    """Every digit string holding at least ``floor`` of the belief (digits independent), likeliest first."""
    choices = [np.argsort(p)[::-1][:top] for p in probs]
    found = []
    for combo in itertools.product(*choices):
        p = float(np.prod([probs[i][d] for i, d in enumerate(combo)]))
        if p >= floor:
            found.append(("".join(DIGITS[int(d)] for d in combo), p))
    return sorted(found, key=lambda t: -t[1])


def fit_to_part(reading: NumberReading | None, allows: Allows | None) -> NumberReading | None:
    """The reader's most likely possible value: its own guess if possible, else the best that is."""
    if reading is None or allows is None or not reading.text or allows(reading.text) or not reading.probs:
        return reading
    found = best_allowed(reading.probs, allows)
    if found is None:
        return reading
    text, share = found
    return NumberReading(text, share, reading.reasons, reading.probs, as_written=False)


# Added to every digit's probability so that none is zero. It must stay far below the readers'
# own doubt: a floor of 1e-6 capped a six-digit number's share at 0.99994, above which no
# reading could rise however sure both readers were, so no review threshold could pass one.
PROBABILITY_FLOOR = 1e-12


def normalised(p: np.ndarray) -> np.ndarray:
    """A probability vector: ``p`` plus a tiny floor, summing to one."""
    p = np.asarray(p, dtype=np.float64) + PROBABILITY_FLOOR
    return p / p.sum()


# Candidate strings are enumerated from each position's likeliest digits down to this share of
# the belief; what is not enumerated stays in the distribution as unlisted mass.
CANDIDATE_FLOOR = 1e-4
CANDIDATE_TOP_DIGITS = 3
MAX_CANDIDATES = 12


def candidates_of(probs: Sequence[np.ndarray], allows: Allows | None = None) -> tuple[tuple[str, float], ...]:
    """The possible strings of independent digit distributions, with their posterior share.

    Strings ``allows`` refuses get no share (a hard constraint). The share is relative to the
    possible strings listed plus every string too unlikely to list (counted as possible, the
    cautious side), so the listed shares sum to at most one.
    """
    found = likeliest(probs, floor=CANDIDATE_FLOOR, top=CANDIDATE_TOP_DIGITS)
    listed = sum(p for _, p in found)
    possible = [(t, p) for t, p in found if allows is None or allows(t)]
    total = sum(p for _, p in possible) + max(0.0, 1.0 - listed)
    if total <= 0:
        return ()
    return tuple((t, p / total) for t, p in possible[:MAX_CANDIDATES])


def _reader_candidates(reading: NumberReading, allows: Allows | None) -> tuple[tuple[str, float], ...]:
    if reading.probs:
        return candidates_of(reading.probs, allows)
    if reading.text and (allows is None or allows(reading.text)):
        return ((reading.text, float(reading.confidence)),)
    return ()


def mixed(*lists: tuple[tuple[str, float], ...]) -> tuple[tuple[str, float], ...]:
    """An equal-weight mixture of candidate distributions (readers whose strings cannot be aligned)."""
    lists = tuple(c for c in lists if c)
    if not lists:
        return ()
    share: dict[str, float] = {}
    for cands in lists:
        for t, p in cands:
            share[t] = share.get(t, 0.0) + p / len(lists)
    return tuple(sorted(share.items(), key=lambda tp: -tp[1]))[:MAX_CANDIDATES]


def combine(cnn: NumberReading | None, ocr: NumberReading | None, allows: Allows | None = None) -> NumberReading:
    """One reading from two independent readers, with its distribution over candidate strings.

    Where both give per-digit probabilities for the same number of digits, the digits are
    weighed by the product of the two opinions (a product of experts; PP-OCR's opinion
    tempered where the readers' best readings differ). Where their lengths differ, both
    readers' strings stay candidates, each reader's belief given equal weight. The reading's
    text is the likeliest candidate and its confidence that candidate's share. A disagreement
    is recorded in ``disputed``; it does not flag the reading by itself. A reading neither
    reader saw as written (both guesses impossible) is flagged.
    """
    if cnn is None and ocr is None:
        return NumberReading("", 0.0, (Reason.of("no_reader"),))
    if cnn is None or ocr is None:
        one = cnn or ocr
        return _doubt_if_rewritten(_with_candidates(one, _reader_candidates(one, allows), None))
    disputed = None if cnn.text == ocr.text else (cnn.text or "∅", ocr.text or "∅")
    as_written = cnn.as_written or ocr.as_written
    if len(cnn.text) == len(ocr.text) and cnn.probs and ocr.probs:
        # PP-OCR's per-character probabilities are sharper than its accuracy on handwriting
        # warrants, so when the readers disagree its opinion is tempered before they are weighed.
        weight = 1.0 if disputed is None else OCR_WEIGHT_IN_DISPUTE
        joint = tuple(normalised(a * b**weight) for a, b in zip(cnn.probs, ocr.probs))
        reading = NumberReading(cnn.text, 0.0, cnn.reasons, joint, as_written=as_written, disputed=disputed)
        return _doubt_if_rewritten(_with_candidates(reading, candidates_of(joint, allows), (cnn.text, ocr.text)))
    # Different lengths (or a reader without per-digit belief): both readers' strings stay candidates.
    cands = mixed(_reader_candidates(cnn, allows), _reader_candidates(ocr, allows))
    reading = NumberReading(cnn.text, 0.0, cnn.reasons, as_written=as_written, disputed=disputed)
    return _doubt_if_rewritten(_with_candidates(reading, cands, (cnn.text, ocr.text)))


def _with_candidates(reading: NumberReading, cands: tuple[tuple[str, float], ...],
                     fallback: tuple[str, ...] | None) -> NumberReading:
    """The reading shown as its likeliest candidate, its confidence that candidate's share."""
    if cands:
        return replace(reading, text=cands[0][0], confidence=cands[0][1], candidates=cands)
    # No possible candidate: show what was read (the validator reports it), with no confidence.
    text = reading.text or next((t for t in (fallback or ()) if t), "")
    return replace(reading, text=text, confidence=0.0, candidates=())


def _doubt_if_rewritten(reading: NumberReading) -> NumberReading:
    if reading.as_written:
        return reading
    return replace(reading, confidence=reading.confidence * 0.5,
                   reasons=reading.reasons + (Reason.of("no_possible_value", guess=reading.text),))
