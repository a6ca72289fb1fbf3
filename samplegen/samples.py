"""The small committed sample set in ``samples/``: one fax per interesting case, plus bad inputs.

Rebuild with ``python -m samplegen --sample-set samples`` (same bytes every time).
"""

from __future__ import annotations

from pathlib import Path

from samplegen import generate

SEED = 20260
# Hand-picked cases; everything not pinned here (values, handwriting, noise) comes from the seed.
CASES = {
    1: {"format": "tiff-g4", "resolution": "fine", "flip": False, "extra_pages": []},
    2: {"format": "tiff-g3", "resolution": "standard", "flip": False, "extra_pages": []},
    3: {"format": "tiff-g4", "resolution": "fine", "flip": True, "extra_pages": []},
    4: {"format": "tiff-g4", "resolution": "standard", "flip": False, "extra_pages": ["privacy", "notes"]},
    5: {"format": "pdf", "resolution": "fine", "flip": False, "extra_pages": []},
    6: {"format": "png", "resolution": "fine", "flip": False, "extra_pages": []},
    7: {"format": "tiff-g3", "resolution": "fine", "flip": False, "extra_pages": ["cover", "blank"]},
    8: {"format": "tiff-raw", "resolution": "standard", "flip": False, "extra_pages": []},
}


def make_sample_set(out_dir) -> list[dict]:
    out = Path(out_dir)
    rows = generate(out, len(CASES), SEED, writers="test", overrides=CASES)
    bad = out / "bad"
    bad.mkdir(exist_ok=True)
    (bad / "empty.tif").write_bytes(b"")
    (bad / "truncated.tif").write_bytes((out / rows[0]["file"]).read_bytes()[:3000])
    (bad / "not_a_pdf.pdf").write_text("This is a plain text file that was renamed to .pdf.\n", encoding="utf-8")
    return rows
