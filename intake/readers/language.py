"""How natural a Japanese string is: the cost of its best analysis into dictionary words.

A keyer who sees 常業部 in a department box reads 営業部, because one is a word and the
other is not. The text reader asks the same question of its candidate readings: the
morphological analyser Janome, with the IPAdic dictionary it ships (nouns, verbs, and
tens of thousands of surnames, given names, places and organisations), finds the cheapest
split of a string into words; a misread character usually breaks a word into rare
single characters or an unknown word, and the cost jumps by thousands.
"""

from __future__ import annotations

import threading
from functools import lru_cache

from intake.errors import EngineError


class JapaneseLexicon:
    """Word-lattice cost of a string (lower is more natural). Loaded on first use; thread-safe."""

    name = "janome-ipadic"

    def __init__(self) -> None:
        self._tokenizer = None
        self._lock = threading.Lock()

    def _ensure(self):
        if self._tokenizer is None:
            try:
                from janome.tokenizer import Tokenizer
            except ImportError as exc:  # pragma: no cover - janome is a hard dependency
                raise EngineError("the janome package is missing; reinstall fax-intake (pip install -e .)") from exc
            self._tokenizer = Tokenizer()
        return self._tokenizer

    def cost(self, text: str) -> float:
        """The cost of the cheapest path through the word lattice (spaces ignored; empty is 0)."""
        return _cached_cost(self, "".join(text.split()))


@lru_cache(maxsize=20000)
def _cached_cost(lexicon: JapaneseLexicon, text: str) -> float:
    if not text:
        return 0.0
    with lexicon._lock:
        tokens = list(lexicon._ensure().tokenize(text))
    # Each node carries the cost of the best path up to and including it.
    return float(tokens[-1].node.min_cost) if tokens else 0.0
