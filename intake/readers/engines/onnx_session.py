"""One way to open an ONNX model on the CPU, for every engine that ships one."""

from __future__ import annotations

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
