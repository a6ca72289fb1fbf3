"""Handwritten digit classifier: the bundled CNN run with onnxruntime.

The model (``intake/models/digits.onnx``) and its config (``digits.json``) are
produced by ``training/train_digits.py``. Crops go through the same
:func:`~intake.readers.glyph.normalise_glyph` the model was trained with.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from intake.readers.engines.onnx_session import bundled_model, cpu_session, model_and_config
from intake.readers.glyph import SIZE, normalise_glyph

_RETRAIN_HINT = "rebuild it with `python training/train_digits.py` (needs the `train` extra) or reinstall the package"


class OnnxDigitClassifier:
    """Classify digit crops into "0".."9" or "reject" (not a digit)."""

    name = "onnx-cnn"
    reject_index = 10

    def __init__(self, model_path: str | Path | None = None, *, threads: int = 1, what: str = "digit model",
                 rebuild: str = _RETRAIN_HINT):
        self.model_path = Path(model_path) if model_path is not None else bundled_model("digits.onnx")
        self.what, self.rebuild = what, rebuild  # how an engine error names the model and its fix
        self.config = model_and_config(self.model_path, what, rebuild)
        self.classes: list[str] = list(self.config.get("classes", [str(d) for d in range(10)] + ["reject"]))
        self.reject_index = int(self.config.get("reject_index", self.classes.index("reject")))
        self.threads = threads
        self._session = None
        self._input_name = self.config.get("input_name", "input")
        self._lock = threading.Lock()

    def load(self) -> None:
        self._get_session()

    def _get_session(self):
        """Create the onnxruntime session once, on first use."""
        if self._session is None:
            with self._lock:
                if self._session is None:
                    sess = cpu_session(self.model_path, self.threads, self.what, self.rebuild)
                    self._input_name = sess.get_inputs()[0].name
                    self._session = sess
        return self._session

    def classify(self, glyphs: list[np.ndarray]) -> np.ndarray:
        """Softmax probabilities, shape (N, 11) float32, for raw crops (ink dark on paper)."""
        n_classes = len(self.classes)
        if len(glyphs) == 0:
            return np.zeros((0, n_classes), np.float32)
        batch = np.stack([normalise_glyph(g) for g in glyphs])[:, None].astype(np.float32)
        logits = self._get_session().run(None, {self._input_name: batch})[0].astype(np.float32)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        probs = e / e.sum(axis=1, keepdims=True)
        # A crop with no ink at all is certainly not a digit: don't leave that to the net.
        blank = ~batch.reshape(len(batch), SIZE * SIZE).any(axis=1)
        if blank.any():
            probs[blank] = 0.0
            probs[blank, self.reject_index] = 1.0
        return probs
