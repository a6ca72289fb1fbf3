"""One way to open an ONNX model on the CPU, for every engine that ships one."""

from __future__ import annotations

import json
from pathlib import Path

from intake.errors import EngineError


def cpu_session(model_path: Path, threads: int, what: str, fix: str):
    """An onnxruntime session on the CPU with ``threads`` threads; EngineError naming ``what`` and how to ``fix`` it."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise EngineError("onnxruntime is not installed; `pip install onnxruntime`.") from exc
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise EngineError(f"{what} {model_path} could not be loaded: {exc}; {fix}.") from exc


def bundled_model(name: str) -> Path:
    """A model shipped inside the package (``intake/models/<name>``), found from a wheel too."""
    from importlib.resources import files

    return Path(str(files("intake").joinpath("models", name)))


def model_and_config(model_path: Path, what: str, fix: str) -> dict:
    """Check the model file is there and read its config, which lives beside it (``.json``)."""
    if not model_path.is_file():
        raise EngineError(f"{what} not found at {model_path}; {fix}.")
    config_path = model_path.with_suffix(".json")
    try:
        return json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise EngineError(f"{what} config {config_path} is missing (it belongs beside the .onnx); {fix}.") from exc
    except (OSError, ValueError) as exc:
        raise EngineError(f"{what} config {config_path} cannot be read: {exc}") from exc
