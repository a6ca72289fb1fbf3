"""What the desk reads at the review station, Japanese first (English by ``--lang en`` or the locale).

Field names come from the template's printed labels (送付年月日, 停止日, お客様連絡先 担当者名, ...);
the target rows share their labels, so the row is put in front (対象1 テレドーム番号).
"""

from __future__ import annotations

from typing import Any, Iterable

from intake.messages import render
from intake.reasons import Reason
from intake.template import Template

STATES = {
    "ja": {"waiting": "未処理", "confirmed": "確認済", "on_hold": "保留", "returned": "差戻し",
           "straight_through": "自動確認", "not_a_request": "依頼書ではない", "keyed": "手入力済",
           "asked_again": "再送依頼"},
    "en": {"waiting": "waiting", "confirmed": "confirmed", "on_hold": "on hold", "returned": "returned",
           "straight_through": "straight through", "not_a_request": "not a request", "keyed": "keyed by hand",
           "asked_again": "asked again"},
}

# Section names for printed labels that repeat from row to row (テレドーム番号, 企画番号).
SECTIONS = {"ja": {"targets": "対象"}}

UI = {
    "ja": {
        "title": "確認ステーション", "queue": "確認待ち", "on_hold": "保留中", "unread": "読めなかったFAX",
        "login": "ログイン", "logout": "ログアウト", "name": "名前", "password": "パスワード",
        "confirm": "確認 (Ctrl+Enter)", "hold": "保留 (Alt+H)", "return": "差戻し (Alt+R)",
        "reopen": "再開", "note": "メモ", "accept": "記入どおり認める", "flagged": "要確認の項目",
        "others": "その他の項目", "held_by": "{who}さんが作業中です", "conflict": "他の人が先に変更しました。読み直してください。",
        "empty": "確認待ちはありません", "received": "受信", "reasons": "理由", "value": "値",
        "not_a_request": "依頼書ではない", "keyed": "手入力で登録", "asked_again": "再送を依頼",
        "bad_login": "名前かパスワードが違います", "page": "ページ", "state": "状態", "back": "一覧へ",
        "shortcuts": "Tab/Enter: 次の要確認項目  y: 要/○  n: 不要/×  f: フリー○  Alt+A: 記入どおり認める  Alt+H: 保留  Alt+R: 差戻し  Ctrl+Enter: 確認",
    },
    "en": {
        "title": "Review station", "queue": "Waiting", "on_hold": "On hold", "unread": "Unread faxes",
        "login": "Log in", "logout": "Log out", "name": "Name", "password": "Password",
        "confirm": "Confirm (Ctrl+Enter)", "hold": "Hold (Alt+H)", "return": "Return (Alt+R)",
        "reopen": "Reopen", "note": "Note", "accept": "accept as written", "flagged": "Flagged fields",
        "others": "Other fields", "held_by": "{who} is working on this record", "conflict": "Someone else changed it first; reload.",
        "empty": "Nothing waits for review", "received": "received", "reasons": "reasons", "value": "value",
        "not_a_request": "Not a request", "keyed": "Key in by hand", "asked_again": "Ask the sender again",
        "bad_login": "Wrong name or password", "page": "page", "state": "state", "back": "Back to the queue",
        "shortcuts": "Tab/Enter: next flagged field  y: 要/○  n: 不要/×  f: フリー○  Alt+A: accept as written  Alt+H: hold  Alt+R: return  Ctrl+Enter: confirm",
    },
}


# Why a fax gave no record, by the reason code the store keeps in front of its message.
UNREAD = {
    "ja": {"no_form_found": "依頼書のページが見つかりません", "internal_error": "処理中にエラーが起きました",
           "": "ファイルを読めません"},
    "en": {"no_form_found": "no form page found", "internal_error": "an error while processing", "": "the file cannot be read"},
}


# Why a decision was refused (intake.review.decisions.refuse), per language.
REFUSALS = {
    "ja": {
        "unknown_decision": "判断 {decision} はありません ({allowed} のどれか)",
        "no_reviewer": "確認者の名前が必要です",
        "needs_note": "{decision} にはメモが必要です (例: お客様確認中)",
        "no_record": "記録 {id} はありません",
        "not_waiting": "記録 {id} は{state}です。判断し直すには先に再開してください",
        "changed": "記録 {id} は他の人が先に変更しました。読み直してください",
        "correct_first": "記録 {id}: 値として読めない項目を直してください ({fields})",
        "rule_not_accepted": "記録 {id} はまだ様式の確認に合いません ({codes})。直すか、記入どおり認めてください",
        "nothing_to_reopen": "記録 {id} は{state}です。再開する判断がありません",
        "no_unread_fax": "読めなかったFAX {id} はありません",
        "already_decided": "FAX {id} は判断済みです ({state})。先に再開してください",
        "keyed_needs_values": "手入力で登録するには、ページから記録を入力してください",
        "keyed_reopen": "FAX {id} は記録として登録済みです。その記録を再開してください",
    },
    "en": {
        "unknown_decision": "unknown decision {decision}; use one of {allowed}",
        "no_reviewer": "a reviewer name is required",
        "needs_note": "{decision} needs a note (e.g. お客様確認中)",
        "no_record": "no record {id} in the store",
        "not_waiting": "record {id} is {state}, not waiting; reopen it first",
        "changed": "record {id} was changed by someone else; reload it",
        "correct_first": "record {id}: correct {fields} first",
        "rule_not_accepted": "record {id} still breaks {codes}; correct it, or accept it as written",
        "nothing_to_reopen": "record {id} is {state}; there is no decision to reopen",
        "no_unread_fax": "no unread fax {id} in the store",
        "already_decided": "fax {id} is already decided ({state}); reopen it first",
        "keyed_needs_values": "a fax keyed by hand needs the record typed from its page",
        "keyed_reopen": "fax {id} was keyed into records; reopen those records instead",
    },
}


def refusal(code: str, lang: str, **params) -> str:
    if "state" in params:
        params["state"] = state_word(str(params["state"]), lang)
    return REFUSALS.get(lang, REFUSALS["ja"])[code].format(**params)


def unread_reason(reason: str | None, lang: str) -> str:
    """An unread fax's reason in words: its code (before the colon) looked up, else the generic one."""
    code = (reason or "").split(":", 1)[0].strip()
    table = UNREAD.get(lang, UNREAD["ja"])
    return f"{table.get(code, table[''])} [{code}]" if code else table[""]


def state_word(state: str, lang: str) -> str:
    return STATES.get(lang, STATES["ja"]).get(state, state)


def field_label(template: Template | None, key: str, lang: str = "ja") -> str:
    """The printed label of a field (with its section where the label repeats); the key in English."""
    if template is None or lang != "ja":
        return key
    try:
        label = template.field(key).label or key
    except KeyError:
        return key
    parts = key.split(".")
    section = SECTIONS["ja"].get(parts[0])
    return f"{section}{int(parts[1]) + 1} {label}" if section else label


def as_reason(stored: Any) -> Reason:
    """A reason as stored: a Reason, its JSON, or (older stores) a plain string."""
    return stored if isinstance(stored, Reason) else Reason.from_json(stored)


def say(reason: Reason, lang: str, template: Template | None = None) -> str:
    """One reason in the desk's words (the shared catalogue), fields named by their printed labels."""
    return render(reason, lang, lambda k: field_label(template, k, lang))


def say_all(reasons: Iterable[Any], lang: str, template: Template | None = None) -> list[str]:
    return [say(as_reason(r), lang, template) for r in reasons]
