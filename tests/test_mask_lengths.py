"""The ink helpers' pixel lengths come from the template's working dpi, in one place (MaskLengths.of,
through Template.scaled): measured at 200 dpi, the same there, scaled for a template worked at 300 dpi."""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from intake.readers.ink import AT_TUNED_DPI, MaskLengths, remove_streaks
from test_second_form import slip_at


def test_the_real_form_at_200_dpi_uses_the_lengths_as_measured(template):
    assert template.working_dpi == 200
    assert MaskLengths.of(template) == AT_TUNED_DPI


def test_a_template_at_300_dpi_scales_every_length_and_area(tmp_path):
    sharper = slip_at(tmp_path, working_dpi=300)
    lengths = MaskLengths.of(sharper)
    assert lengths.streak_max_width == 8 and lengths.streak_max_thickness == 4.5
    assert lengths.substantial_area == 90 and lengths.min_piece_area == 14 and lengths.pen_on_print_widening == (2, 3)
    for f in fields(MaskLengths):
        tuned, here = getattr(AT_TUNED_DPI, f.name), getattr(lengths, f.name)
        assert np.all(np.asarray(here) > np.asarray(tuned)), f.name

    # A 2.7-px scanner streak at 200 dpi is 4 px wide at 300 dpi: a streak there, a pen stroke at 200 dpi.
    box = np.zeros((150, 90), np.uint8)
    box[:, 40:44] = 1
    assert (remove_streaks(box) == box).all()
    assert not remove_streaks(box, lengths=lengths).any()
