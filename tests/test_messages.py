"""The desk's words: every reason code has a message in every language, in plain words."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from intake.messages import CATALOGUE, LANGUAGES, language, render
from intake.reasons import Reason
from intake.validate import RULES


def test_every_code_is_worded_in_every_language():
    codes = {lang: set(CATALOGUE[lang]) for lang in LANGUAGES}
    assert codes["ja"] == codes["en"]


def test_codes_the_product_emits_are_all_in_the_catalogue():
    """Every Reason.of("<code>" and _invalid("<code>" written in the product has a catalogue entry."""
    root = Path(__file__).resolve().parents[1] / "intake"
    emitted = set()
    for path in root.rglob("*.py"):
        emitted |= set(re.findall(r'(?:Reason\.of|_invalid)\(\s*"([a-z_:]+)"', path.read_text(encoding="utf-8")))
    emitted |= {f"rule:{name}" for name in RULES}
    assert emitted and emitted <= set(CATALOGUE["ja"]), emitted - set(CATALOGUE["ja"])


def test_messages_give_no_probabilities():
    reason = Reason.of("low_confidence", "stop.date", confidence=0.9997)
    assert render(reason, "ja", {"stop.date": "停止日"}) == "停止日: 読み取りに自信がありません"
    assert "%" not in render(reason, "en")


def test_parts_are_named_as_the_form_prints_them():
    reason = Reason.of("part_missing", "stop.date", parts="month,day")
    assert render(reason, "ja", {"stop.date": "停止日"}) == "停止日: 月・日が記入されていないか読めません"
    assert render(reason, "en", {"stop.date": "停止日"}) == "停止日: month, day not written or not read"


def test_the_default_language_is_japanese(monkeypatch):
    monkeypatch.delenv("INTAKE_LANG", raising=False)
    assert language() == "ja"
    monkeypatch.setenv("INTAKE_LANG", "en")
    assert language() == "en" and language("ja") == "ja"
    with pytest.raises(ValueError):
        language("fr")


def test_a_reason_round_trips_through_json():
    reason = Reason.of("readers_disagree", "targets.0.plan_number", first="4-1234-56", second="4-1284-56")
    assert Reason.from_json(reason.to_json()) == reason
