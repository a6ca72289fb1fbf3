"""``intake bench``: the same benchmark as ``python -m bench``."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("bench", help="benchmark accuracy and speed on freshly generated faxes", add_help=False)
    p.add_argument("bench_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=lambda args: __import__("bench.run", fromlist=["main"]).main(args.bench_args))
