"""``intake review ...`` and ``intake status``: decide records and unread faxes from the command line.

``register(subparsers)`` adds them to the main parser (intake/cli.py). What the desk reads is
Japanese unless ``--lang en`` (or the locale) says otherwise.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from intake.errors import ExitCode, ReviewError


def _common(p: argparse.ArgumentParser, *, reviewer: bool = False) -> None:
    p.add_argument("--db", default=None, help="record store (SQLite); default $INTAKE_DB or ./intake-data/intake.db")
    p.add_argument("--lang", default=None, choices=("ja", "en"), help="language of the output (default: Japanese)")
    if reviewer:
        p.add_argument("--reviewer", default=None, help="who decides (recorded in the audit trail; default: login name)")


def register(sub) -> None:
    st = sub.add_parser("status", help="how many records and faxes wait for review")
    _common(st)
    st.set_defaults(func=cmd_status)

    rv = sub.add_parser("review", help="decide records waiting for review; the web station (serve)")
    rsub = rv.add_subparsers(dest="review_command", required=True)
    ls = rsub.add_parser("list", help="records and unread faxes waiting, oldest first; on hold apart")
    _common(ls)
    ls.set_defaults(func=cmd_list)
    show = rsub.add_parser("show", help="one record: fields, reasons, state and its audit trail")
    show.add_argument("id")
    _common(show)
    show.set_defaults(func=cmd_show)
    for name, helptext in (("confirm", "confirm a record (with corrections: --set KEY=VALUE)"),
                           ("hold", "put a record on hold (保留) with a note"),
                           ("return", "return a record to the sender (差戻し) with a note")):
        p = rsub.add_parser(name, help=helptext)
        p.add_argument("id")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="correct a field (repeat)")
        p.add_argument("--note", default=None, help="why (required for hold and return)")
        if name == "confirm":
            p.add_argument("--accept", action="append", default=[], metavar="CODE",
                           help="accept a rule break as the customer wrote it, by reason code (repeat)")
        _common(p, reviewer=True)
        p.set_defaults(func=cmd_decide, decision={"confirm": "confirmed", "hold": "on_hold", "return": "returned"}[name])
    ro = rsub.add_parser("reopen", help="put a decided record (or unread fax) back in the queue")
    ro.add_argument("id", help="record id, or the fax's SHA-256 prefix for an unread fax")
    ro.add_argument("--note", default=None)
    _common(ro, reviewer=True)
    ro.set_defaults(func=cmd_reopen)
    un = rsub.add_parser("unread", help="decide a fax that gave no record: not a request, or ask the sender again")
    un.add_argument("sha", help="the fax's SHA-256 (or a unique prefix, as `review list` shows it)")
    un.add_argument("decision", choices=("not_a_request", "asked_again"))
    un.add_argument("--note", required=True)
    _common(un, reviewer=True)
    un.set_defaults(func=cmd_unread)
    au = rsub.add_parser("add-user", help="add a reviewer for the web station (or set a new password)")
    au.add_argument("name")
    au.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    _common(au)
    au.set_defaults(func=cmd_add_user)
    sv = rsub.add_parser("serve", help="run the review web station")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this PC only)")
    sv.add_argument("--port", type=int, default=8765)
    sv.add_argument("--threads", type=int, default=8)
    _common(sv)
    sv.set_defaults(func=cmd_serve)


def _lang(args) -> str:
    from intake.messages import language

    return language(args.lang)


def _reviewer(args) -> str:
    return args.reviewer or os.environ.get("INTAKE_REVIEWER") or getpass.getuser()


def _template_for(form: str):
    from intake.template import load_templates

    for t in load_templates():
        if t.id == form:
            return t
    raise ReviewError(f"no template for form {form}")


def _store(args):
    from intake.store import Store

    os.umask(0o077)
    return Store(args.db)


def cmd_status(args) -> int:
    from intake.review.queue import counts

    lang = _lang(args)
    with _store(args) as store:
        c = counts(store)
    oldest = (c.oldest_waiting or "—").replace("T", " ").replace("+00:00", " UTC")
    if lang == "ja":
        print(f"確認待ち: {c.total_waiting} 件 (記録 {c.waiting} 件、読めなかったFAX {c.unread} 件)")
        print(f"保留: {c.on_hold} 件")
        print(f"本日確認済: {c.confirmed_today} 件")
        print(f"最も古い確認待ち: {oldest}")
    else:
        print(f"waiting: {c.total_waiting} ({c.waiting} records, {c.unread} unread faxes)")
        print(f"on hold: {c.on_hold}")
        print(f"confirmed today: {c.confirmed_today}")
        print(f"oldest waiting: {oldest}")
    return ExitCode.ok


def cmd_list(args) -> int:
    from intake.review.words import say_all, state_word, unread_reason
    from intake.template import load_templates

    lang = _lang(args)
    templates = {t.id: t for t in load_templates()}
    with _store(args) as store:
        waiting, held, unread = store.pending_review(), store.decided("on_hold"), store.unread_files()
    rows = [(r.created, f"{r.id}  {state_word('waiting', lang)}  "
             + " / ".join(say_all(r.reasons, lang, templates.get(r.form))[:3])) for r in waiting]
    word = "読めなかったFAX" if lang == "ja" else "unread fax"
    rows += [(f.received, f"{f.sha256[:16]}  {word}  {unread_reason(f.reason, lang)}") for f in unread]
    for _, line in sorted(rows):
        print(line)
    if held:
        print("-- " + state_word("on_hold", lang))
        for r in held:
            print(f"{r.id}  {state_word('on_hold', lang)}  {r.decision_note or ''}")
    return ExitCode.ok


def cmd_show(args) -> int:
    from intake.review.decisions import state_of
    from intake.review.words import field_label, say_all, state_word

    lang = _lang(args)
    with _store(args) as store:
        rec = store.get_record(args.id)
        if rec is None:
            raise ReviewError(f"no record {args.id} in the store")
        audit = store.audit(rec.id)
    template = _template_for(rec.form)
    print(f"{rec.id}  {state_word(state_of(rec), lang)}  {rec.decision_note or ''}".rstrip())
    for line in say_all(rec.reasons, lang, template):
        print(f"  ! {line}")
    for key, f in rec.fields.items():
        mark = "!" if f.review else " "
        print(f" {mark} {field_label(template, key, lang)} [{key}]: {'' if f.value is None else f.value}")
    for a in audit:
        print(f"  {a['at']} {a['reviewer']}: {a['key']} {a['old_value']!r} -> {a['new_value']!r} {a.get('note') or ''}")
    return ExitCode.ok


def _changes(template, sets: list[str]) -> dict:
    from intake.review.decisions import parse_typed

    typed = {}
    for item in sets:
        key, sep, text = item.partition("=")
        if not sep:
            raise ReviewError(f"--set needs KEY=VALUE, got {item!r}")
        typed[key.strip()] = text
    values, problems = parse_typed(template, typed)
    if problems:
        raise ReviewError("; ".join(f"{', '.join(p.fields)}: {p.get('text')}" for p in problems))
    return values


def cmd_decide(args) -> int:
    from intake.review.decisions import Decision, decide

    with _store(args) as store:
        rec = store.get_record(args.id)
        if rec is None:
            raise ReviewError(f"no record {args.id} in the store")
        template = _template_for(rec.form)
        d = Decision(args.decision, _reviewer(args), _changes(template, args.set), args.note,
                     tuple(getattr(args, "accept", ())))
        decide(store, template, rec.id, d)
    print(f"{rec.id}: {_say_state(args.decision, args)}")
    return ExitCode.ok


def _say_state(state: str, args) -> str:
    from intake.review.words import state_word

    return state_word(state, _lang(args))


def _file_sha(store, prefix: str) -> str:
    rows = [f.sha256 for f in store.unread_files() + store.unread_files(waiting=False) if f.sha256.startswith(prefix)]
    if len(rows) != 1:
        raise ReviewError(f"{prefix!r} names {len(rows)} unread faxes; give more of the SHA-256")
    return rows[0]


def cmd_reopen(args) -> int:
    from intake.review.decisions import reopen, reopen_unread

    with _store(args) as store:
        if store.get_record(args.id) is not None:
            reopen(store, args.id, _reviewer(args), note=args.note)
        else:
            reopen_unread(store, _file_sha(store, args.id), _reviewer(args), note=args.note)
    print(f"{args.id}: {_say_state('waiting', args)}")
    return ExitCode.ok


def cmd_unread(args) -> int:
    from intake.review.decisions import decide_unread

    with _store(args) as store:
        sha = _file_sha(store, args.sha)
        decide_unread(store, None, sha, args.decision, _reviewer(args), note=args.note)
    print(f"{sha[:16]}: {_say_state(args.decision, args)}")
    return ExitCode.ok


def cmd_add_user(args) -> int:
    from intake.review.accounts import hash_password

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise ReviewError("the two passwords differ")
    with _store(args) as store:
        store.add_reviewer(args.name, hash_password(password))
    print(f"reviewer {args.name} saved")
    return ExitCode.ok


def cmd_serve(args) -> int:
    from intake.review.web import serve

    serve(args.db, host=args.host, port=args.port, threads=args.threads, lang=args.lang)
    return ExitCode.ok
