"""Read every field of an aligned form page, dispatching on the field's kind in the template."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from intake.model import AlignedPage, FieldReading
from intake.reasons import Reason
from intake.readers.digits import read_comb_digits, read_parts
from intake.readers.number_decoding import NumberReading
from intake.readers.engines.base import DigitClassifier, TextRecogniser
from intake.readers.language import JapaneseLexicon
from intake.readers.marks import read_circled_option, read_option_pair, read_stamp
from intake.readers.text import read_text, read_weekday
from intake.template import PartsField, Template

log = logging.getLogger("intake.readers")


@dataclass
class Engines:
    """The recognisers a run uses. The product runs both digit readers; the benchmark may set
    one to None to measure the other alone."""

    text: TextRecogniser
    digits_ocr: TextRecogniser | None = None
    digits_cnn: DigitClassifier | None = None
    lexicon: JapaneseLexicon | None = None


def default_engines() -> Engines:
    """PP-OCR for text and as the second digit reader, the bundled CNN as the first, loaded now.

    Raises EngineError if either model is missing or broken: the product never falls back to one
    digit reader, since a field is trusted only where two independent readers agree.
    """
    from intake.readers.engines.onnx_digits import OnnxDigitClassifier
    from intake.readers.engines.ppocr import PaddleTextRecogniser

    ppocr = PaddleTextRecogniser()
    cnn = OnnxDigitClassifier()
    for engine in (ppocr, cnn):
        engine.load()
        log.debug("engine %s loaded", engine.name)
    return Engines(text=ppocr, digits_ocr=ppocr, digits_cnn=cnn, lexicon=JapaneseLexicon())


def _format_parts(spec: PartsField, parts: dict[str, NumberReading | None]) -> tuple[str | None, float, tuple[Reason, ...]]:
    """Join the parts of a date, time or phone into the contract's string format."""
    present = {k: v for k, v in parts.items() if v is not None and v.text}
    if not present:
        return None, 0.95, ()
    reasons = tuple(dict.fromkeys(r.naming(spec.key) for v in present.values() for r in v.reasons))
    confidence = min(v.confidence for v in present.values())
    missing = [k for k in spec.parts if k not in present]
    if missing:
        return None, confidence * 0.5, reasons + (Reason.of("part_missing", spec.key, parts=",".join(missing)),)
    for name, v in present.items():
        lo, hi = spec.digits[name]
        if not lo <= len(v.text) <= hi:
            return None, confidence * 0.5, reasons + (Reason.of("digit_count", spec.key, part=name, count=len(v.text),
                                                                  expected=f"{lo}–{hi}" if lo != hi else lo),)
    t = {k: v.text for k, v in present.items()}
    if spec.kind == "date":
        value = f"{spec.year_prefix}{t['year']}-{int(t['month']):02d}-{int(t['day']):02d}"
    elif spec.kind == "time":
        value = f"{int(t['hour']):02d}:{int(t['minute']):02d}"
    else:
        value = f"{t['area']}-{t['local']}-{t['line']}"
    return value, confidence, reasons


def read_fields(aligned: AlignedPage, template: Template, engines: Engines,
                received: dt.date | None = None) -> dict[str, FieldReading]:
    """One FieldReading per template field, in template order.

    ``received`` is the day the fax arrived (default today): dates are read as near it.
    """
    received_year = (received or dt.date.today()).year
    out: dict[str, FieldReading] = {}
    for spec in template.fields:
        kind = spec.kind
        if kind == "comb_digits":
            reading = read_comb_digits(aligned, template, spec, engines.digits_cnn, engines.digits_ocr)
        elif kind in ("date", "time", "phone"):
            parts, box = read_parts(aligned, template, spec, engines.digits_cnn, engines.digits_ocr, received_year)
            value, conf, reasons = _format_parts(spec, parts)
            reading = FieldReading(spec.key, value, conf, reasons, box)
        elif kind == "weekday":
            reading = read_weekday(aligned, template, spec, engines.text)
        elif kind == "option_pair":
            reading = read_option_pair(aligned, template, spec)
        elif kind == "circled_option":
            reading = read_circled_option(aligned, template, spec)
        elif kind == "stamp":
            reading = read_stamp(aligned, template, spec)
        else:
            reading = read_text(aligned, template, spec, engines.text, engines.lexicon)
        out[spec.key] = reading
    return out
