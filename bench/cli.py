"""``intake bench``: the same benchmark as ``python -m bench``."""

from __future__ import annotations


def register(sub) -> None:
    from bench.run import __doc__ as doc
    from bench.run import add_arguments, run

    p = sub.add_parser("bench", help="benchmark accuracy and speed on freshly generated faxes", description=doc)
    add_arguments(p)
    p.set_defaults(func=run)
