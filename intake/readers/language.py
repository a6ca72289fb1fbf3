"""How natural a Japanese string is: the cost of its best analysis into dictionary words.

A keyer who sees 常業部 in a department box reads 営業部, because one is a word and the
other is not. The text reader asks the same question of its candidate readings: the
morphological analyser Janome, with the IPAdic dictionary it ships (nouns, verbs, and
tens of thousands of surnames, given names, places and organisations), finds the cheapest
split of a string into words; a misread character usually breaks a word into rare
single characters or an unknown word, and the cost jumps by thousands.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

from intake.errors import EngineError
from intake.reasons import Reason


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
        return _analyse(self, "".join(text.split()))[0]

    def doubts(self, text: str, content: str = "words") -> tuple[Reason, ...]:
        """Reasons a keyer would look twice at ``text``, even when the recogniser is sure.

        The lexicon only chooses among the recogniser's alternatives; when the true character
        is not among them (営 read as 首), the choice is a confident non-word. These signs catch
        most of those without flagging real words (measured on lists of real surnames, given
        names, company and department names):
        - ``words``: two single kanji in a row that form no word (首業, 世業), numbers aside;
          a run of two or more kanji the dictionary cannot place at all (企面室 for 企画室);
          or two dash-like marks in a row (ーー, -一): one stroke read twice; or the same
          kana twice in a word the dictionary does not know (ソリリューション);
        - ``person_name``: a given name of one kanji that the dictionary knows only as a
          common noun (聯, 意), not as a name. Modern two-kanji names are not judged: the
          dictionary splits many of them (陽菜) although they are real;
        - both: the signs of a character read twice (ーー, -一, ソリリューション).
        """
        tokens = _analyse(self, "".join(text.split()))[1]
        read_twice = [Reason.of("text_doubled_char", chars=m) for m in _DASH_RUN.findall(text)]
        read_twice += [Reason.of("text_doubled_char", chars=m.group(0), word=w)
                       for w, pos in tokens if pos == _UNKNOWN for m in _DOUBLED_KANA.finditer(w)]
        if content == "person_name":
            given = tokens[1:]
            if len(given) == 1 and _KANJI.fullmatch(given[0][0]) and given[0][1] != "人名":
                return (Reason.of("text_name_unknown"),) + tuple(read_twice)
            return tuple(read_twice)
        pairs = [a + b for (a, pa), (b, pb) in zip(tokens, tokens[1:])
                 if _KANJI.fullmatch(a) and _KANJI.fullmatch(b) and pa not in _NUMBERS and pb not in _NUMBERS]
        out = [Reason.of("text_not_a_word", word=p) for p in pairs]
        # Company and department names are compounds of known words (株式会社ジャパネットたかた,
        # 経営企画室): of 87 real ones and 953 right readings on development faxes, none held an
        # unknown kanji run, while 6 of the 41 misread ones (all departments) did.
        out += [Reason.of("text_not_a_word", word=w) for w, pos in tokens if pos == _UNKNOWN and len(_KANJI.findall(w)) >= 2]
        return tuple(out + read_twice)


_KANJI = re.compile(r"[\u4e00-\u9fff\u3005]")  # one CJK ideograph or 々
# A long-vowel mark, a hyphen or the kanji 一 next to another: no name or department has
# that, but one horizontal stroke read as two does (カスタマーーサポート, 第-一営業部).
_DASH_RUN = re.compile(r"[ー\-‐‑–—―−一]{2,}")
# The same kana twice in a word the dictionary does not know: CTC read one character twice
# (ソリリューション). Real doubles (ささき, ココア) are dictionary words.
_DOUBLED_KANA = re.compile(r"([\u3041-\u3096\u30a1-\u30fa])\1")
_NUMBERS = {"数", "数接続"}  # 第一, 二課: numerals stand alone by nature
_UNKNOWN = "?"  # the part of speech given to a run the dictionary has no entry for


@lru_cache(maxsize=20000)
def _analyse(lexicon: JapaneseLexicon, text: str) -> tuple[float, tuple[tuple[str, str], ...]]:
    """The lattice cost of ``text`` and its tokens as (surface, finer part of speech): 人名 for
    a name, 数 for a numeral, ``_UNKNOWN`` for a run with no dictionary entry. One
    tokenisation serves both ``cost`` and ``doubts``."""
    if not text:
        return 0.0, ()
    with lexicon._lock:
        tokens = list(lexicon._ensure().tokenize(text))
    if not tokens:
        return 0.0, ()
    out = []
    for t in tokens:
        pos = t.part_of_speech.split(",")
        out.append((t.surface, _UNKNOWN if t.node_type == "UNKNOWN" else pos[2] if pos[1] == "固有名詞" else pos[1]))
    # Each node carries the cost of the best path up to and including it.
    return float(tokens[-1].node.min_cost), tuple(out)
