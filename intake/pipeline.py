"""Compose the stages for one file: ingest -> classify -> align -> read -> weigh the record's
evidence -> calibrate -> validate -> check against the desk's register (when one is loaded).

This is the only module that knows the order of the stages; each stage is a
plain function over the typed objects in ``intake.model``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from intake.align import align_to_template
from intake.classify import classify_page
from intake.confidence import Calibration, apply_calibration, load_calibration
from intake.evidence import settle
from intake.ingest import load_pages
from intake.model import AlignedPage, FieldReading, Record, SourceRef
from intake.kinds import read_fields
from intake.reasons import Reason
from intake.readers import Engines, default_engines
from intake.register import RegisterSource, check_against_register
from intake.template import Template, load_templates
from intake.validate import validate_record

log = logging.getLogger("intake.pipeline")
OFF_PAGE_MARGIN_MM = 3.0


@dataclass(frozen=True)
class SkippedPage:
    """A page that yielded no record (privacy notice, cover sheet, blank page...)."""

    source: SourceRef
    reason: str


@dataclass
class FileResult:
    """Everything one input file gave: a record per form page, and the pages skipped."""

    path: str
    sha256: str
    records: list[Record] = field(default_factory=list)
    skipped: list[SkippedPage] = field(default_factory=list)
    seconds: float = 0.0
    pages: int = 0


class Pipeline:
    """The loaded templates and engines, reused across files (models load once)."""

    def __init__(self, templates: list[Template] | None = None, engines: Engines | None = None,
                 calibration: Calibration | None = None, register: RegisterSource | None = None):
        self.register = register
        self.templates = templates if templates is not None else load_templates()
        self._engines = engines
        self.calibration = calibration if calibration is not None else load_calibration()
        self._by_id = {t.id: t for t in self.templates}

    @property
    def engines(self) -> Engines:
        if self._engines is None:
            self._engines = default_engines()
        return self._engines

    def process_file(self, path: str | Path, received: dt.date | None = None) -> FileResult:
        """Read every page of one fax file. Raises an ``IntakeError`` if the file cannot be read at all.

        ``received`` is the day the fax arrived; by default the file's modification day.
        Handwritten two-digit years are read as near it (the template's year_window).
        """
        started = time.perf_counter()
        pages = load_pages(path)
        if received is None:
            received = dt.date.fromtimestamp(Path(path).stat().st_mtime)
        result = FileResult(str(path), pages[0].source.sha256, pages=len(pages))
        for page in pages:
            c = classify_page(page, self.templates)
            if c.form is None:
                result.skipped.append(SkippedPage(page.source, c.reason))
                continue
            template = self._by_id[c.form]
            aligned = align_to_template(page, c, template)
            result.records.append(self.read_aligned(aligned, template, received))
        result.seconds = time.perf_counter() - started
        log.info("file %s: %d page(s), %d record(s), %.2fs", result.sha256[:12], len(pages), len(result.records), result.seconds)
        return result

    def read_aligned(self, aligned: AlignedPage, template: Template, received: dt.date | None = None) -> Record:
        """Read and validate one aligned form page into a Record (flagged if alignment was poor)."""
        if not aligned.ok:
            # Never present readings from a page we could not register: every field is unknown.
            log.debug("page %d: alignment failed (quality %.3f); no field read", aligned.source.page, aligned.quality)
            fields = {f.key: FieldReading(f.key, None, 0.0, aligned.reasons) for f in template.fields}
            return Record(aligned.source, template.id, fields, aligned.reasons, aligned.quality)
        engines = self.engines
        log.debug("page %d: reading %d fields with %s (text), %s and %s (digits)", aligned.source.page,
                  len(template.fields), engines.text.name, engines.digits_cnn.name if engines.digits_cnn else None,
                  engines.digits_ocr.name if engines.digits_ocr else None)
        return self.decide(aligned, template, read_fields(aligned, template, engines, received), received)

    def decide(self, aligned: AlignedPage, template: Template, readings: dict[str, FieldReading],
               received: dt.date | None = None) -> Record:
        """From the readers' readings to the record: weigh the record's evidence (with the day the
        fax arrived), calibrate, validate."""
        readings = settle(readings, template, received)
        readings = apply_calibration(readings, template, self.calibration)
        readings, record_reasons = validate_record(template, readings)
        readings = flag_off_page(readings, aligned, template.working_dpi)
        log.debug("page %d: %d field(s) flagged; reasons %s", aligned.source.page, sum(r.review for r in readings.values()),
                  sorted({reason.code for r in readings.values() for reason in r.reasons} | {r.code for r in record_reasons}))
        crops = {k: r.box.crop(aligned.image).copy() for k, r in readings.items() if r.box is not None}
        record = Record(aligned.source, template.id, readings, record_reasons, aligned.quality, crops)
        if self.register is not None:  # check against what the desk knows
            record = check_against_register(record, self.register.current())
        return record


def flag_off_page(readings: dict[str, FieldReading], aligned: AlignedPage, dpi: float) -> dict[str, FieldReading]:
    """A field whose box, or the margin around it that handwriting spills into, reaches beyond the
    received page (cut at an edge) is flagged, whatever was read: a cut-off "31" reads as a sure "3"."""
    if aligned.off_page is None or not aligned.off_page.any():
        return readings
    m = int(round(OFF_PAGE_MARGIN_MM * dpi / 25.4))

    def reaches_off(box) -> bool:
        return bool(aligned.off_page[max(0, box.y0 - m): box.y1 + m, max(0, box.x0 - m): box.x1 + m].any())

    return {k: r.with_reason(Reason.of("off_page", k)) if r.box is not None and reaches_off(r.box) else r
            for k, r in readings.items()}


_DEFAULT: Pipeline | None = None


def process_file(path: str | Path, *, pipeline: Pipeline | None = None) -> FileResult:
    """Read one fax file with the default templates and engines (loaded once per process)."""
    global _DEFAULT
    if pipeline is None:
        if _DEFAULT is None:
            _DEFAULT = Pipeline()
        pipeline = _DEFAULT
    return pipeline.process_file(path)
