"""Which writer populations a bundled model or fitted threshold ever saw, from the models' own records.

Every ``intake/models/*.json`` that names the generator ``writers`` it was trained or fitted on
(``"writers": "train"`` anywhere in it, as the training scripts write) has seen every source of that
choice (``samplegen.writers``). A population is held out when none of its sources was seen.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from samplegen import writers as populations

MODELS = Path(__file__).resolve().parents[1] / "intake" / "models"
# What the model files cannot say about themselves: training material outside the generator.
OUTSIDE_THE_GENERATOR = {
    "digits": ("procedural strokes (training/digit_styles.py)",),
    "print_digits": ("Debian's Latin fonts DejaVu, Liberation, FreeFont (training/train_print_digits.py)",),
}
EXTERNAL = {"PP-OCR": "PaddleOCR's own training data (none of the generator's populations)",
            "Tesseract jpn": "Tesseract's own training data (none of the generator's populations)"}
_QUOTED_WRITERS = re.compile(r"""['"]writers['"]\s*:\s*['"]([\w-]+)['"]""")


def _writers_named(meta) -> set[str]:
    """Every generator ``writers`` choice a model record names, also inside text fields that hold a dict's repr."""
    found: set[str] = set()
    if isinstance(meta, dict):
        for k, v in meta.items():
            if k == "writers" and isinstance(v, str):
                found.add(v)
            else:
                found |= _writers_named(v)
    elif isinstance(meta, list):
        for v in meta:
            found |= _writers_named(v)
    elif isinstance(meta, str):
        found |= set(_QUOTED_WRITERS.findall(meta))
    return found


def fitted_on(models: Path = MODELS) -> dict[str, set[str]]:
    """model (file stem) -> the generator sources it was trained or fitted on."""
    out: dict[str, set[str]] = {}
    for path in sorted(models.glob("*.json")):
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        sources: set[str] = set()
        for name in _writers_named(meta):
            name = populations.canonical(name)
            if name in populations.POPULATIONS:
                sources |= populations.POPULATIONS[name].sources
        if path.stem == "digits":
            sources.add("mnist-train")
        if sources:
            out[path.stem] = sources
    return out


def seen_by(population: str, models: Path = MODELS) -> list[str]:
    """The models whose training or fitting drew on any source of ``population`` (empty: held out)."""
    name = populations.canonical(population)
    if name not in populations.POPULATIONS:
        return []
    mine = populations.POPULATIONS[name].sources
    return [model for model, sources in fitted_on(models).items() if sources & mine]


def lines(names: list[str], models: Path = MODELS) -> list[str]:
    """One line per population: held out, or which models saw it; then what each model trained on."""
    out = []
    for name in names:
        seen = seen_by(name, models)
        out.append(f"{name}: " + (f"SEEN by {', '.join(seen)}" if seen else "held out (no model or threshold fitted on it)"))
    for model, sources in fitted_on(models).items():
        extra = OUTSIDE_THE_GENERATOR.get(model, ())
        out.append(f"  {model} fitted on: " + "; ".join([*(populations.SOURCES[s] for s in sorted(sources)), *extra]))
    for model, what in EXTERNAL.items():
        out.append(f"  {model}: {what}")
    return out
