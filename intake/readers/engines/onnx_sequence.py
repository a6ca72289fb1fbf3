"""Whole written numbers read without segmentation: the bundled CRNN (CTC over the ten digits).

The model (``intake/models/sequence.onnx``) and its config (``sequence.json``) are
produced by ``training/train_sequence.py``, which trained it on the very line images
the digit readers hand a cross-check engine (the comb's cells, the ink of one part of
a date, time or phone), cut from generated faxes. It reads digits only, so it stands
in for PP-OCR as the digits' cross-check (``Engines.digits_ocr``), never for text.

CTC decoding, the reading constrained to a known count of digits and the per-digit
distributions are PP-OCR's own (:class:`PaddleTextRecogniser`); only the network and
its input differ.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

from intake.errors import EngineError
from intake.readers.engines.onnx_session import bundled_model, cpu_session, model_and_config
from intake.readers.engines.ppocr import PaddleTextRecogniser

LINE_HEIGHT = 32
MAX_LINE_WIDTH = 256
WIDTH_STEP = 4  # the network shrinks the width fourfold: one output frame per 4 columns
_RETRAIN_HINT = "rebuild it with `python training/train_sequence.py all` (needs the `train` extra) or reinstall the package"


def prepare_line(image: np.ndarray) -> np.ndarray:
    """A line image (dark ink on white, any size) as the network's input: float32 (32, W), ink 1, paper 0.

    The height is scaled to 32 keeping the aspect; lines wider than 256 are squeezed to
    256, and the width is padded with paper to a multiple of 4. Training uses this same
    function, so what the network saw and what it is shown cannot drift apart.
    """
    h, w = image.shape[:2]
    new_w = int(round(w * LINE_HEIGHT / max(1, h)))
    new_w = min(MAX_LINE_WIDTH, max(WIDTH_STEP * 4, new_w))
    interpolation = cv2.INTER_AREA if h > LINE_HEIGHT else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, LINE_HEIGHT), interpolation=interpolation)
    padded_w = -(-new_w // WIDTH_STEP) * WIDTH_STEP
    out = np.zeros((LINE_HEIGHT, padded_w), np.float32)
    out[:, :new_w] = 1.0 - resized.astype(np.float32) / 255.0
    return out


class OnnxSequenceReader(PaddleTextRecogniser):
    """One handwritten number (digits only) -> (text, confidence), with PP-OCR's decoding interface."""

    name = "onnx-crnn"

    def __init__(self, model_path: str | Path | None = None, threads: int = 1):
        self.model_path = Path(model_path) if model_path is not None else bundled_model("sequence.onnx")
        self.config = model_and_config(self.model_path, "sequence model", _RETRAIN_HINT)
        config_path = self.model_path.with_suffix(".json")
        classes = self.config.get("classes")
        if not isinstance(classes, list) or len(classes) < 2:
            raise EngineError(f"sequence model config {config_path} has no class list; {_RETRAIN_HINT}.")
        self.threads = threads
        self._session = None
        self._lock = threading.Lock()
        # Class 0 is the CTC blank, as in PP-OCR; the rest are the characters in the config's order.
        self.charset: list[str] = ["<blank>"] + [str(c) for c in classes[1:]]
        self._index = {c: i for i, c in enumerate(self.charset)}
        self._allowed_cache: dict[int, np.ndarray] = {}
        self._last: tuple[tuple, np.ndarray] | None = None

    def _ensure(self):
        if self._session is None:
            with self._lock:
                if self._session is None:
                    session = cpu_session(self.model_path, self.threads, "sequence model", _RETRAIN_HINT)
                    n_out = session.get_outputs()[0].shape[-1]
                    if isinstance(n_out, int) and n_out != len(self.charset):
                        raise EngineError(f"sequence model {self.model_path} gives {n_out} classes, its config names "
                                          f"{len(self.charset)}; {_RETRAIN_HINT}.")
                    self._session = session
        return self._session

    @staticmethod
    def _prepare(image: np.ndarray) -> np.ndarray:
        return prepare_line(image)[None]

    def probabilities_batch(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """Per-frame class probabilities (T_i, C) for several lines in one network run
        (each padded with paper to the widest; a line's own frames are given back)."""
        if not images:
            return []
        session = self._ensure()
        lines = [prepare_line(im) for im in images]
        width = max(x.shape[1] for x in lines)
        batch = np.zeros((len(lines), 1, LINE_HEIGHT, width), np.float32)
        for i, x in enumerate(lines):
            batch[i, 0, :, : x.shape[1]] = x
        with self._lock:
            out = session.run(None, {session.get_inputs()[0].name: batch})[0]
        return [out[i, : x.shape[1] // WIDTH_STEP] for i, x in enumerate(lines)]
