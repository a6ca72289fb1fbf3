"""Command line: ``python -m samplegen --out DIR --count N --seed S [--writers POPULATION|populations] [--formats ...]``
or ``python -m samplegen --sample-set samples`` for the committed sample set."""

from __future__ import annotations

import argparse
import sys
import time

from samplegen import FORMATS, generate
from samplegen import writers as populations
from samplegen.typed import PRINT_FONT_PACKAGES
from samplegen.assets import SYSTEM_FONT_PACKAGES
from samplegen.layout import LAYOUTS
from samplegen.layout import parse as parse_layouts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m samplegen", description="Write synthetic faxed forms with truth.jsonl.")
    p.add_argument("--out", help="output folder (created if missing)")
    p.add_argument("--sample-set", metavar="DIR", help="write the committed sample set (samples/) into DIR instead")
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--writers", choices=populations.choices(), default="test",
                   help="train: MNIST 0-49,999 only; test: MNIST 55,000-59,999 mixed with font/KanjiVG digits; "
                        "one population per form: mnist (55,000-59,999), bundled-fonts, kanjivg, blocky, debian-fonts "
                        f"(alias fonts; apt-get install {' '.join(SYSTEM_FONT_PACKAGES)}), typed (filled on a computer in "
                        "held-out print fonts; typed-dev: in the development print fonts; apt-get install "
                        f"{' '.join(PRINT_FONT_PACKAGES)}); populations (alias all): each form's population drawn at random")
    p.add_argument("--formats", default="", help=f"comma-separated subset of {','.join(FORMATS)} (default: a mix)")
    p.add_argument("--layouts", default="full",
                   help="how the form is put on paper: full (default, the form at its size), mixed (70%% full, the rest "
                        "shared by the layouts below) or a comma-separated list of " + ", ".join(LAYOUTS[1:]) +
                        " and scale-NN (45..135)")
    p.add_argument("--register", action="store_true",
                   help="also write a contract register and staff directory for the set into OUT/register/")
    a = p.parse_args(argv)
    if a.sample_set:
        from samplegen.samples import make_sample_set

        make_sample_set(a.sample_set)
        return 0
    if not a.out:
        p.error("--out is required")
    formats = [f.strip() for f in a.formats.split(",") if f.strip()] or None
    if formats and (bad := [f for f in formats if f not in FORMATS]):
        p.error(f"unknown format(s) {bad}; choose from {','.join(FORMATS)}")
    if a.count < 1:
        p.error("--count must be at least 1")
    try:
        layouts = parse_layouts(a.layouts)
    except ValueError as exc:
        p.error(str(exc))
    t0 = time.perf_counter()
    try:
        rows = generate(a.out, a.count, a.seed, a.writers, formats, layouts=layouts)
    except FileNotFoundError as exc:
        print(f"samplegen: {exc}", file=sys.stderr)
        return 2
    if a.register:
        from pathlib import Path

        from samplegen.register import make_register

        make_register(rows, a.seed, Path(a.out) / "register")
    dt = time.perf_counter() - t0
    print(f"wrote {a.count} faxes to {a.out} in {dt:.1f} s ({dt / a.count:.2f} s each)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
