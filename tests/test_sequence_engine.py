"""The bundled CRNN number reader on real generated faxes, and what it does without its model.

The faxes are drawn by the evaluation writers (held-out MNIST, fonts, KanjiVG), whom
the model never saw; the numbers are cut by the product's own reader code.
"""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from conftest import aligned_generated_form
from intake.errors import EngineError
from intake.readers.digits import read_comb_digits
from intake.readers.engines.onnx_sequence import OnnxSequenceReader, prepare_line
from intake.readers.number_decoding import DIGITS

N_FORMS = 4


class LineRecorder:
    """Stands where the cross-check engine stands and keeps the line images it is shown."""

    name = "recorder"

    def __init__(self):
        self.lines: list[np.ndarray] = []

    def recognise(self, image, allowed=None):
        self.lines.append(image.copy())
        return "", 0.0

    def character_distributions(self, image, allowed):
        self.lines.append(image.copy())
        return "", []


@pytest.fixture(scope="module")
def reader():
    try:
        return OnnxSequenceReader()
    except EngineError as exc:
        pytest.skip(f"bundled sequence model missing: {exc}")


@pytest.fixture(scope="module")
def comb_numbers(template):
    """(aligned page, comb field, the digits written there, the line image a cross-check is shown)."""
    out = []
    for i in range(N_FORMS):
        values, aligned = aligned_generated_form(template, 4200 + i, "standard" if i % 2 else "fine")
        for spec in template.fields:
            value = values.truth.get(spec.key)
            if spec.kind != "comb_digits" or not value:
                continue
            recorder = LineRecorder()
            read_comb_digits(aligned, template, spec, None, recorder)
            if recorder.lines:
                out.append((aligned, spec, re.sub(r"\D", "", value)[-len(spec.cells):], recorder.lines[0]))
    assert len(out) >= 2 * N_FORMS
    return out


def test_reads_generated_comb_numbers(reader, comb_numbers):
    right = sum(reader.recognise(line, DIGITS)[0] == want for _, _, want, line in comb_numbers)
    assert right >= 0.8 * len(comb_numbers)


def test_drops_in_as_the_digit_cross_check(reader, comb_numbers, template):
    right = 0
    for aligned, spec, want, _ in comb_numbers:
        reading = read_comb_digits(aligned, template, spec, None, reader)
        right += reading.value is not None and re.sub(r"\D", "", reading.value)[-len(spec.cells):] == want
    assert right >= 0.8 * len(comb_numbers)


def test_distributions_have_ppocrs_meaning(reader, comb_numbers):
    _, _, want, line = comb_numbers[0]
    text, frames = reader.character_distributions(line, DIGITS)
    assert len(frames) == len(text) and all(f.shape == (10,) and 0 <= f.sum() <= 1.0001 for f in frames)
    forced_text, forced_frames, log_ratio = reader.distributions_of_length(line, DIGITS, len(want))
    assert len(forced_text) == len(forced_frames) == len(want)
    assert log_ratio >= -1e-6  # the unconstrained reading is never less likely
    if len(text) == len(want):
        assert forced_text == text and log_ratio == pytest.approx(0.0, abs=1e-5)
    assert reader.distributions_of_length(line, DIGITS, 500) is None  # more digits than frames


def test_a_batch_reads_as_the_lines_alone(reader, comb_numbers):
    lines = [line for *_, line in comb_numbers[:4]]
    for alone, batched in zip((reader.probabilities(x) for x in lines), reader.probabilities_batch(lines)):
        assert batched.shape == alone.shape
        assert (batched.argmax(1) == alone.argmax(1)).mean() >= 0.9


def test_line_preparation():
    line = np.full((80, 300), 255, np.uint8)
    line[20:60, 100:110] = 0
    x = prepare_line(line)
    assert x.shape[0] == 32 and x.shape[1] % 4 == 0 and x.dtype == np.float32
    assert x.max() == pytest.approx(1.0) and x[:, :30].max() == 0.0  # ink 1, paper 0
    assert prepare_line(np.full((40, 4000), 255, np.uint8)).shape == (32, 256)  # very wide lines are squeezed


def test_missing_model_is_an_engine_error(tmp_path):
    with pytest.raises(EngineError, match="not found"):
        OnnxSequenceReader(tmp_path / "absent.onnx")


def test_model_without_its_config_is_an_engine_error(reader, tmp_path):
    shutil.copy(reader.model_path, tmp_path / "sequence.onnx")
    with pytest.raises(EngineError, match="config"):
        OnnxSequenceReader(tmp_path / "sequence.onnx")


def test_broken_model_is_an_engine_error(reader, tmp_path):
    (tmp_path / "sequence.onnx").write_bytes(b"not an onnx model")
    shutil.copy(reader.model_path.with_suffix(".json"), tmp_path / "sequence.json")
    broken = OnnxSequenceReader(tmp_path / "sequence.onnx")
    with pytest.raises(EngineError, match="could not be loaded"):
        broken.recognise(np.full((40, 80), 255, np.uint8), DIGITS)
