"""Train the segmentation-free number reader (a small CRNN with CTC) and export it as ONNX.

    SAMPLEGEN_MNIST=DIR python training/train_sequence.py all --jobs 2   # harvest + train + export (about 45 min)
    SAMPLEGEN_MNIST=DIR python training/train_sequence.py harvest [--count 700] [--seed 7301] [--jobs N]
    python training/train_sequence.py train [--minutes 20] [--train-seed 0] [--synthetic-every 4]

Data: the line images a cross-check engine is handed at run time, cut from generated
faxes by the product's own reader code. Faxes are generated with the *training*
writers only (MNIST 0..49,999; never the evaluation writers' fonts, KanjiVG strokes or
the Debian handwriting fonts); ``SAMPLEGEN_MNIST`` must name a folder with the original
MNIST training files (samplegen/data/README.md says where they come from). Each form
page is aligned with the real pipeline stages, and every comb number and every part of
a date, time or phone is read by ``read_comb_digits`` / ``read_number`` with a
recording engine in the cross-check's place: the images it is shown (cell lines, stubs,
98-dpi squash, the trimmed line where the CNN left out a bracket's tail, the softening
blur) are the training images, labelled with the digits the generator wrote there
(its own spelling: "9" or "09"). 15% of the faxes are held out for validation.

Every fourth batch is instead procedural lines: numbers drawn in the pen-stroke digits of
``training/digit_styles.py`` (allographs MNIST lacks, drawn by our own code, no fonts or
KanjiVG), set one per cell or freely and faxed (binary, often at half the vertical
resolution, softened). Harvested lines get light augmentation (a pixel or two of
shift, stroke thickening or thinning, up to 10% of width scale). Every line goes
through the runtime's own ``prepare_line``. The epoch best on the held-out faxes is kept.

Writes intake/models/sequence.onnx (input "input" [N,1,32,W] float32, output "probs"
[N,W/4,11] softmax, class 0 the CTC blank, then "0".."9") and sequence.json. Needs the
``train`` extra (CPU build of PyTorch and ``onnx``); runs on one thread, so it can share
a machine.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import samplegen  # noqa: E402
from intake.align import align_to_template  # noqa: E402
from intake.classify import classify_page  # noqa: E402
from intake.ingest import load_pages  # noqa: E402
from intake.readers.digits import read_comb_digits, read_number  # noqa: E402
from intake.readers.engines.ctc import best_path  # noqa: E402
from intake.readers.engines.onnx_digits import OnnxDigitClassifier  # noqa: E402
from intake.readers.engines.onnx_sequence import LINE_HEIGHT, WIDTH_STEP, prepare_line  # noqa: E402
from intake.readers.ink import added_ink  # noqa: E402
from intake.template import load_templates  # noqa: E402
from samplegen.fill import _spelt  # noqa: E402
from samplegen.values import random_values  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import digit_styles  # noqa: E402

DIGITS = "0123456789"
CLASSES = ["<blank>"] + list(DIGITS)
HARVEST = ROOT / "training" / "sequence_harvest.npz"
MODEL = ROOT / "intake" / "models" / "sequence.onnx"
VALIDATION_SHARE = 0.15


class RecordingReader:
    """Stands where the cross-check engine stands and keeps every line image it is shown.

    It reads nothing (an empty reading), so the CNN alone decides how a free-space
    number is cut, as it does when the cross-check reads nothing.
    """

    name = "recorder"

    def __init__(self):
        self.lines: list[np.ndarray] = []

    def recognise(self, image: np.ndarray, allowed: str | None = None) -> tuple[str, float]:
        self.lines.append(image.copy())
        return "", 0.0

    def character_distributions(self, image: np.ndarray, allowed: str) -> tuple[str, list[np.ndarray]]:
        self.lines.append(image.copy())
        return "", []


def written_numbers(seed: int, index: int, writers: str, template) -> dict[str, str]:
    """What the generator wrote in each comb field and each part of a date, time or phone of
    fax ``index`` (its own spelling), keyed "field" or "field/part"."""
    values = random_values(np.random.default_rng([seed, index, samplegen.WRITER_STREAMS[writers]]))
    out = {}
    for spec in template.fields:
        value = values.truth.get(spec.key)
        if not value:
            continue
        if spec.kind == "comb_digits":
            out[spec.key] = "".join(c for c in value if c.isdigit())[-len(spec.cells):]
        elif spec.kind in ("date", "time", "phone"):
            for part, digits in zip(spec.parts, _spelt(values, spec.key, spec)):
                out[f"{spec.key}/{part}"] = digits
    return out


def harvest_page(aligned, template, written: dict[str, str], cnn) -> list[tuple[np.ndarray, str]]:
    """(line image, digits) for every number written on one aligned form page."""
    out = []
    for spec in template.fields:
        if spec.kind == "comb_digits" and spec.key in written:
            recorder = RecordingReader()
            read_comb_digits(aligned, template, spec, cnn, recorder)
            out += [(line, written[spec.key]) for line in recorder.lines]
        elif spec.kind in ("date", "time", "phone"):
            for part, box in spec.parts.items():
                key = f"{spec.key}/{part}"
                if key not in written:
                    continue
                recorder = RecordingReader()
                mask, _ = added_ink(aligned, template, template.px(box), pad=2)
                read_number(mask, tuple(spec.digits[part]), cnn, recorder)
                out += [(line, written[key]) for line in recorder.lines]
    return out


def aligned_forms(seed: int, indices: list[int], writers: str, formats: list[str] | None = None):
    """(fax index, truth row, template, aligned page) for each form page of the generated faxes ``indices``."""
    templates = load_templates()
    by_id = {t.id: t for t in templates}
    with tempfile.TemporaryDirectory() as tmp:
        for i in indices:
            data, ext, row = samplegen.make_fax(seed, i, writers, formats)
            path = Path(tmp) / f"fax{ext}"
            path.write_bytes(data)
            for page in load_pages(path):
                c = classify_page(page, templates)
                if c.form is None:
                    continue
                aligned = align_to_template(page, c, by_id[c.form])
                if aligned.ok:
                    yield i, row, by_id[c.form], aligned


def harvest_faxes(seed: int, indices: list[int]) -> tuple[list[np.ndarray], list[str], list[int]]:
    """(line images, digits, fax index) from the training-writer faxes ``indices`` of ``seed``."""
    cnn = OnnxDigitClassifier()
    lines, labels, fax_ids = [], [], []
    started = time.perf_counter()
    # As PNG: one page (no cover or privacy pages to skip); the fax channel is the same
    # whatever the file format.
    for n, (i, _, template, aligned) in enumerate(aligned_forms(seed, indices, "train", ["png"]), 1):
        for line, digits in harvest_page(aligned, template, written_numbers(seed, i, "train", template), cnn):
            lines.append(line)
            labels.append(digits)
            fax_ids.append(i)
        if n % 50 == 0:
            print(f"faxes {indices[0]}..: {n}/{len(indices)}, {len(labels)} lines, {time.perf_counter() - started:.0f}s", flush=True)
    return lines, labels, fax_ids


def harvest(count: int, seed: int, out_path: Path, jobs: int = 1) -> dict:
    if samplegen.assets.full_mnist_dir() is None:
        raise SystemExit(f"the training writers draw from every MNIST training digit: set {samplegen.assets.FULL_MNIST_ENV} "
                         "to a folder with the original MNIST files (samplegen/data/README.md says where they come from)")
    started = time.perf_counter()
    indices = list(range(1, count + 1))
    chunks = [indices[k::jobs] for k in range(jobs)]
    if jobs > 1:
        from multiprocessing import Pool

        with Pool(jobs) as pool:
            parts = pool.starmap(harvest_faxes, [(seed, c) for c in chunks])
    else:
        parts = [harvest_faxes(seed, indices)]
    # In fax order whatever the number of processes, so that training sees the same data.
    merged = sorted((item for p in parts for item in zip(*p)), key=lambda item: item[2])
    lines, labels, fax_ids = (list(column) for column in zip(*merged))
    widths = np.array([x.shape[1] for x in lines], np.int32)
    heights = np.array([x.shape[0] for x in lines], np.int32)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out_path, pixels=np.concatenate([x.ravel() for x in lines]), heights=heights, widths=widths,
                        labels=np.array(labels), fax=np.array(fax_ids, np.int32))
    meta = {"generator_seed": seed, "faxes": count, "writers": "train", "lines": len(labels),
            "seconds": round(time.perf_counter() - started)}
    out_path.with_suffix(".json").write_text(json.dumps(meta) + "\n", encoding="utf-8")
    print(json.dumps(meta), flush=True)
    return meta


def load_harvest(path: Path) -> tuple[list[np.ndarray], list[str], np.ndarray]:
    with np.load(path) as data:  # each access to a member decompresses it again: read each once
        pixels, heights, widths, labels, fax = (data[k] for k in ("pixels", "heights", "widths", "labels", "fax"))
    lines, start = [], 0
    for h, w in zip(heights, widths):
        lines.append(pixels[start : start + h * w].reshape(h, w))
        start += h * w
    return lines, [str(s) for s in labels], fax


# -- the network ---------------------------------------------------------------------------------

def build_model():
    import torch.nn as nn

    def block(c_in, c_out, pool):
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True), nn.MaxPool2d(pool)]

    class CRNN(nn.Module):
        """32 x W line -> W/4 frames of 11 class scores (blank, 0..9), before the softmax."""

        def __init__(self):
            super().__init__()
            # 32xW -> 16xW/2 -> 8xW/4 -> 4xW/4 -> 1xW/4
            self.features = nn.Sequential(*block(1, 16, 2), *block(16, 32, 2), *block(32, 48, (2, 1)), *block(48, 64, (4, 1)))
            self.rnn = nn.LSTM(64, 64, bidirectional=True, batch_first=True)
            self.out = nn.Linear(128, len(CLASSES))

        def forward(self, x):  # logits (N, T, C)
            f = self.features(x).squeeze(2).permute(0, 2, 1)
            return self.out(self.rnn(f)[0])

    return CRNN()


def with_softmax(model):
    """The network as shipped: softmax probabilities per frame, as PP-OCR's model gives them."""
    import torch

    class WithSoftmax(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return torch.softmax(self.inner(x), dim=-1)

    return WithSoftmax(model)


def augment(line: np.ndarray, rng: random.Random) -> np.ndarray:
    """A slightly different fax of the same line: shift, pen weight, width scale (dark ink on white)."""
    img = line
    if rng.random() < 0.3:
        k = np.ones((2, 2), np.uint8)
        img = cv2.erode(img, k) if rng.random() < 0.5 else cv2.dilate(img, k)
    h, w = img.shape
    sx = rng.uniform(0.9, 1.1)
    dx, dy = rng.uniform(-2, 2), rng.uniform(-2, 2)
    m = np.float32([[sx, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, m, (max(8, int(round(w * sx))), h), borderValue=255)


def synthetic_line(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A number in procedural pen-stroke digits (``digit_styles``: allographs MNIST lacks, no fonts,
    no KanjiVG), set one per cell or freely, then faxed as the runtime sees it: binary, sometimes
    at half the vertical resolution, with the reader's softening blur (dark ink on white)."""
    comb = rng.random() < 0.5
    digits = "".join(str(d) for d in rng.integers(0, 10, int(rng.choice([4, 6])) if comb else int(rng.integers(1, 6))))
    # A comb line is the whole row of cells; a free-space line is cropped to the ink plus 6 px.
    size = rng.uniform(34, 58) if comb else rng.uniform(24, 50)
    pitch = int(rng.integers(50, 60))
    glyphs = []
    for d in digits:
        g = digit_styles.stroke_digit(int(d), rng)
        ys, xs = np.nonzero(g < 128)
        g = g[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        scale = size * rng.uniform(0.85, 1.1) / g.shape[0]
        glyphs.append(cv2.resize(g, (max(2, int(g.shape[1] * scale)), max(2, int(g.shape[0] * scale))), interpolation=cv2.INTER_AREA))
    margin = 6
    height = int(rng.integers(70, 90)) if comb else max(g.shape[0] for g in glyphs) + 2 * margin + int(rng.integers(0, 4))
    if comb:
        width = pitch * len(digits) + 2 * margin
        lefts = [margin + k * pitch + (pitch - g.shape[1]) // 2 + int(rng.integers(-4, 5)) for k, g in enumerate(glyphs)]
    else:
        lefts, x = [], margin
        for g in glyphs:
            lefts.append(x)
            x += g.shape[1] + int(rng.integers(-2, 12))
        width = x + margin
    line = np.full((height, max(width, max(lx + g.shape[1] for lx, g in zip(lefts, glyphs)) + margin)), 255, np.uint8)
    for lx, g in zip(lefts, glyphs):
        top = min(height - g.shape[0], max(0, (height - g.shape[0]) // 2 + int(rng.integers(-5, 6))))
        lx = max(0, lx)
        region = line[top : top + g.shape[0], lx : lx + g.shape[1]]
        np.minimum(region, g[: region.shape[0], : region.shape[1]], out=region)
    if rng.random() < 0.45:  # standard resolution: every other scan line
        h, w = line.shape
        line = cv2.resize(cv2.resize(line, (w, h // 2), interpolation=cv2.INTER_AREA), (w, h), interpolation=cv2.INTER_NEAREST)
    line = np.where(line < rng.uniform(150, 210), 0, 255).astype(np.uint8)
    return cv2.GaussianBlur(line, (3, 3), 0), digits


def batches(items: list[int], lines, rng: random.Random, size: int):
    """Batches of similar width (less padding), in random order."""
    order = sorted(items, key=lambda i: lines[i].shape[1] / max(1, lines[i].shape[0]) + rng.random() * 0.3)
    groups = [order[k : k + size] for k in range(0, len(order), size)]
    rng.shuffle(groups)
    return groups


def tensor_batch(images: list[np.ndarray]):
    import torch

    xs = [prepare_line(im) for im in images]
    width = max(x.shape[1] for x in xs)
    batch = np.zeros((len(xs), 1, LINE_HEIGHT, width), np.float32)
    for i, x in enumerate(xs):
        batch[i, 0, :, : x.shape[1]] = x
    return torch.from_numpy(batch), [x.shape[1] // WIDTH_STEP for x in xs]


def greedy(probs: np.ndarray) -> str:
    """The digits on the likeliest path (greedy CTC decoding, as the runtime decodes)."""
    return "".join(DIGITS[c - 1] for c in best_path(np.log(np.maximum(probs, 1e-12))).labels)


def evaluate(model, lines, labels, items) -> float:
    import torch

    model.eval()
    right = 0
    with torch.no_grad():
        for k in range(0, len(items), 64):
            idx = items[k : k + 64]
            x, frames = tensor_batch([lines[i] for i in idx])
            probs = torch.softmax(model(x), -1).numpy()
            right += sum(greedy(probs[j, : frames[j]]) == labels[i] for j, i in enumerate(idx))
    model.train()
    return right / max(1, len(items))


def train(harvest_path: Path, minutes: float, seed: int, out: Path, synthetic_every: int = 4) -> dict:
    """Train for ``minutes`` on the harvest (every ``synthetic_every``-th batch procedural lines
    instead; 0 for none), keep the epoch best on the held-out faxes, export it."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    lines, labels, fax = load_harvest(harvest_path)
    faxes = sorted(set(fax.tolist()))
    held = set(random.Random(seed + 1).sample(faxes, int(len(faxes) * VALIDATION_SHARE)))
    train_items = [i for i in range(len(lines)) if fax[i] not in held]
    val_items = [i for i in range(len(lines)) if fax[i] in held]
    model = build_model()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    total_s = minutes * 60
    started = time.perf_counter()
    epoch, steps, best = 0, 0, (-1.0, None, 0)
    while time.perf_counter() - started < total_s:
        epoch += 1
        for idx in batches(train_items, lines, rng, 32):
            elapsed = time.perf_counter() - started
            if elapsed >= total_s:
                break
            for g in opt.param_groups:  # cosine decay over the time budget
                g["lr"] = 2e-3 * 0.5 * (1 + np.cos(np.pi * elapsed / total_s))
            images, texts = [augment(lines[i], rng) for i in idx], [labels[i] for i in idx]
            if synthetic_every and steps % synthetic_every == synthetic_every - 1:
                images, texts = map(list, zip(*(synthetic_line(np_rng) for _ in idx)))
            x, frames = tensor_batch(images)
            targets = [torch.tensor([DIGITS.index(c) + 1 for c in t]) for t in texts]
            log_probs = F.log_softmax(model(x), -1).permute(1, 0, 2)  # (T, N, C)
            loss = F.ctc_loss(log_probs, torch.cat(targets), torch.tensor(frames), torch.tensor([len(t) for t in targets]),
                              blank=0, zero_infinity=True)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            steps += 1
        acc = evaluate(model, lines, labels, val_items)
        print(f"epoch {epoch}: {steps} steps, loss {loss.item():.3f}, validation {acc:.4f}, "
              f"{time.perf_counter() - started:.0f}s", flush=True)
        if acc >= best[0]:
            best = (acc, {k: v.clone() for k, v in model.state_dict().items()}, epoch)
    model.load_state_dict(best[1])
    model.eval()
    export(model, out)
    config = {"classes": CLASSES, "input_name": "input", "input_height": LINE_HEIGHT, "frame_width": WIDTH_STEP,
              "val_number_accuracy": round(best[0], 4), "epoch": best[2], "epochs": epoch,
              "train_lines": len(train_items), "val_lines": len(val_items),
              "synthetic_batches": f"1 in {synthetic_every}" if synthetic_every else "none",
              "harvest": json.loads(harvest_path.with_suffix(".json").read_text()), "seed": seed,
              "train_minutes": round((time.perf_counter() - started) / 60, 1),
              "parameters": sum(p.numel() for p in model.parameters()),
              "trained": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d")}
    out.with_suffix(".json").write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(config), flush=True)
    return config


def export(model, out: Path) -> None:
    import torch

    wrapped = with_softmax(model).eval()
    example = torch.zeros(1, 1, LINE_HEIGHT, 64)
    torch.onnx.export(wrapped, example, str(out), input_names=["input"], output_names=["probs"],
                      dynamic_axes={"input": {0: "batch", 3: "width"}, "probs": {0: "batch", 1: "frames"}},
                      opset_version=17, dynamo=False)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("step", choices=("all", "harvest", "train"))
    ap.add_argument("--count", type=int, default=700, help="training-writer faxes to harvest")
    ap.add_argument("--seed", type=int, default=7301, help="generator seed; must differ from benchmark and calibration seeds")
    ap.add_argument("--jobs", type=int, default=1, help="harvest processes")
    ap.add_argument("--harvest", type=Path, default=HARVEST)
    ap.add_argument("--minutes", type=float, default=20.0,
                    help="training time budget (how many steps fit depends on the machine: the shipped model made 2,393 in 7 epochs)")
    ap.add_argument("--train-seed", type=int, default=0)
    ap.add_argument("--synthetic-every", type=int, default=4,
                    help="every N-th batch is procedural pen-stroke lines (0: harvest only)")
    ap.add_argument("--out", type=Path, default=MODEL)
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.step in ("all", "harvest"):
        harvest(args.count, args.seed, args.harvest, args.jobs)
    if args.step in ("all", "train"):
        train(args.harvest, args.minutes, args.train_seed, args.out, args.synthetic_every)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
