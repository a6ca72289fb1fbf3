"""The two interfaces every recognition engine implements, so engines can be swapped and compared.

They say everything the readers ask of an engine: no reader probes an engine for what it can
do. An engine that knows only its best reading (Tesseract) answers the richer questions from
that reading (``BestReadingOnly``), and says so in its answers.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class TextRecogniser(Protocol):
    """Reads one line of text (dark ink on white); ``allowed`` limits the characters it may read."""

    name: str

    def load(self) -> None:
        """Load the model now; raises EngineError if it is missing or broken."""

    def recognise(self, image: np.ndarray, allowed: str | None = None) -> tuple[str, float]:
        """The line's text and a confidence in [0, 1]."""

    def character_alternatives(self, image: np.ndarray, allowed: str, top: int = 6) -> list[list[tuple[str, float]]]:
        """For each character read, its likeliest readings with their share of belief, best first."""

    def character_distributions(self, image: np.ndarray, allowed: str) -> tuple[str, list[np.ndarray]]:
        """The reading and, per character, its probabilities over ``allowed``."""

    def distributions_of_length(self, image: np.ndarray, allowed: str, n: int) -> tuple[str, list[np.ndarray], float] | None:
        """The likeliest reading of exactly ``n`` characters (as ``character_distributions``) and the
        log of how much likelier the engine's own reading is; None if it cannot read ``n``."""

    def unread_mark_belief(self, image: np.ndarray, allowed: str) -> float:
        """How sure the engine is that a character it did not read is written, in [0, 1]."""

    def character_positions(self, image: np.ndarray, allowed: str) -> list[tuple[str, float]]:
        """Each character read and its x position in the image (pixels); empty if the engine cannot tell."""


class DigitClassifier(Protocol):
    """Classifies single handwritten glyph crops: an (N, 11) array of probabilities, index 10 = not a digit."""

    name: str

    def load(self) -> None:
        """Load the model now; raises EngineError if it is missing or broken."""

    def classify(self, glyphs: list[np.ndarray]) -> np.ndarray: ...


class BestReadingOnly:
    """The richer questions answered from an engine's best reading alone, for engines that give no
    per-character probabilities: one alternative per character, the line's confidence on each
    character read (the rest spread evenly), no reading of another length, no unread mark seen, no
    character positions."""

    def recognise(self, image: np.ndarray, allowed: str | None = None) -> tuple[str, float]:
        raise NotImplementedError

    def character_alternatives(self, image: np.ndarray, allowed: str, top: int = 6) -> list[list[tuple[str, float]]]:
        text, conf = self.recognise(image, allowed)
        return [[(c, conf)] for c in text]

    def character_distributions(self, image: np.ndarray, allowed: str) -> tuple[str, list[np.ndarray]]:
        text, conf = self.recognise(image, allowed)
        chars = list(dict.fromkeys(allowed))
        out = []
        for c in text:
            p = np.full(len(chars), (1.0 - conf) / max(1, len(chars) - 1))
            if c in chars:
                p[chars.index(c)] = conf
            out.append(p)
        return text, out

    def distributions_of_length(self, image: np.ndarray, allowed: str, n: int) -> tuple[str, list[np.ndarray], float] | None:
        return None

    def unread_mark_belief(self, image: np.ndarray, allowed: str) -> float:
        return 0.0

    def character_positions(self, image: np.ndarray, allowed: str) -> list[tuple[str, float]]:
        return []
