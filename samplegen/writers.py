"""Who fills the forms: the registry of writer populations behind ``--writers``.

A population is one source of writing. Every form is written entirely by one population
(the truth row's ``writers`` names it), so the benchmark can score each population apart and
say which models ever saw it. ``populations`` draws each form's population at random from the
registry (``mix`` weights), so one run covers them all.

Each population has its own random stream, so adding a population never changes the faxes
of another: ``test`` (the older mix), ``train`` and ``fonts`` keep their streams and bytes.
A new population (for example forms typed on a computer) is one ``register`` call with a
fresh stream number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from samplegen import assets


def _handwritten(values, rng: np.random.Generator, name: str) -> tuple[np.ndarray, dict]:
    from samplegen.fill import make_form_image

    return make_form_image(values, rng, name), {}


def _debian_fonts_missing() -> str | None:
    missing = assets.missing_system_fonts()
    if not missing:
        return None
    return (f"{len(missing)} handwriting font(s) missing, e.g. {missing[0]}; install them with: "
            f"apt-get install -y {' '.join(assets.SYSTEM_FONT_PACKAGES)}")


@dataclass(frozen=True)
class Population:
    """One writer population: how it fills a form and what it is for."""

    name: str
    stream: int  # the fax's random stream: [seed, index, stream]; never reused
    description: str
    sources: frozenset[str]  # the writing material it draws from (see SOURCES), to tell what a model ever saw
    mix: float = 0.0  # share of forms it writes under ``populations`` (0 = never drawn there)
    # (values, rng, population name) -> (clean 200-dpi form page, extra keys for the truth row)
    fill: Callable[..., tuple[np.ndarray, dict]] = field(default=_handwritten, repr=False, compare=False)
    missing: Callable[[], str | None] = field(default=lambda: None, repr=False, compare=False)  # why it cannot run


POPULATIONS: dict[str, Population] = {}
ALIASES = {"fonts": "debian-fonts"}  # the older name, same stream and bytes
MIXED = "populations"  # each form drawn from one population at random
MIXED_ALIASES = ("all",)
MIXED_STREAM = 14
POPULATION_DRAW_STREAM = 8  # the draw of a form's population, apart from everything else on the fax


def register(population: Population) -> Population:
    taken = {p.stream: p.name for p in POPULATIONS.values()} | {MIXED_STREAM: MIXED}
    if population.stream in taken and taken[population.stream] != population.name:
        raise ValueError(f"stream {population.stream} already belongs to {taken[population.stream]!r}")
    POPULATIONS[population.name] = population
    return population


# The writing material populations draw from. A model trained or tuned on a --writers choice has seen
# every source of that choice; the benchmark uses this to say which populations are held out.
SOURCES = {
    "mnist-train": "MNIST writers 0-49,999",
    "mnist-held-out": "MNIST writers 55,000-59,999",
    "bundled-fonts": "the bundled handwriting fonts Yomogi, Yusei Magic, Reggae One",
    "kanjivg": "KanjiVG stroke data drawn with a wobbling pen",
    "debian-fonts": "Debian handwriting fonts (Klee, kiloji, dkg, Because We Had To, Humor Sans)",
    "blocky": "a few pen points on a coarse tablet grid joined by thick straight strokes, drawn small and scaled up",
    "print-dev": "forms typed on a computer in the development print fonts (IPA Gothic/Mincho, Sawarabi Mincho)",
    "print-held-out": "forms typed on a computer in the held-out print fonts (VL Gothic, Sawarabi Gothic, Motoya, M+)",
}
register(Population("train", 0, "training writers: MNIST 0-49,999 only", frozenset({"mnist-train"})))
register(Population("test", 1, "the older evaluation mix: held-out MNIST, bundled-font and KanjiVG digits on one form",
                    frozenset({"mnist-held-out", "bundled-fonts", "kanjivg"})))
register(Population("debian-fonts", 2, SOURCES["debian-fonts"], frozenset({"debian-fonts"}), mix=0.18,
                    missing=_debian_fonts_missing))
register(Population("mnist", 10, SOURCES["mnist-held-out"] + " (text in KanjiVG strokes)",
                    frozenset({"mnist-held-out", "kanjivg"}), mix=0.18))
register(Population("bundled-fonts", 11, SOURCES["bundled-fonts"], frozenset({"bundled-fonts"}), mix=0.18))
register(Population("kanjivg", 12, SOURCES["kanjivg"], frozenset({"kanjivg"}), mix=0.18))
register(Population("blocky", 13, SOURCES["blocky"], frozenset({"blocky"}), mix=0.18))


# -- forms typed on a computer (samplegen.typed): about one form in ten ------------------------
def _typed(values, rng: np.random.Generator, name: str) -> tuple[np.ndarray, dict]:
    from samplegen.typed import make_typed_form

    page, how = make_typed_form(values, rng, name)
    return page, {"typed": how}


def _print_fonts_missing(name: str) -> str | None:
    from samplegen.typed import missing_fonts

    files, packages = missing_fonts(name)
    if not files:
        return None
    return (f"{len(files)} print font(s) for --writers {name} missing, e.g. {files[0]}; install them with: "
            f"apt-get install -y {' '.join(packages)}")


register(Population("typed", 15, SOURCES["print-held-out"], frozenset({"print-held-out"}), mix=0.1, fill=_typed,
                    missing=lambda: _print_fonts_missing("typed")))
register(Population("typed-dev", 16, SOURCES["print-dev"], frozenset({"print-dev"}), fill=_typed,
                    missing=lambda: _print_fonts_missing("typed-dev")))


def canonical(name: str) -> str:
    """The registry name behind a ``--writers`` choice (``fonts`` is ``debian-fonts``; ``all`` is ``populations``)."""
    if name in MIXED_ALIASES:
        return MIXED
    return ALIASES.get(name, name)


def choices() -> list[str]:
    """Every name ``--writers`` accepts."""
    return [*POPULATIONS, *ALIASES, MIXED, *MIXED_ALIASES]


def stream(name: str) -> int:
    """The random stream of a ``--writers`` choice."""
    name = canonical(name)
    if name == MIXED:
        return MIXED_STREAM
    if name not in POPULATIONS:
        raise ValueError(f"writers must be one of {', '.join(choices())}, not {name!r}")
    return POPULATIONS[name].stream


def mixed() -> dict[str, float]:
    """The populations ``populations`` draws from, with their shares (summing to 1)."""
    weights = {n: p.mix for n, p in POPULATIONS.items() if p.mix > 0}
    total = sum(weights.values())
    return {n: w / total for n, w in weights.items()}


def population_of(name: str, seed: int, index: int) -> str:
    """Which population writes fax ``index``: the choice itself, or under ``populations`` a draw of its own."""
    name = canonical(name)
    if name != MIXED:
        stream(name)  # rejects an unknown name
        return name
    shares = mixed()
    rng = np.random.default_rng([seed, index, MIXED_STREAM, POPULATION_DRAW_STREAM])
    return str(rng.choice(list(shares), p=list(shares.values())))


def missing_material(drawn: set[str]) -> str | None:
    """Why one of the ``drawn`` populations cannot write here (fonts not installed), or None."""
    for name in sorted(drawn):
        if why := POPULATIONS[name].missing():
            return why
    return None
