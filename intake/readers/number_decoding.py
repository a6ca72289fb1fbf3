"""Decoding digits: from per-digit probabilities to one number, and from two readers to one reading.

A reader gives, for each digit it saw, a distribution over 0-9. ``fit_to_part`` reads
those as the likeliest value the part may take (a month of 1-12), and ``combine`` joins
two independent readers by the product of their opinions, flagging any disagreement.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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


def normalised(p: np.ndarray) -> np.ndarray:
    """A probability vector: ``p`` plus a tiny floor, summing to one."""
    p = np.asarray(p, dtype=np.float64) + 1e-6
    return p / p.sum()


def combine(cnn: NumberReading | None, ocr: NumberReading | None, allows: Allows | None = None) -> NumberReading:
    """One reading from two independent readers.

    Where both give per-digit probabilities for the same number of digits, the digits are
    weighed by the product of the two opinions (a product of experts) and the confidence is
    the share of that joint belief held by the reported string among all possible strings. If
    the readers' own best possible readings differ, or their lengths differ, the field is
    flagged (and the number shown is weighed with PP-OCR's opinion tempered). A reading
    neither reader saw as written (both guesses impossible) is flagged too.
    """
    if cnn is None and ocr is None:
        return NumberReading("", 0.0, (Reason.of("no_reader"),))
    if cnn is None or ocr is None:
        return _doubt_if_rewritten(cnn or ocr)
    if len(cnn.text) == len(ocr.text) and cnn.probs and ocr.probs:
        agree = cnn.text == ocr.text
        # PP-OCR's per-character probabilities are sharper than its accuracy on handwriting
        # warrants, so when the readers disagree its opinion is tempered before they are weighed.
        weight = 1.0 if agree else OCR_WEIGHT_IN_DISPUTE
        joint = tuple(normalised(a * b**weight) for a, b in zip(cnn.probs, ocr.probs))
        text, share = best_allowed(joint, allows) or best_allowed(joint, None)
        if agree:
            agreed = NumberReading(cnn.text, share if text == cnn.text else share * 0.5, cnn.reasons, joint,
                                   as_written=cnn.as_written or ocr.as_written)
            return _doubt_if_rewritten(agreed)
        return NumberReading(text, share * 0.5, (_disagree(cnn, ocr),), joint)
    if cnn.text == ocr.text:
        return _doubt_if_rewritten(NumberReading(cnn.text, 1.0 - (1.0 - cnn.confidence) * (1.0 - ocr.confidence), cnn.reasons,
                                                 as_written=cnn.as_written or ocr.as_written))
    # Different lengths: the reviewer is shown the likelier of the readings that may be right.
    possible = [r for r in (ocr, cnn) if allows is None or allows(r.text)] or [ocr, cnn]
    best = max(possible, key=lambda r: r.confidence)
    return NumberReading(best.text, min(cnn.confidence, ocr.confidence) * 0.5,
                         (_disagree(cnn, ocr),))


def _disagree(cnn: NumberReading, ocr: NumberReading) -> Reason:
    return Reason.of("readers_disagree", first=cnn.text or "∅", second=ocr.text or "∅")


def _doubt_if_rewritten(reading: NumberReading) -> NumberReading:
    if reading.as_written:
        return reading
    return NumberReading(reading.text, reading.confidence * 0.5,
                         reading.reasons + (Reason.of("no_possible_value", guess=reading.text),),
                         reading.probs, as_written=False)
