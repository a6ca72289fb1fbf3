"""Classify and align on real generated faxes: right pages found, any orientation, quality scored."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import samplegen
from intake.align import align_to_template, alignment_quality
from intake.classify import classify_page
from intake.ingest import to_square_pixels
from intake.model import Classification, Page, SourceRef

SRC = SourceRef("generated", 1, "0" * 64)


def _faxed(image, seed, resolution="standard", flip=False) -> Page:
    rng = np.random.default_rng(seed)
    img, dpi = samplegen.fax_channel(image, rng, resolution, flip)
    square, sq_dpi = to_square_pixels(img, dpi)
    return Page(square, sq_dpi, SRC, dpi)


@pytest.fixture(scope="module")
def filled_form():
    rng = np.random.default_rng(5)
    return samplegen.make_form_image(samplegen.random_values(rng), rng, "test")


@pytest.mark.parametrize("flip,resolution", [(False, "standard"), (True, "fine"), (True, "standard"), (False, "fine")])
def test_form_found_in_either_orientation(template, filled_form, flip, resolution):
    page = _faxed(filled_form, 1, resolution, flip)
    c = classify_page(page, [template])
    assert c.form == template.id
    assert c.rotation == (180 if flip else 0)
    aligned = align_to_template(page, c, template)
    assert aligned.ok and aligned.quality > 0.9
    assert aligned.image.shape == template.reference.shape


@pytest.mark.parametrize("index", [0, 1])
def test_privacy_and_notes_pages_are_not_forms(template, official_pages, index):
    page = _faxed(official_pages[index].image, 2, "fine", flip=bool(index))
    c = classify_page(page, [template])
    assert c.form is None and "does not look like" in c.reason


def test_blank_page_is_reported_as_blank(template):
    page = Page(np.full((2386, 1728), 255, np.uint8), 204.0, SRC)
    assert classify_page(page, [template]).reason == "blank page"


def test_random_photo_is_not_a_form(template):
    rng = np.random.default_rng(0)
    noise = (rng.random((600, 800)) * 255).astype(np.uint8)
    photo = np.kron(noise, np.ones((3, 3), np.uint8))
    assert classify_page(Page(photo, 200.0, SRC), [template]).form is None


def test_aligned_form_lines_land_on_the_template(template, filled_form):
    page = _faxed(filled_form, 3, "fine", flip=True)
    aligned = align_to_template(page, classify_page(page, [template]), template)
    # Ruled lines of the warped page sit within a pixel or two of the template's.
    assert alignment_quality(aligned.image, template) > 0.95


def test_a_wrong_homography_is_flagged_not_read(template, filled_form):
    page = _faxed(filled_form, 4)
    good = classify_page(page, [template])
    shifted = good.homography.copy()
    shifted[:2, 2] += (25, 40)  # a page registered a few millimetres off
    bad = Classification(good.form, good.reason, good.score, good.rotation, shifted)
    aligned = align_to_template(page, bad, template.model_copy(update={"preprocessing": []}))
    assert not aligned.ok
    assert [r.code for r in aligned.reasons] == ["alignment_failed"]
    assert aligned.reasons[0].get("quality") == round(aligned.quality, 3)


@pytest.mark.parametrize("turn,rotation", [(cv2.ROTATE_90_CLOCKWISE, 270), (cv2.ROTATE_90_COUNTERCLOCKWISE, 90)])
def test_sideways_pages_are_found_and_aligned(template, filled_form, turn, rotation):
    page = _faxed(filled_form, 6, "fine")
    sideways = Page(cv2.rotate(page.image, turn), page.dpi, SRC)
    c = classify_page(sideways, [template])
    assert c.form == template.id and c.rotation == rotation
    assert align_to_template(sideways, c, template).quality > 0.9


def test_a_faded_print_is_still_aligned(template, filled_form):
    """Light rules that the fax lost lower the line score; the lines that survive still sit on the form."""
    page = _faxed(filled_form, 5)
    horizontal = cv2.morphologyEx((page.image < 128).astype(np.uint8), cv2.MORPH_OPEN,
                                  cv2.getStructuringElement(cv2.MORPH_RECT, (60, 1)))
    lost = cv2.dilate(horizontal, np.ones((3, 3), np.uint8)) > 0
    lost[:, : int(lost.shape[1] * 0.4)] = False
    faded = page.image.copy()
    faded[lost] = 255  # the right 60% of every horizontal rule has faded away
    faded_page = page.__class__(faded, page.dpi, page.source, page.original_dpi)
    aligned = align_to_template(faded_page, classify_page(faded_page, [template]), template)
    assert aligned.quality < template.min_alignment_quality  # the line score alone would give up
    assert aligned.ok and not aligned.reasons
