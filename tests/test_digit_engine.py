"""The bundled digit CNN on real handwriting: held-out MNIST, clean and faxed.

Uses MNIST images 55,000+ (never seen in training or validation), from the
generator's bundled subset.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from intake.errors import EngineError, ExitCode
from samplegen import assets
from intake.readers.glyph import glyph_from_mnist, normalise_glyph

FONTS = assets.DATA / "fonts"
FIRST, COUNT = 55_000, 300


@pytest.fixture(scope="module")
def held_out() -> tuple[np.ndarray, np.ndarray]:
    images, labels = assets.mnist()
    positions = np.sort(np.concatenate(list(assets.mnist_index(FIRST, FIRST + COUNT).values())))
    assert len(positions) == COUNT  # the bundle holds every evaluation digit
    return images[positions], labels[positions]


@pytest.fixture(scope="module")
def engine(digit_cnn):
    return digit_cnn


def fax(paper: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A fixed, rough fax channel, independent of the training code."""
    h, w = paper.shape
    shear = rng.uniform(-0.25, 0.25)
    m = np.float32([[1, shear, -shear * h / 2], [0, 1, 0]])
    paper = cv2.warpAffine(paper, m, (w, h), borderValue=255)
    if rng.random() < 0.5:  # thick pen
        paper = cv2.erode(paper, np.ones((3, 3), np.uint8))
    paper = np.where(paper < rng.uniform(80, 180), 0, 255).astype(np.uint8)
    if rng.random() < 0.5:  # 98-dpi standard mode
        half = cv2.resize(paper, (w, h // 2), interpolation=cv2.INTER_AREA)
        paper = cv2.resize(np.where(half < 128, 0, 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
    paper = paper.copy()
    paper[rng.random(paper.shape) < 0.005] = 0  # speckle
    if rng.random() < 0.5:  # the cell's ruled line along the top
        paper[0:2, :] = 0
    return paper


def test_normalise_glyph_is_mnist_like():
    crop = np.full((60, 50), 255, np.uint8)
    cv2.rectangle(crop, (20, 10), (27, 50), 0, -1)  # a tall bar, like a '1'
    out = normalise_glyph(crop)
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    ys, xs = np.nonzero(out > 0.5)
    assert ys.max() - ys.min() + 1 == 20  # longer side scaled to 20 px
    assert abs(ys.mean() - 13.5) <= 1 and abs(xs.mean() - 13.5) <= 1  # centred by mass
    assert not normalise_glyph(np.full((40, 40), 255, np.uint8)).any()  # blank stays blank


def test_cell_rule_is_stripped_but_a_seven_bar_is_kept():
    ruled = np.full((60, 50), 255, np.uint8)
    ruled[0:2, :] = 0  # the cell's top rule, crossing the whole crop
    ruled[15:50, 22:27] = 0
    ys, xs = np.nonzero(normalise_glyph(ruled) > 0.5)
    assert xs.max() - xs.min() + 1 <= 6  # only the stroke is left
    seven = np.full((44, 34), 255, np.uint8)
    seven[2:6, 2:32] = 0  # bar of a '7', two pixels of paper either side
    cv2.line(seven, (30, 5), (14, 41), 0, 4)
    ys, xs = np.nonzero(normalise_glyph(seven) > 0.5)
    assert xs.max() - xs.min() + 1 >= 14  # the bar survives


def test_clean_held_out_accuracy(engine, held_out):
    images, labels = held_out
    probs = engine.classify([glyph_from_mnist(im) for im in images])
    assert probs.shape == (COUNT, 11) and probs.dtype == np.float32
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    acc = float((probs.argmax(1) == labels).mean())
    assert acc >= 0.97, acc


def test_faxed_held_out_accuracy(engine, held_out):
    images, labels = held_out
    rng = np.random.default_rng(7)
    probs = engine.classify([fax(glyph_from_mnist(im), rng) for im in images])
    acc = float((probs.argmax(1) == labels).mean())
    assert acc >= 0.96, acc  # measured 0.993..1.000 over five channel seeds


def _non_digits(rng: np.random.Generator) -> list[np.ndarray]:
    crops = [np.full((48, 48), 255, np.uint8) for _ in range(4)]  # blank paper
    for _ in range(6):  # speckle only
        c = np.full((48, 48), 255, np.uint8)
        c[rng.random(c.shape) < 0.01] = 0
        crops.append(c)
    for y in (12, 24, 36):  # a horizontal rule piece
        c = np.full((48, 48), 255, np.uint8)
        cv2.line(c, (4, y), (40, y), 0, 2)
        crops.append(c)
    for _ in range(4):  # a cluster of dots
        c = np.full((48, 48), 255, np.uint8)
        for _ in range(5):
            cv2.circle(c, (int(rng.integers(10, 38)), int(rng.integers(10, 38))), 2, 0, -1)
        crops.append(c)
    fonts = sorted(FONTS.glob("*.ttf"))
    if fonts:
        from PIL import Image, ImageDraw, ImageFont

        for i, ch in enumerate("年月時分要火水木金土"):
            font = ImageFont.truetype(str(fonts[i % len(fonts)]), 44)
            img = Image.new("L", (64, 64), 255)
            ImageDraw.Draw(img).text((8, 4), ch, font=font, fill=0)
            crops.append(np.asarray(img))
    return crops


def test_non_digits_are_rejected_or_uncertain(engine):
    crops = _non_digits(np.random.default_rng(3))
    probs = engine.classify(crops)
    rejected = probs.argmax(1) == engine.reject_index
    uncertain = probs[:, :10].max(axis=1) < 0.5
    assert rejected[:4].all()  # blank paper is always "reject"
    assert float((rejected | uncertain).mean()) >= 0.9, probs.argmax(1)  # measured: all 27 rejected


def test_engine_metadata(engine):
    assert engine.name == "onnx-cnn"
    assert engine.classes == [str(d) for d in range(10)] + ["reject"]
    assert engine.reject_index == 10
    assert engine.classify([]).shape == (0, 11)


def test_missing_model_raises_engine_error(tmp_path):
    from intake.readers.engines.onnx_digits import OnnxDigitClassifier

    with pytest.raises(EngineError, match="digit model not found"):
        OnnxDigitClassifier(model_path=tmp_path / "nope.onnx")


def test_a_corrupt_model_raises_engine_error_when_loaded(tmp_path):
    from intake.readers.engines.onnx_digits import OnnxDigitClassifier
    from intake.readers.engines.onnx_session import bundled_model

    bundled = bundled_model("digits.onnx")
    broken = tmp_path / "digits.onnx"
    broken.write_bytes(bundled.read_bytes()[:1000])  # a truncated copy
    shutil.copy(bundled.with_suffix(".json"), broken.with_suffix(".json"))
    with pytest.raises(EngineError, match="could not be loaded"):
        OnnxDigitClassifier(model_path=broken).load()


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_scan_stops_with_exit_6_when_the_digit_model_is_missing_or_broken(tmp_path, damage):
    """The product never reads on with one digit reader: a damaged install is an engine error."""
    from conftest import REPO

    for package in ("intake", "bench", "samplegen"):  # this checkout's, not an installed copy's (bench names the generator's populations)
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    model = tmp_path / "intake" / "models" / "digits.onnx"
    if damage == "missing":
        model.unlink()
    else:
        model.write_bytes(b"not an onnx model")
    fax = sorted((REPO / "samples").glob("fax_*.tif"))[0]
    proc = subprocess.run([sys.executable, "-m", "intake", "scan", str(fax)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300, env={**os.environ, "INTAKE_TEMPLATES": str(REPO / "form_templates")})
    assert proc.returncode == ExitCode.engine == 6, proc.stderr
    assert "[engine_unavailable]" in proc.stderr and proc.stdout == ""
