"""Readers: the ink, digit, mark and text readers each field kind calls (``intake.kinds``), and the
recognition engines they use."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from intake.readers.engines.base import DigitClassifier, TextRecogniser
from intake.readers.language import JapaneseLexicon

log = logging.getLogger("intake.readers")


@dataclass
class Engines:
    """The recognisers a run uses. The product runs both digit readers; the benchmark may set
    one to None to measure the other alone."""

    text: TextRecogniser
    digits_ocr: TextRecogniser | None = None
    digits_cnn: DigitClassifier | None = None
    lexicon: JapaneseLexicon | None = None
    print_digits: DigitClassifier | None = None  # reads digits typed in print (intake.readers.typed)


def default_engines() -> Engines:
    """PP-OCR for text and as the second digit reader, the bundled CNN as the first, loaded now.

    Raises EngineError if either model is missing or broken: the product never falls back to one
    digit reader, since a field is trusted only where two independent readers agree.
    """
    from intake.readers.engines.onnx_digits import OnnxDigitClassifier
    from intake.readers.engines.onnx_session import bundled_model
    from intake.readers.engines.ppocr import PaddleTextRecogniser

    ppocr = PaddleTextRecogniser()
    cnn = OnnxDigitClassifier()
    print_cnn = OnnxDigitClassifier(bundled_model("print_digits.onnx"), what="print-digit model",
                                    rebuild="rebuild it with `python training/train_print_digits.py` (needs the `train` extra) "
                                            "or reinstall the package")
    for engine in (ppocr, cnn, print_cnn):
        engine.load()
        log.debug("engine %s loaded", engine.name)
    return Engines(text=ppocr, digits_ocr=ppocr, digits_cnn=cnn, lexicon=JapaneseLexicon(), print_digits=print_cnn)
