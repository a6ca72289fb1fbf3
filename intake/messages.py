"""Words for the desk: every review reason and desk message rendered per language from its code.

Japanese is the desk's language and the default; English is a switch (``--lang en``, or a
locale whose language is not Japanese when ``INTAKE_LANG`` is unset). Each catalogue entry is a
``str.format`` pattern over the reason's values plus ``fields`` (the field labels joined).
Plain words, not probabilities: a reviewer reads "読み取りが一致しません (6979 / 6479)".
"""

from __future__ import annotations

import locale
import os
from typing import Callable, Mapping

from intake.reasons import Reason

LANGUAGES = ("ja", "en")
DEFAULT_LANGUAGE = "ja"

CATALOGUE: dict[str, dict[str, str]] = {
    "ja": {
        "readers_disagree": "要確認: 読み取りが一致しません ({first} / {second})",
        "low_confidence": "要確認: 読み取りに自信がありません",
        "alignment_failed": "要確認: 用紙の位置を合わせられません (罫線の一致 {quality})",
        "register:number_not_held": "要確認: テレドーム番号 {number} はどの契約者の番号でもありません",
        "register:number_held_by_other": "要確認: テレドーム番号 {number} は別の契約者の番号です",
        "register:plan_not_on_number": "要確認: 企画番号 {plan} はテレドーム番号 {number} の企画ではありません",
        "register:contractor_unknown": "要確認: ご契約者名が契約台帳にありません",
        "register:staff_mismatch": "要確認: NTT担当者の{fields}が社員名簿と一致しません",
        "legacy": "要確認: {text}",
        "unknown": "要確認 ({code})",
    },
    "en": {
        "readers_disagree": "check: the readers disagree ({first} / {second})",
        "low_confidence": "check: the reading is uncertain",
        "alignment_failed": "check: the page could not be aligned to the form (lines matched {quality})",
        "register:number_not_held": "check: Teledome number {number} is held by no contractor",
        "register:number_held_by_other": "check: Teledome number {number} is held by another contractor",
        "register:plan_not_on_number": "check: plan {plan} does not run on Teledome number {number}",
        "register:contractor_unknown": "check: the contractor name is not in the contract register",
        "register:staff_mismatch": "check: the NTT contact's {fields} does not match the staff directory",
        "legacy": "check: {text}",
        "unknown": "check ({code})",
    },
}


def language(requested: str | None = None) -> str:
    """The language to speak: the one asked for, else ``$INTAKE_LANG``, else the locale, else Japanese."""
    for candidate in (requested, os.environ.get("INTAKE_LANG")):
        if candidate:
            lang = candidate.lower()[:2]
            if lang not in LANGUAGES:
                raise ValueError(f"unknown language {candidate!r}; use one of {', '.join(LANGUAGES)}")
            return lang
    loc = (locale.getlocale()[0] or os.environ.get("LANG") or "").lower()
    if loc and not loc.startswith(("ja", "c.", "c", "posix")):
        return "en" if loc[:2] not in LANGUAGES else loc[:2]
    return DEFAULT_LANGUAGE


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def render(reason: Reason, lang: str = DEFAULT_LANGUAGE,
           label: Callable[[str], str] | Mapping[str, str] | None = None) -> str:
    """One reason in words. ``label`` maps a field key to its printed label (the template's)."""
    table = CATALOGUE.get(lang, CATALOGUE[DEFAULT_LANGUAGE])
    pattern = table.get(reason.code) or table["unknown"]
    name = label if callable(label) else (lambda k: (label or {}).get(k, k))
    values = _Blank({k: _show(v, lang) for k, v in reason.values})
    values["code"] = reason.code
    values["fields"] = "、".join(name(k) for k in reason.fields) if lang == "ja" else ", ".join(name(k) for k in reason.fields)
    return pattern.format_map(values)


def _show(value, lang: str) -> str:
    if isinstance(value, bool):
        return ("はい" if value else "いいえ") if lang == "ja" else ("yes" if value else "no")
    if isinstance(value, float) and 0.0 <= value <= 1.0:
        return f"{value:.0%}"
    return "" if value is None else str(value)
