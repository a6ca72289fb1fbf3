"""The daily-operations commands: watch, export, import-review, privacy, purge.

``register(subparsers)`` adds them to the main ``intake`` parser (intake/cli.py);
each handler returns an exit code. ``IntakeError`` raised here is turned into a
message and exit code by the main CLI (or by ``main`` below when run alone).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys

from intake.errors import ExitCode, IntakeError
from intake.register import add_arguments as register_arguments

MESSAGES = {
    "ja": {
        "review_rows": "intake: 確認待ちの記録 {count} 件",
        "unread_faxes": "intake: ほかに読めなかったFAX {count} 件が確認待ちです (intake review list、確認ステーション)",
        "exported": "intake: {count} 件を書き出しました",
        "skipped": "読み飛ばし",
        "rejected": "不採用",
        "imported": "intake: {applied} 件を確認済みにしました (変更した項目 {changed})、{rejected} 行は不採用で適用していません",
        "unread_columns": "intake: 次の列は確認シートの列ではないため読み込んでいません: {columns}",
        "found": "intake: {count} 件の記録が該当します (値は表示しません)",
        "disclosed": "intake: {count} 件の記録を書き出しました",
        "erased": "{id}: 消去しました (項目 {fields}、訂正履歴 {audit}、切り出し画像 {crops}、FAX {faxes})",
        "fax_kept": "{id}: 同じ FAX の記録 {others} が残っているため、FAX ファイルは残しました",
    },
    "en": {
        "review_rows": "intake: {count} record(s) waiting for review",
        "unread_faxes": "intake: and {count} unread fax(es) waiting (intake review list, the review station)",
        "exported": "intake: exported {count} record(s)",
        "skipped": "skipped",
        "rejected": "rejected",
        "imported": "intake: {applied} record(s) reviewed ({changed} field(s) changed), {rejected} row(s) rejected and not applied",
        "unread_columns": "intake: these columns are not part of the review sheet and were not read: {columns}",
        "found": "intake: {count} record(s) match (values are not shown)",
        "disclosed": "intake: wrote {count} record(s)",
        "erased": "{id}: erased ({fields} fields, {audit} corrections, {crops} crop images, {faxes} fax copies)",
        "fax_kept": "{id}: the fax file was kept, since records {others} of the same fax remain",
    },
}


def say(code: str, **params) -> str:
    """A desk message in the desk's language (Japanese unless INTAKE_LANG or the locale says otherwise)."""
    from intake.messages import language

    return MESSAGES[language()][code].format(**params)


def _private_umask() -> None:
    """Everything the desk writes (DB, crops, exports, archive) is owner-only."""
    os.umask(0o077)


# A century: anything longer is a typo, and a cutoff before year 1 cannot be computed.
MAX_RETENTION_DAYS = 36_500


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def retention_days(text: str) -> float:
    """``--older-than``: a finite number of days from 0 to MAX_RETENTION_DAYS (nan, inf, 1e12 are refused)."""
    value = _finite(text)
    if not 0 <= value <= MAX_RETENTION_DAYS:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_RETENTION_DAYS} days: {text!r}")
    return value


def seconds(text: str) -> float:
    value = _finite(text)
    if not 0 <= value <= 86_400:
        raise argparse.ArgumentTypeError(f"must be from 0 to 86400 seconds: {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError(f"must be from 1 to 256: {text!r}")
    return value


def _add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=None,
                   help="record store (SQLite) path; default $INTAKE_DB or ./intake-data/intake.db")


def register(sub) -> None:
    """Add watch, export, import-review, privacy and purge to an argparse subparsers object."""
    w = sub.add_parser("watch", help="process every fax that arrives in an inbox folder")
    w.add_argument("inbox", help="folder the fax server writes into")
    w.add_argument("--poll", action="store_true", help="poll the folder instead of inotify (network shares)")
    w.add_argument("--once", action="store_true", help="process what is there now and exit (cron, tests)")
    w.add_argument("--archive", default=None, help="where processed faxes go (default: <db folder>/archive)")
    w.add_argument("--quarantine", default=None, help="where unreadable faxes go (default: <db folder>/quarantine)")
    w.add_argument("--settle", type=seconds, default=2.0,
                   help="seconds the watcher must see a file unchanged before it reads it (default 2)")
    w.add_argument("--grace", type=seconds, default=60.0,
                   help="seconds a file that looks partial (empty, damaged, unknown format) must stay unchanged "
                        "before it is quarantined (default 60)")
    w.add_argument("--jobs", type=positive_int, default=os.cpu_count() or 1,
                   help="faxes read in parallel, one worker process each (default: the number of cores)")
    _add_db(w)
    register_arguments(w)
    w.set_defaults(func=cmd_watch)

    e = sub.add_parser("export", help="export records: the review sheet (--review) or records for operations")
    e.add_argument("--review", action="store_true", help="CSV of records waiting for review, to correct in Excel")
    e.add_argument("--format", choices=("csv", "jsonl"), default=None,
                   help="operations export format (default jsonl; --review is always csv)")
    e.add_argument("--all", action="store_true", help="include records still waiting for review")
    e.add_argument("--out", default=None,
                   help="output file, replaced atomically, owner-only; never a symbolic link (default: standard output)")
    e.add_argument("--encoding", choices=("utf-8", "utf-8-sig", "cp932"), default=None,
                   help="CSV encoding: utf-8 (default, always with a BOM for Excel) or cp932 (older tools); "
                        "JSON Lines is always UTF-8")
    e.add_argument("--accept-lossy", action="store_true",
                   help="write a cp932 CSV even if characters must be changed or replaced by ? (counted on stderr)")
    e.add_argument("--headers", choices=("ja", "keys"), default="ja",
                   help="review sheet column titles: the form's printed labels (default) or the field keys")
    _add_db(e)
    e.set_defaults(func=cmd_export)

    i = sub.add_parser("import-review", help="apply a corrected review CSV")
    i.add_argument("file", help="the review CSV, as saved from Excel (UTF-8 with/without BOM, or cp932)")
    i.add_argument("--reviewer", required=True, help="who reviewed it (recorded in the audit trail)")
    i.add_argument("--encoding", choices=("auto", "utf-8-sig", "utf-8", "cp932"), default="auto")
    _add_db(i)
    i.set_defaults(func=cmd_import_review)

    pr = sub.add_parser("privacy", help="requests from a person: find, disclose or erase their records")
    psub = pr.add_subparsers(dest="privacy_command", required=True)
    pf = psub.add_parser("find", help="list the records that hold a name or phone number (ids only, no values)")
    who = pf.add_mutually_exclusive_group(required=True)
    who.add_argument("--name", help="a person's name (full-width/half-width and spaces do not matter)")
    who.add_argument("--phone", help="a phone number (only its digits count)")
    _add_db(pf)
    pf.set_defaults(func=cmd_privacy_find)
    pe = psub.add_parser("export", help="write records for the person they concern (JSON, UTF-8)")
    pe.add_argument("records", nargs="+", metavar="RECORD", help="record ids (from `intake privacy find`)")
    pe.add_argument("--out", required=True, help="the JSON file to write (owner-only; never a symbolic link)")
    _add_db(pe)
    pe.set_defaults(func=cmd_privacy_export)
    px = psub.add_parser("erase", help="remove records with their crops, corrections and (if no other record "
                                       "of it remains) their fax")
    px.add_argument("records", nargs="+", metavar="RECORD", help="record ids (from `intake privacy find`)")
    px.add_argument("--by", required=True, help="who erases (kept in the erasure log)")
    _add_db(px)
    px.set_defaults(func=cmd_privacy_erase)

    p = sub.add_parser("purge", help="delete records, crops and archived faxes older than the retention period")
    p.add_argument("--older-than", type=retention_days, required=True, metavar="DAYS",
                   help=f"retention in days (0 to {MAX_RETENTION_DAYS})")
    p.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    _add_db(p)
    p.set_defaults(func=cmd_purge)


def cmd_watch(args) -> int:
    from intake.watch import watch

    _private_umask()
    logging.getLogger("intake.desk").setLevel(logging.INFO)
    logging.getLogger("intake.register").setLevel(logging.INFO)  # which register version is in use
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(asctime)s %(name)s %(message)s")
    watch(args.inbox, db=args.db, archive=args.archive, quarantine=args.quarantine, poll=args.poll,
          once=args.once, settle=args.settle, grace=args.grace, jobs=args.jobs, signals=True,
          build=_register_pipeline(args))
    return ExitCode.ok


def _register_pipeline(args):
    """What builds the pipeline each reader loads: one that checks each fax against the desk's register
    (reloaded when its files change), or None (the default pipeline) when no register is configured.
    The register is loaded here once, so a bad register file stops the watcher at start."""
    from functools import partial
    from pathlib import Path

    from intake.register import open_register
    from intake.store import default_db_path

    data_dir = (Path(args.db) if args.db else default_db_path()).parent
    if open_register(args.contracts, args.staff, data_dir) is None:
        return None
    return partial(register_pipeline, args.contracts, args.staff, data_dir)


def register_pipeline(contracts, staff, data_dir):
    """A pipeline with the desk's register (module level, so that worker processes can build it)."""
    from intake.pipeline import Pipeline
    from intake.register import open_register

    return Pipeline(register=open_register(contracts, staff, data_dir))


def cmd_export(args) -> int:
    from intake.export import export_records, export_review
    from intake.store import Store

    _private_umask()
    encoding = "utf-8" if args.encoding == "utf-8-sig" else args.encoding
    with Store(args.db) as store:
        if args.review:
            if args.format == "jsonl":
                print("intake: error: the review sheet is always CSV [bad_args]", file=sys.stderr)
                return ExitCode.bad_args
            n, _ = export_review(store, args.out, encoding or "utf-8", accept_lossy=args.accept_lossy,
                                 headers=args.headers)
            print(say("review_rows", count=n), file=sys.stderr)
            unread = len(store.unread_files())
            if unread:
                print(say("unread_faxes", count=unread), file=sys.stderr)
        else:
            n, _ = export_records(store, args.out, args.format or "jsonl", include_pending=args.all,
                                  encoding=encoding, accept_lossy=args.accept_lossy)
            print(say("exported", count=n), file=sys.stderr)
    return ExitCode.ok


def cmd_import_review(args) -> int:
    from intake.export import import_review_csv
    from intake.store import Store

    _private_umask()
    with Store(args.db) as store:
        report = import_review_csv(store, args.file, args.reviewer, encoding=args.encoding)
    if report.unread_columns:
        print(say("unread_columns", columns=", ".join(report.unread_columns)), file=sys.stderr)
    for p in report.skipped:
        print(f"intake: {say('skipped')} {p}", file=sys.stderr)
    for p in report.rejected:
        print(f"intake: {say('rejected')} {p}", file=sys.stderr)
    print(say("imported", applied=len(report.applied), changed=report.changed_fields,
              rejected=len(report.rejected_rows)))
    return ExitCode.rows_rejected if report.rejected else ExitCode.ok


def cmd_privacy_find(args) -> int:
    from intake.privacy import find
    from intake.store import Store

    with Store(args.db) as store:
        matches = find(store, name=args.name, phone=args.phone)
    for m in matches:
        print(f"{m.record_id}\t{', '.join(m.keys)}")
    print(say("found", count=len(matches)), file=sys.stderr)
    return ExitCode.ok


def cmd_privacy_export(args) -> int:
    from intake.privacy import export
    from intake.store import Store

    _private_umask()
    with Store(args.db) as store:
        n = export(store, args.records, args.out)
    print(say("disclosed", count=n), file=sys.stderr)
    return ExitCode.ok


def cmd_privacy_erase(args) -> int:
    from intake.privacy import erase
    from intake.store import Store

    with Store(args.db) as store:
        reports = erase(store, args.records, args.by)
    for r in reports:
        print(say("erased", id=r.record_id, fields=r.fields, audit=r.audit_rows, crops=r.crop_files,
                  faxes=r.fax_copies))
        if r.fax_kept_for:
            print(say("fax_kept", id=r.record_id, others=", ".join(r.fax_kept_for)))
    return ExitCode.ok


def cmd_purge(args) -> int:
    from intake.store import Store

    # A dry run creates nothing: no store, no folder.
    with Store(args.db, create=not args.dry_run) as store:
        report = store.purge(args.older_than, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    print(f"intake: {verb} {report.summary()} older than {args.older_than:g} days")
    return ExitCode.ok


def main(argv: list[str] | None = None) -> int:
    """Run the desk commands on their own (``python -m intake.desk_cli``)."""
    parser = argparse.ArgumentParser(prog="intake-desk")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except IntakeError as exc:
        print(f"intake: error: {exc} [{exc.reason}]", file=sys.stderr)
        return int(exc.exit_code)


if __name__ == "__main__":
    raise SystemExit(main())
