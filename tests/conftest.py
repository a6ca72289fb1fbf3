"""Shared fixtures: the real template, the official PDF, and pages rendered from it."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FORM_PDF = REPO / "form_templates" / "teledome_stop_request" / "teledome_stop_request.pdf"

CONTRACT_KEYS = (
    ["sent_date", "contractor_name"]
    + [f"targets.{i}.{k}" for i in range(4) for k in ("teledome_number", "plan_number")]
    + [f"{w}.{k}" for w in ("stop", "resume") for k in ("date", "weekday", "time", "free")]
    + [f"notify.{w}.{k}" for w in ("before_stop", "after_stop", "before_resume", "after_resume") for k in ("customer", "sales")]
    + [f"{w}.{k}" for w in ("customer_contact", "ntt_contact") for k in ("department", "name", "phone")]
    + ["remarks", "office_use.received", "office_use.stopped", "office_use.started"]
)


@pytest.fixture(scope="session")
def template():
    from intake.template import load_templates

    return load_templates()[0]


@pytest.fixture(scope="session")
def official_pages():
    """The three pages of the official PDF as ingested Pages (privacy, notes, form)."""
    from intake.ingest import load_pages

    return load_pages(FORM_PDF)


@pytest.fixture(scope="session")
def digit_cnn():
    """The bundled handwritten-digit CNN (skips where the model file is absent)."""
    from intake.errors import EngineError
    from intake.readers.engines.onnx_digits import OnnxDigitClassifier

    try:
        return OnnxDigitClassifier()
    except EngineError as exc:
        pytest.skip(f"bundled digit model missing: {exc}")


def aligned_generated_form(template, seed: int, resolution: str):
    """(values, aligned page) for a form freshly generated with the evaluation writers, sent through
    the fax channel and aligned by the real classify and align stages."""
    import numpy as np

    import samplegen
    from intake.align import align_to_template
    from intake.classify import classify_page
    from intake.ingest import to_square_pixels
    from intake.model import Page, SourceRef

    rng = np.random.default_rng(seed)
    values = samplegen.random_values(rng)
    image = samplegen.make_form_image(values, rng, "test")
    faxed, dpi = samplegen.fax_channel(image, rng, resolution, flip=False)
    square, sq_dpi = to_square_pixels(faxed, dpi)
    page = Page(square, sq_dpi, SourceRef(f"gen{seed}", 1, "0" * 64), dpi)
    return values, align_to_template(page, classify_page(page, [template]), template)
