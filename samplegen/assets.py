"""Read-only handwriting material bundled in ``samplegen/data``, loaded lazily and cached.

Everything here is loaded once per process: MNIST digits, font glyph masks,
KanjiVG stroke polylines and the rendered privacy/notes pages of the official PDF.
The bundle holds only what the generator draws (``tools/vendor_data.py`` makes it; its
README gives sources and licences). Training the digit model needs every MNIST digit:
``SAMPLEGEN_MNIST=DIR`` points at a folder with the two original IDX files.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import subprocess
import tarfile
import tempfile
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

DATA = Path(__file__).resolve().parent / "data"
FULL_MNIST_ENV = "SAMPLEGEN_MNIST"
CACHE = Path(os.environ.get("SAMPLEGEN_CACHE", Path.home() / ".cache" / "intake-samplegen"))

FONTS = ("Yomogi", "YuseiMagic", "ReggaeOne")

# Handwriting fonts from Debian packages, used only by ``--writers fonts``. No model,
# threshold or development set was ever fitted on them, so they show how the product does
# on hands it was not built around. Text fonts have kana and kanji; the others digits only.
SYSTEM_FONT_PACKAGES = ("fonts-klee", "fonts-kiloji", "fonts-dkg-handwriting", "fonts-bwht", "fonts-humor-sans")
SYSTEM_TEXT_FONTS = {
    "KleeOne": "/usr/share/fonts/truetype/klee/KleeOne-Regular.ttf",
    "KleeOneSemiBold": "/usr/share/fonts/truetype/klee/KleeOne-SemiBold.ttf",
    "kiloji": "/usr/share/fonts/truetype/kiloji/kiloji.ttf",
    "kiloji_p": "/usr/share/fonts/truetype/kiloji/kiloji_p.ttf",
}
SYSTEM_DIGIT_FONTS = {
    **SYSTEM_TEXT_FONTS,
    "DkgHandwriting": "/usr/share/fonts/truetype/fifthhorseman/dkg.ttf",
    "DkgHandwritingItalic": "/usr/share/fonts/truetype/fifthhorseman/dkgIt.ttf",
    **{f"BecauseWe{k}": f"/usr/share/fonts/opentype/bwht/BecauseWe{k}-Regular.otf"
       for k in ("Build", "Connect", "Create", "Learn", "Mentor", "Organize")},
    "HumorSans": "/usr/share/fonts/truetype/humor-sans/Humor-Sans.ttf",
}
FALLBACK_SYSTEM_FONT = "KleeOne"  # for a character a system font lacks (kiloji has few kanji)


def missing_system_fonts() -> list[str]:
    """Paths of the ``--writers fonts`` fonts that are not installed."""
    return [p for p in SYSTEM_DIGIT_FONTS.values() if not Path(p).is_file()]

# MNIST index ranges. 50,000..54,999 is the recogniser's validation set and is never drawn here.
MNIST_TRAIN = (0, 50_000)
MNIST_TEST = (55_000, 60_000)


class MissingDataError(FileNotFoundError):
    """Material the generator needs is not where it should be (the message says how to get it)."""


def full_mnist_dir() -> Path | None:
    """The folder of the original MNIST training files, when ``$SAMPLEGEN_MNIST`` names one."""
    folder = os.environ.get(FULL_MNIST_ENV)
    return Path(folder) if folder else None


@lru_cache(maxsize=1)
def _mnist_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(original MNIST index, images with 255 = ink, labels): the full set or the bundled subset."""
    folder = full_mnist_dir()
    if folder is None:
        with np.load(DATA / "mnist-subset.npz") as z:
            return z["index"], z["images"], z["labels"]
    try:
        with gzip.open(folder / "train-images-idx3-ubyte.gz") as f:
            images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
        with gzip.open(folder / "train-labels-idx1-ubyte.gz") as f:
            labels = np.frombuffer(f.read(), np.uint8, offset=8)
    except FileNotFoundError:
        raise MissingDataError(
            f"{FULL_MNIST_ENV}={folder} holds no train-images-idx3-ubyte.gz / train-labels-idx1-ubyte.gz; "
            "place the original MNIST training files there (samplegen/data/README.md says where they come from)"
        ) from None
    return np.arange(len(labels)), images, labels


def mnist() -> tuple[np.ndarray, np.ndarray]:
    """(images[N, 28, 28] uint8 with 255 = ink, labels[N]); ``mnist_index`` gives positions into them."""
    _, images, labels = _mnist_arrays()
    return images, labels


@lru_cache(maxsize=2)
def mnist_index(lo: int, hi: int) -> dict[int, np.ndarray]:
    """For each digit, the positions (into ``mnist()``) of the MNIST digits with index in [lo, hi)."""
    index, _, labels = _mnist_arrays()
    inside = np.flatnonzero((index >= lo) & (index < hi))
    return {d: inside[labels[inside] == d] for d in range(10)}


@lru_cache(maxsize=32)
def font(name: str, size: int = 96) -> ImageFont.FreeTypeFont:
    path = SYSTEM_DIGIT_FONTS.get(name) or DATA / "fonts" / f"{name}-Regular.ttf"  # bundled fonts are subsets
    return ImageFont.truetype(str(path), size)


def _render(ch: str, name: str) -> np.ndarray:
    canvas = Image.new("L", (160, 160), 0)
    ImageDraw.Draw(canvas).text((80, 80), ch, font=font(name), fill=255, anchor="mm")
    return np.asarray(canvas)


@lru_cache(maxsize=32)
def _missing_glyph(name: str) -> bytes:
    return _render("\uffff", name).tobytes()  # a noncharacter: every font draws its "missing" box


@lru_cache(maxsize=4096)
def font_glyph(ch: str, name: str) -> np.ndarray:
    """The tight ink mask (float32, 1 = ink) of one character, rendered at 96 px."""
    a = _render(ch, name)
    if name in SYSTEM_DIGIT_FONTS and ch.strip() and (not a.any() or a.tobytes() == _missing_glyph(name)):
        a = _render(ch, FALLBACK_SYSTEM_FONT)
    return _crop(a.astype(np.float32) / 255.0)


def _crop(a: np.ndarray, pad: int = 1) -> np.ndarray:
    ys, xs = np.nonzero(a > 0.05)
    if len(xs) == 0:
        return np.zeros((1, 1), np.float32)
    return np.ascontiguousarray(a[max(0, ys.min() - pad): ys.max() + 1 + pad, max(0, xs.min() - pad): xs.max() + 1 + pad])


# -- KanjiVG ---------------------------------------------------------------------

_TOKEN = re.compile(r"[MmCcSsLlHhVvZz]|-?(?:\d+\.?\d*|\.\d+)(?:e-?\d+)?")


def parse_path(d: str, samples: int = 10) -> np.ndarray:
    """An SVG path (the subset KanjiVG uses) as one polyline in 109x109 units."""
    toks = _TOKEN.findall(d)
    pts: list[tuple[float, float]] = []
    cur = np.zeros(2)
    start = np.zeros(2)
    last_ctrl = None
    cmd = None
    i = 0
    t = np.linspace(0, 1, samples)[1:, None]

    def nums(n):
        nonlocal i
        vals = [float(v) for v in toks[i:i + n]]
        i += n
        return vals

    while i < len(toks):
        if toks[i].isalpha():
            cmd = toks[i]
            i += 1
        rel = cmd.islower()
        base = cur if rel else np.zeros(2)
        c = cmd.upper()
        if c == "M":
            cur = base + nums(2)
            start = cur.copy()
            pts.append(tuple(cur))
            cmd = "l" if rel else "L"  # implicit lineto after moveto
            last_ctrl = None
        elif c == "L":
            cur = base + nums(2)
            pts.append(tuple(cur))
            last_ctrl = None
        elif c in "HV":
            v = nums(1)[0]
            cur = cur.copy()
            k = 0 if c == "H" else 1
            cur[k] = (cur[k] if rel else 0) + v
            pts.append(tuple(cur))
            last_ctrl = None
        elif c in "CS":
            if c == "C":
                v = nums(6)
                p1, p2, p3 = base + v[0:2], base + v[2:4], base + v[4:6]
            else:
                v = nums(4)
                p1 = 2 * cur - last_ctrl if last_ctrl is not None else cur.copy()
                p2, p3 = base + v[0:2], base + v[2:4]
            curve = ((1 - t) ** 3) * cur + 3 * ((1 - t) ** 2) * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3
            pts.extend(map(tuple, curve))
            last_ctrl, cur = p2, p3
        elif c == "Z":
            cur = start.copy()
            pts.append(tuple(cur))
        else:  # pragma: no cover - not used by KanjiVG
            raise ValueError(f"unsupported path command {cmd}")
    return np.array(pts, np.float32)


@lru_cache(maxsize=1)
def _kanjivg_all() -> dict[str, str]:
    """The SVG text of every base (non-variant) KanjiVG character. ~1 s, once."""
    out: dict[str, list[np.ndarray]] = {}
    with tarfile.open(DATA / "kanjivg-subset.tar.gz") as tf:
        for m in tf:
            name = m.name.rsplit("/", 1)[-1]
            if not name.endswith(".svg") or "-" in name:
                continue
            code = int(name[:-4], 16)
            svg = tf.extractfile(m).read().decode("utf-8")
            out[chr(code)] = svg  # parsed on demand below
    return out


@lru_cache(maxsize=2048)
def kanjivg_strokes(ch: str) -> list[np.ndarray] | None:
    """The strokes of ``ch`` (polylines in 109x109 units), or None when KanjiVG lacks it."""
    svg = _kanjivg_all().get(ch)
    if svg is None:
        return None
    body = svg.split("StrokeNumbers")[0]
    return [parse_path(d) for d in re.findall(r'<path[^>]*\sd="([^"]+)"', body)]


# -- official PDF pages ------------------------------------------------------------


def form_pdf() -> Path:
    """The official three-page document, kept beside its template."""
    from intake.template import templates_root

    return templates_root() / "teledome_stop_request" / "teledome_stop_request.pdf"


@lru_cache(maxsize=4)
def pdf_page(page: int) -> np.ndarray:
    """Page ``page`` (1-based) of the official PDF at 200 dpi, greyscale; cached on disk."""
    digest = hashlib.sha256(form_pdf().read_bytes()).hexdigest()[:12]
    path = CACHE / f"form_{digest}_p{page}_200.png"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["pdftoppm", "-gray", "-r", "200", "-f", str(page), "-l", str(page), "-png",
                            str(form_pdf()), f"{tmp}/p"], check=True, capture_output=True)
            produced = next(Path(tmp).glob("p*.png"))
            path.write_bytes(produced.read_bytes())
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    return img
