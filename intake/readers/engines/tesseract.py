"""Tesseract (Debian's tesseract-ocr with the jpn data) behind the same text-line interface."""

from __future__ import annotations

import numpy as np

from intake.errors import EngineError
from intake.readers.engines.base import BestReadingOnly


class TesseractTextRecogniser(BestReadingOnly):
    """One line of text -> (text, confidence) with Tesseract's LSTM engine (its best reading only)."""

    name = "tesseract"

    def __init__(self, lang: str = "jpn", psm: int = 7):
        try:
            import pytesseract

            langs = pytesseract.get_languages(config="")
        except Exception as exc:  # noqa: BLE001 - any failure means the binary is unusable
            raise EngineError(f"Tesseract is not installed or broken ({exc}); run: apt-get install tesseract-ocr tesseract-ocr-jpn") from None
        if lang.split("+")[0] not in langs:
            raise EngineError(f"Tesseract has no '{lang}' data; run: apt-get install tesseract-ocr-{lang.split('+')[0]}")
        self._tess = pytesseract
        self.lang = lang
        self.psm = psm

    def load(self) -> None:
        """Nothing to load: the constructor has checked the binary and its language data."""

    def recognise(self, image: np.ndarray, allowed: str | None = None, lang: str | None = None) -> tuple[str, float]:
        if image.size == 0:
            return "", 0.0
        config = f"--psm {self.psm} --oem 1"
        # Tesseract's whitelist is meant for short sets (digits, a few kanji); a
        # whole writing system is better left to the language model.
        if allowed and len(allowed) <= 100:
            config += f" -c tessedit_char_whitelist={allowed}"
        data = self._tess.image_to_data(image, lang=lang or self.lang, config=config, output_type=self._tess.Output.DICT)
        words = [(w, float(c)) for w, c in zip(data["text"], data["conf"]) if str(w).strip() and float(c) >= 0]
        if not words:
            return "", 0.0
        text = "".join(w for w, _ in words) if (lang or self.lang).startswith("jpn") else " ".join(w for w, _ in words)
        return text, float(np.mean([c for _, c in words])) / 100.0
