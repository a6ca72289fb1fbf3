"""Words for the desk: every review reason and desk message rendered per language from its code.

Japanese is the desk's language and the default; English is a switch (``--lang en``, or
``INTAKE_LANG=en``). Each catalogue entry is a
``str.format`` pattern over the reason's values plus ``fields`` (the field labels joined).
Plain words, not probabilities: a reviewer reads "読み取りが一致しません (6979 / 6479)".
"""

from __future__ import annotations

import os
from typing import Callable, Mapping

from intake.reasons import Reason

LANGUAGES = ("ja", "en")
DEFAULT_LANGUAGE = "ja"

# Part names of dates, times and phone numbers, as the form prints them.
PART_NAMES = {
    "ja": {"year": "年", "month": "月", "day": "日", "hour": "時", "minute": "分",
           "area": "市外局番", "local": "市内局番", "line": "加入者番号"},
    "en": {"year": "year", "month": "month", "day": "day", "hour": "hour", "minute": "minute",
           "area": "area code", "local": "local code", "line": "line number"},
}

CATALOGUE: dict[str, dict[str, str]] = {
    "ja": {
        # what the readers doubt
        "readers_disagree": "{fields}: {part}二つの読み取りが一致しません ({first} / {second})",
        "low_posterior": "{fields}: 読み取りを確定できません (候補 {candidates}、確からしさ {confidence})",
        "settled_by_evidence": "{fields}: {evidence}から {value} と判断しました",
        "not_a_field": "{fields}: この様式の項目ではありません",
        "low_confidence": "{fields}: 読み取りに自信がありません",
        "not_a_digit": "{fields}: 数字でない記入があります",
        "no_possible_value": "{fields}: 記入どおりでは有り得ない値です (推定 {guess})",
        "no_reader": "{fields}: 数字を読む仕組みがありません",
        "digit_count": "{fields}: 桁数が合いません ({part}{count} 桁、{expected} 桁のはず)",
        "part_missing": "{fields}: {parts}が記入されていないか読めません",
        "ink_beside_number": "{fields}: 数字の横に読めない記入があります",
        "digit_broken": "{fields}: 数字の一部が欠けているかもしれません",
        "option_both": "{fields}: 両方に印が付いているように見えます",
        "option_none": "{fields}: どちらにも印がありません",
        "mark_ambiguous": "{fields}: 印があるかどうか判断できません",
        "print_damaged": "{fields}: 印刷の文字がかすれています。印を目で確認してください",
        "text_unread": "{fields}: 記入はありますが文字が読めません",
        "text_not_a_word": "{fields}: 「{word}」は言葉として不自然です",
        "text_doubled_char": "{fields}: 「{chars}」は一つの文字を二度読んだかもしれません",
        "text_char_missing": "{fields}: 文字が一つ抜けているかもしれません",
        "text_ink_unread": "{fields}: 読み取った文字のない筆跡があります。文字が抜けているかもしれません（筆跡 {ink} 文字・読み取り {read} 文字）",
        "text_ink_read_twice": "{fields}: 一つの筆跡を二文字に読んだかもしれません（筆跡 {ink} 文字・読み取り {read} 文字）",
        "text_ink_broken": "{fields}: 筆跡がかすれて途切れています。文字数を確かめられません",
        "text_name_unknown": "{fields}: 名前として知られていない読み取りです",
        "weekday_unread": "{fields}: 曜日が読めません",
        # what a value breaks
        "not_a_date": "{fields}: 「{value}」は正しい日付ではありません",
        "not_a_time": "{fields}: 「{value}」は正しい時刻ではありません",
        "not_a_phone": "{fields}: 「{value}」は電話番号の形ではありません",
        "phone_digit_count": "{fields}: 「{value}」は {count} 桁です ({expected} 桁のはず)",
        "format_mismatch": "{fields}: 「{value}」は {format} の形ではありません",
        "weekday_not_allowed": "{fields}: 「{value}」は曜日ではありません ({allowed} のいずれか)",
        "text_empty": "{fields}: 空欄です",
        "not_yes_no": "{fields}: 「{value}」は要/不要 (true/false) ではありません",
        "value_invalid": "{fields}: 「{value}」はこの欄の値になりません",
        # cross-field rules
        "rule:required": "{fields}: 記入がないか読めません",
        "rule:row_complete": "{fields}: 行の記入がそろっていません",
        "rule:weekday_matches_date": "{fields}: 曜日が日付と合いません ({date} は{actual}曜日、記入は{written})",
        "rule:exactly_one": "{fields}: どちらか一つだけを記入してください ({given})",
        "rule:not_before": "{fields}: {later} が {earlier} より前です",
        "rule:after": "{fields}: 再開が停止より後になっていません ({later} / {earlier})",
        "rule:at_least_one": "{fields}: 一つも記入がありません",
        "rule_unknown": "様式の規則 {rule} を知りません",
        # what the desk's register says
        "register:number_not_held": "{fields}: テレドーム番号 {number} はどの契約者の番号でもありません",
        "register:number_held_by_other": "{fields}: テレドーム番号 {number} は別の契約者の番号です",
        "register:plan_not_on_number": "{fields}: 企画番号 {plan} はテレドーム番号 {number} の企画ではありません",
        "register:contractor_unknown": "{fields}: ご契約者名が契約台帳にありません",
        "register:staff_mismatch": "{fields}: NTT担当者の記入が社員名簿と一致しません",
        "register:cell_contractor": "{row}: 契約者の番号",
        "register:cell_none": "{row}: どの契約者の番号でもない",
        "register:cell_other": "{row}: {holder} の番号",
        "register:cell_plan_not_on_number": "{row}: 企画番号がこの番号の企画ではない",
        "register:cell_unregistered": "(契約台帳にない契約者)",
        # the page
        "alignment_failed": "用紙の位置を合わせられません (罫線の一致 {quality})",
        "off_page": "{fields}: 用紙の端で切れています。原本で確認してください",
        "legacy": "{text}",
        "unknown": "要確認 ({code})",
    },
    "en": {
        "readers_disagree": "{fields}: {part}the two readings differ ({first} / {second})",
        "low_posterior": "{fields}: the reading is not settled (candidates {candidates}, {confidence} likely)",
        "settled_by_evidence": "{fields}: read as {value} from {evidence}",
        "not_a_field": "{fields}: not a field of this form",
        "low_confidence": "{fields}: the reading is uncertain",
        "not_a_digit": "{fields}: a mark that is not a digit",
        "no_possible_value": "{fields}: as written it is not a possible value (best guess {guess})",
        "no_reader": "{fields}: no digit reader is available",
        "digit_count": "{fields}: wrong number of digits ({part}{count}, expected {expected})",
        "part_missing": "{fields}: {parts} not written or not read",
        "ink_beside_number": "{fields}: ink beside the number was not read as a digit",
        "digit_broken": "{fields}: a digit may have been broken by the fax",
        "option_both": "{fields}: both options look marked",
        "option_none": "{fields}: neither option is marked",
        "mark_ambiguous": "{fields}: cannot tell whether it is marked",
        "print_damaged": "{fields}: the printed option is damaged on this fax; check the mark by eye",
        "text_unread": "{fields}: ink found but no text could be read",
        "text_not_a_word": "{fields}: '{word}' is not a word",
        "text_doubled_char": "{fields}: '{chars}' may be one character read twice",
        "text_char_missing": "{fields}: a character may be missing",
        "text_ink_unread": "{fields}: ink where no character was read; a character may be missing (ink shows {ink}, read {read})",
        "text_ink_read_twice": "{fields}: one written character may have been read as two (ink shows {ink}, read {read})",
        "text_ink_broken": "{fields}: the ink is faint and broken; its characters cannot be counted",
        "text_name_unknown": "{fields}: the name is not one the dictionary knows",
        "weekday_unread": "{fields}: the weekday could not be read",
        "not_a_date": "{fields}: '{value}' is not a real date (YYYY-MM-DD)",
        "not_a_time": "{fields}: '{value}' is not a time of day (HH:MM)",
        "not_a_phone": "{fields}: '{value}' is not a phone number (AREA-LOCAL-LINE)",
        "phone_digit_count": "{fields}: '{value}' has {count} digits; expected {expected}",
        "format_mismatch": "{fields}: '{value}' does not match {format}",
        "weekday_not_allowed": "{fields}: '{value}' is not one of {allowed}",
        "text_empty": "{fields}: empty",
        "not_yes_no": "{fields}: '{value}' is not a yes/no value (true/false or 要/不要)",
        "value_invalid": "{fields}: '{value}' is not a value this field can hold",
        "rule:required": "{fields}: required but blank or unreadable",
        "rule:row_complete": "{fields}: the row is incomplete",
        "rule:weekday_matches_date": "{fields}: the weekday does not match the date ({date} is a {actual}, written {written})",
        "rule:exactly_one": "{fields}: give exactly one ({given})",
        "rule:not_before": "{fields}: {later} is before {earlier}",
        "rule:after": "{fields}: the restart is not after the stop ({later} / {earlier})",
        "rule:at_least_one": "{fields}: none is given",
        "rule_unknown": "the template names an unknown rule {rule}",
        "register:number_not_held": "{fields}: Teledome number {number} is held by no contractor",
        "register:number_held_by_other": "{fields}: Teledome number {number} is held by another contractor",
        "register:plan_not_on_number": "{fields}: plan {plan} does not run on Teledome number {number}",
        "register:contractor_unknown": "{fields}: the contractor name is not in the contract register",
        "register:staff_mismatch": "{fields}: the NTT contact's entry does not match the staff directory",
        "register:cell_contractor": "{row}: held by the contractor",
        "register:cell_none": "{row}: held by no contractor",
        "register:cell_other": "{row}: held by {holder}",
        "register:cell_plan_not_on_number": "{row}: the plan does not run on this number",
        "register:cell_unregistered": "(not a registered contractor)",
        "alignment_failed": "the page could not be aligned to the form (lines matched {quality})",
        "off_page": "{fields}: cut off at the page's edge; check the original",
        "legacy": "{text}",
        "unknown": "check ({code})",
    },
}
# How a rule's ``given`` value reads: how many of its fields were given.
GIVEN = {"ja": {0: "記入なし", 2: "両方に記入"}, "en": {0: "neither given", 2: "both given"}}
# The evidence that settles a digit reading (``intake.evidence``), as a reviewer reads it.
EVIDENCE = {
    "ja": {"readers": "二つの読み取りの確からしさ", "weekday": "記入された曜日", "date_order": "日付の順序", "received": "受信日",
           "calendar": "暦", "time_of_day": "時刻の範囲", "numbering_plan": "電話番号の桁の決まり", "format": "番号の形"},
    "en": {"readers": "the readers' confidence", "weekday": "the weekday written", "date_order": "the order of the dates", "received": "the day the fax arrived",
           "calendar": "the calendar", "time_of_day": "the hours of the day", "numbering_plan": "the numbering plan",
           "format": "the number's format"},
}
# Weekdays as ``datetime.weekday()`` numbers them, for English messages.
WEEKDAYS_EN = dict(zip("月火水木金土日", ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")))


def language(requested: str | None = None) -> str:
    """The language to speak: the one asked for, else ``$INTAKE_LANG``, else Japanese."""
    candidate = requested or os.environ.get("INTAKE_LANG") or DEFAULT_LANGUAGE
    lang = candidate.lower()[:2]
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {candidate!r}; use one of {', '.join(LANGUAGES)}")
    return lang


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "" if key == "part" else "?"  # a part is named only where the field has parts


def render(reason: Reason, lang: str = DEFAULT_LANGUAGE,
           label: Callable[[str], str] | Mapping[str, str] | None = None) -> str:
    """One reason in words. ``label`` maps a field key to its printed label (the template's)."""
    table = CATALOGUE.get(lang, CATALOGUE[DEFAULT_LANGUAGE])
    pattern = table.get(reason.code) or table["unknown"]
    name = label if callable(label) else (lambda k: (label or {}).get(k, k))
    values = _Blank({k: _show(k, v, lang) for k, v in reason.values})
    values["code"] = reason.code
    values["fields"] = ("、" if lang == "ja" else ", ").join(dict.fromkeys(name(k) for k in reason.fields))
    text = pattern.format_map(values)
    return text.removeprefix(": ")  # a reason about no field in particular


def _show(name: str, value, lang: str) -> str:
    if name == "parts" and isinstance(value, str):
        parts = PART_NAMES[lang]
        return ("・" if lang == "ja" else ", ").join(parts.get(p, p) for p in value.split(","))
    if name == "part" and isinstance(value, str):
        return f"{PART_NAMES[lang].get(value, value)}" + (" " if lang == "ja" else ": ")
    if name == "evidence" and isinstance(value, str):
        return ("・" if lang == "ja" else ", ").join(EVIDENCE[lang].get(e, e) for e in value.split(","))
    if name == "given" and isinstance(value, int):
        return GIVEN[lang].get(value, str(value))
    if name in ("actual", "written") and lang == "en" and isinstance(value, str):
        return WEEKDAYS_EN.get(value, value)
    if isinstance(value, bool):
        return ("はい" if value else "いいえ") if lang == "ja" else ("yes" if value else "no")
    if isinstance(value, float) and 0.0 <= value <= 1.0:
        return f"{value:.0%}"
    return "" if value is None else str(value)


_LABELS: dict[str, dict[str, str]] = {}


def show_value(kind: str, value) -> str:
    """A value as the desk writes it: 要/不要 for a 要/不要 pair, ○/× for a circle or stamp, text as it is.
    The review station shows values this way so that an untouched input parses back the same."""
    if value is None:
        return ""
    if isinstance(value, bool):
        if kind == "option_pair":
            return "要" if value else "不要"
        return "○" if value else "×"
    return str(value)


def _distinct_label(key: str, label: str) -> str:
    """A field's printed label, with its row where rows repeat their labels (対象2 テレドーム番号)."""
    parts = key.split(".")
    if label and len(parts) > 2 and parts[1].isdigit():
        return f"{ROW_WORD}{int(parts[1]) + 1} {label}"
    return label or key


ROW_WORD = "対象"


def field_labels(form: str) -> dict[str, str]:
    """The printed label of every field of a form, by key (keys stand in for an unknown form)."""
    if form not in _LABELS:
        from intake.errors import TemplateError
        from intake.template import load_templates

        try:
            templates = load_templates()
        except TemplateError:
            templates = []
        for t in templates:
            _LABELS[t.id] = {f.key: _distinct_label(f.key, f.label) for f in t.fields}
        _LABELS.setdefault(form, {})
    return _LABELS[form]


def reasons_json(reasons, form: str, lang: str | None = None) -> list[dict]:
    """Reasons as the record contract gives them: code, fields, values, and the message in ``lang``."""
    lang = language(lang)
    labels = field_labels(form)
    return [{**r.to_json(), "message": render(r, lang, labels)} for r in reasons]
