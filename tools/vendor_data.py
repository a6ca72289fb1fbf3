"""Copy into the repository the small subsets of handwriting material that samplegen, the samples,
the tests and the benchmark need, so that a clone stands on its own.

    pip install fonttools
    python tools/vendor_data.py SOURCE_DATA_DIR [--form PDF]

SOURCE_DATA_DIR holds the full material as published (see samplegen/data/README.md for where each
part comes from): ``mnist/train-{images-idx3,labels-idx1}-ubyte.gz``, ``fonts/<Name>-Regular.ttf``
with their OFL texts, ``kanjivg/kanjivg-svg.tar.gz`` with ``COPYING.txt``. It writes:

- ``samplegen/data/mnist-subset.npz``: every MNIST training image the evaluation writers draw
  (55,000-59,999) and a per-digit sample of the training writers' range (0-49,999);
- ``samplegen/data/fonts/*.ttf``: the three handwriting fonts subset (fontTools) to the characters
  the generator can write;
- ``samplegen/data/kanjivg-subset.tar.gz``: the KanjiVG strokes of those characters;
- with ``--form``, the official form PDF beside its template.
"""

from __future__ import annotations

import argparse
import gzip
import io
import re
import shutil
import sys
import tarfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "samplegen" / "data"
FONTS = ("Yomogi", "YuseiMagic", "ReggaeOne")
TRAIN_PER_DIGIT = 400
EVAL_RANGE = (55_000, 60_000)
TRAIN_RANGE = (0, 50_000)


def generator_characters() -> str:
    """Every character the generator can write: printable ASCII, full-width forms of it, and every
    non-ASCII character in the generator's and training's sources and the templates (names,
    companies, cover sheet, labels, the kanji the digit model learns to reject)."""
    chars = {chr(c) for c in range(0x20, 0x7F)}
    chars |= {chr(c) for c in range(0xFF01, 0xFF5F)}
    sources = [*(REPO / "samplegen").glob("*.py"), *(REPO / "training").glob("*.py"),
               *(REPO / "form_templates").glob("*/template.json")]
    for path in sources:
        chars |= {ch for ch in path.read_text(encoding="utf-8") if ord(ch) > 0x7F and ch.isprintable()}
    return "".join(sorted(chars))


def vendor_mnist(src: Path) -> None:
    with gzip.open(src / "mnist" / "train-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(src / "mnist" / "train-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    rng = np.random.default_rng(0)
    lo, hi = TRAIN_RANGE
    train = np.concatenate([np.sort(rng.choice(np.flatnonzero(labels[lo:hi] == d) + lo, TRAIN_PER_DIGIT, replace=False))
                            for d in range(10)])
    index = np.sort(np.concatenate([train, np.arange(*EVAL_RANGE)])).astype(np.int32)
    np.savez_compressed(OUT / "mnist-subset.npz", index=index, images=images[index], labels=labels[index])


def vendor_fonts(src: Path, chars: str) -> None:
    from fontTools import subset

    folder = OUT / "fonts"
    folder.mkdir(parents=True, exist_ok=True)
    for name in FONTS:
        options = subset.Options()
        options.layout_features = ["*"]
        options.name_IDs = ["*"]
        options.notdef_outline = True
        font = subset.load_font(str(src / "fonts" / f"{name}-Regular.ttf"), options)
        sub = subset.Subsetter(options)
        sub.populate(text=chars)
        sub.subset(font)
        subset.save_font(font, str(folder / f"{name}-Regular.ttf"), options)
        shutil.copy(src / "fonts" / f"{name}-OFL.txt", folder / f"{name}-OFL.txt")


def vendor_kanjivg(src: Path, chars: str) -> None:
    wanted = {f"{ord(ch):05x}.svg" for ch in chars}
    out = io.BytesIO()
    with tarfile.open(src / "kanjivg" / "kanjivg-svg.tar.gz") as tf, tarfile.open(fileobj=out, mode="w:gz") as dst:
        for member in tf:
            name = member.name.rsplit("/", 1)[-1]
            if name in wanted and re.fullmatch(r"[0-9a-f]{5}\.svg", name):
                member.mtime = 0
                dst.addfile(member, tf.extractfile(member))
    (OUT / "kanjivg-subset.tar.gz").write_bytes(out.getvalue())
    shutil.copy(src / "kanjivg" / "COPYING.txt", OUT / "KANJIVG-COPYING.txt")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", type=Path, help="folder with the full material (mnist/, fonts/, kanjivg/)")
    ap.add_argument("--form", type=Path, help="the official form PDF, copied beside its template")
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    chars = generator_characters()
    vendor_mnist(args.source)
    vendor_fonts(args.source, chars)
    vendor_kanjivg(args.source, chars)
    if args.form:
        shutil.copy(args.form, REPO / "form_templates" / "teledome_stop_request" / "teledome_stop_request.pdf")
    print(f"wrote {OUT} ({len(chars)} characters)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
