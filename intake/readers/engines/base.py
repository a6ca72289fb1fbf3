"""The two small interfaces every recognition engine implements, so engines can be swapped and compared."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class TextRecogniser(Protocol):
    """Reads one line of text (dark ink on white) into (text, confidence in [0, 1])."""

    name: str

    def recognise(self, image: np.ndarray, allowed: str | None = None) -> tuple[str, float]: ...


class DigitClassifier(Protocol):
    """Classifies single handwritten glyph crops: an (N, 11) array of probabilities, index 10 = not a digit."""

    name: str

    def classify(self, glyphs: list[np.ndarray]) -> np.ndarray: ...
