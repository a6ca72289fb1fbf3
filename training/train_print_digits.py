"""Train the print-digit model that reads typed forms (``intake/models/print_digits.onnx``).

    nice -n 19 python training/train_print_digits.py [--samples 40000] [--epochs 6] [--seed 7]

Training data are digit strings typed in the DEVELOPMENT print fonts (``samplegen.typed.DEV_FONTS``)
and, for digit shapes Japanese fonts share with Latin ones, in Debian's Latin fonts
(``LATIN_DIGIT_FONTS``: apt-get install fonts-dejavu-core fonts-liberation2 fonts-freefont-ttf),
8-15 pt, regular or bold, a little condensed or expanded, half- or full-width, sent through the generator's fax
binarisation at standard or fine resolution, brought back to 200 dpi as the aligner does, and cut
into glyphs at the ink's column gaps (``intake.readers.typed.print_glyphs``, the cut the product's
recognition-driven cut mostly agrees with). A string whose cut does not give one glyph per digit is
dropped. Printed
signs that sit beside typed digits on the form (-, (, ), 年, 月, 日, 時, 分, ○) are the reject
class. The held-out print fonts (``samplegen.typed.HELD_OUT_FONTS``) are never read here. Takes about
4 minutes on an idle core (10 on a shared, loaded 2-core machine).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from intake.readers.glyph import normalise_glyph  # noqa: E402
from intake.readers.ink import INK_THRESHOLD, glyph_image  # noqa: E402
from intake.readers.typed import print_glyphs  # noqa: E402
from samplegen.fax import RESOLUTIONS, binarise  # noqa: E402
from samplegen.typed import DEV_FONTS, FULL_WIDTH, PX_PER_PT, InkLayer, font_at, string_width  # noqa: E402


LATIN_DIGIT_FONT_PACKAGES = ("fonts-dejavu-core", "fonts-liberation2", "fonts-freefont-ttf")
LATIN_DIGIT_FONTS = [
    *(f"/usr/share/fonts/truetype/dejavu/DejaVu{k}.ttf" for k in ("Sans", "Sans-Bold", "SansCondensed", "SansMono", "Serif",
                                                               "Serif-Bold", "SerifCondensed")),
    *(f"/usr/share/fonts/truetype/liberation2/Liberation{k}.ttf" for k in ("Sans-Regular", "Sans-Bold", "Serif-Regular",
                                                                        "Serif-Bold", "Mono-Regular")),
    *(f"/usr/share/fonts/truetype/freefont/Free{k}.ttf" for k in ("Sans", "SansBold", "Serif", "Mono")),
]
LATIN_SHARE = 0.35  # of the digit strings; the rest are typed in the development Japanese fonts
CLASSES = [str(d) for d in range(10)] + ["reject"]
REJECT = 10
REJECT_SIGNS = "-()年月日時分○・/"
VALID_SEED_OFFSET = 1000


class PrintDigitNet(nn.Module):
    """conv16-pool-conv32-pool-conv64-pool-fc128: ~100k parameters; print is regular enough."""

    ARCHITECTURE = "PrintDigitNet conv16-pool-conv32-pool-conv64-pool-fc128 (BatchNorm, ReLU)"

    def __init__(self, n_classes: int = len(CLASSES)):
        super().__init__()

        def conv(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]

        self.features = nn.Sequential(*conv(1, 16), *conv(16, 32), *conv(32, 64))  # 28 -> 14 -> 7 -> 3
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(64 * 3 * 3, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, n_classes))

    def forward(self, x):
        return self.head(self.features(x))


def typed_line(text: str, rng: np.random.Generator, latin: bool = False) -> np.ndarray:
    """``text`` typed in a development (or, for digits, a Latin) font and faxed: a 0/1 ink mask at 200 dpi."""
    path = str(rng.choice(LATIN_DIGIT_FONTS)) if latin else DEV_FONTS[str(rng.choice(sorted(DEV_FONTS)))]
    font = font_at(path, int(round(rng.uniform(8, 15) * PX_PER_PT)))
    tracking = float(rng.choice([0.0, 0.0, 0.08, 0.2, 0.35]))
    width = int(string_width(text, font, tracking) + 2 * font.size)
    layer = InkLayer((2 * font.size, width))
    layer.string(text, font, font.size * rng.uniform(0.4, 0.8), font.size, tracking)
    page = layer.onto(np.full((2 * font.size, width), 255, np.uint8), int(rng.integers(0, 30)))
    h, w = page.shape
    page = cv2.resize(page, (max(2, round(w * rng.uniform(0.85, 1.15))), h), interpolation=cv2.INTER_LINEAR)  # condensed/expanded
    h, w = page.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), float(rng.normal(0, 0.4)), float(rng.uniform(0.97, 1.03)))
    m[:, 2] += rng.uniform(-0.5, 0.5, 2)
    page = cv2.warpAffine(page, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)
    xdpi, ydpi = RESOLUTIONS[str(rng.choice(["standard", "fine"], p=[0.45, 0.55]))]
    sent = cv2.resize(page, (max(2, round(w * xdpi / 200)), max(2, round(h * ydpi / 200))), interpolation=cv2.INTER_AREA)
    sent = binarise(sent, rng)
    back = cv2.resize(sent, (w, h), interpolation=cv2.INTER_LINEAR)
    return (back < INK_THRESHOLD).astype(np.uint8)


def samples(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` normalised 28x28 glyphs and their labels (about 1 in 8 a reject)."""
    rng = np.random.default_rng(seed)
    x = np.empty((n, 1, 28, 28), np.float32)
    y = np.empty(n, np.int64)
    k = 0
    while k < n:
        if rng.random() < 0.12:
            text, labels = str(rng.choice(list(REJECT_SIGNS))), [REJECT]
        else:
            digits = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(1, 7))))
            latin = rng.random() < LATIN_SHARE
            text = digits.translate(FULL_WIDTH) if rng.random() < 0.3 and not latin else digits
            labels = [int(c) for c in digits]
        mask = typed_line(text, rng, latin=labels != [REJECT] and latin)
        glyphs = print_glyphs(mask)
        if len(glyphs) != len(labels):
            continue
        for g, label in zip(glyphs, labels):
            if k >= n:
                break
            x[k, 0] = normalise_glyph(glyph_image(mask, g.x0, g.y0, g.x1, g.y1))
            y[k] = label
            k += 1
    return x, y


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=40000)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=ROOT / "intake" / "models")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    started = time.time()
    x, y = samples(args.samples, args.seed)
    vx, vy = samples(4000, args.seed + VALID_SEED_OFFSET)
    print(f"made {len(y)} training and {len(vy)} validation glyphs in {time.time() - started:.0f}s", file=sys.stderr)
    model = PrintDigitNet()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=args.epochs * ((len(y) + 127) // 128))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.02)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(ty), generator=gen)
        for i in range(0, len(order), 128):
            b = order[i: i + 128]
            opt.zero_grad()
            loss = loss_fn(model(tx[b]), ty[b])
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        with torch.no_grad():
            wrong = int((model(torch.from_numpy(vx)).argmax(1).numpy() != vy).sum())
        print(f"epoch {epoch + 1}: validation errors {wrong}/{len(vy)}", file=sys.stderr)
    export(model, args, {"validation_errors": wrong, "validation_glyphs": len(vy)}, time.time() - started)
    return 0


def export(model: nn.Module, args, metrics: dict, seconds: float) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path, json_path = args.out / "print_digits.onnx", args.out / "print_digits.json"
    model.eval()
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    torch.onnx.export(model, (torch.zeros(1, 1, 28, 28),), str(onnx_path), input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, opset_version=17, dynamo=False)
    config = {
        "model": "print_digits.onnx",
        "architecture": PrintDigitNet.ARCHITECTURE,
        "input_name": "input",
        "output_name": "logits",
        "input_size": [1, 28, 28],
        "classes": CLASSES,
        "reject_index": REJECT,
        "normalisation": "intake.readers.glyph.normalise_glyph (as the handwriting model)",
        "output": "logits; apply softmax for probabilities",
        "training_data": "digit strings typed in the development print fonts (" + ", ".join(sorted(DEV_FONTS)) +
                         ") and Latin fonts (" + ", ".join(Path(p).stem for p in LATIN_DIGIT_FONTS) + "), faxed by samplegen.fax.binarise, cut by intake.readers.typed.print_glyphs; "
                         f"reject: the printed signs {REJECT_SIGNS}",
        "writers": "typed-dev",  # the generator population whose fonts it learnt (bench/heldout.py reads this)
        "training_seed": args.seed,
        "samples": args.samples,
        "epochs": args.epochs,
        "training_seconds": round(seconds, 1),
        "torch_version": torch.__version__,
        "date": _dt.date.today().isoformat(),
        **metrics,
    }
    json_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {onnx_path} ({onnx_path.stat().st_size / 1024:.0f} KiB) and {json_path}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
