"""The daily-operations commands: watch, export, import-review, purge.

``register(subparsers)`` adds them to the main ``intake`` parser (intake/cli.py);
each handler returns an exit code. ``IntakeError`` raised here is turned into a
message and exit code by the main CLI (or by ``main`` below when run alone).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from intake.errors import ExitCode, IntakeError
from intake.register import add_arguments as register_arguments

# import-review: the sheet was read, but some rows were rejected and not applied.
EXIT_ROWS_REJECTED = 1


MESSAGES = {
    "ja": {
        "review_rows": "intake: 確認待ちの記録 {count} 件",
        "exported": "intake: {count} 件を書き出しました",
        "skipped": "読み飛ばし",
        "rejected": "不採用",
        "imported": "intake: {applied} 件を確認済みにしました (変更した項目 {changed})、{rejected} 行は不採用で適用していません",
    },
    "en": {
        "review_rows": "intake: {count} record(s) waiting for review",
        "exported": "intake: exported {count} record(s)",
        "skipped": "skipped",
        "rejected": "rejected",
        "imported": "intake: {applied} record(s) reviewed ({changed} field(s) changed), {rejected} row(s) rejected and not applied",
    },
}


def say(code: str, **params) -> str:
    """A desk message in the desk's language (Japanese unless INTAKE_LANG or the locale says otherwise)."""
    from intake.messages import language

    return MESSAGES[language()][code].format(**params)


def _private_umask() -> None:
    """Everything the desk writes (DB, crops, exports, archive) is owner-only."""
    os.umask(0o077)


def _add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=None,
                   help="record store (SQLite) path; default $INTAKE_DB or ./intake-data/intake.db")


def register(sub) -> None:
    """Add watch, export, import-review and purge to an argparse subparsers object."""
    w = sub.add_parser("watch", help="process every fax that arrives in an inbox folder")
    w.add_argument("inbox", help="folder the fax server writes into")
    w.add_argument("--poll", action="store_true", help="poll the folder instead of inotify (network shares)")
    w.add_argument("--once", action="store_true", help="process what is there now and exit (cron, tests)")
    w.add_argument("--archive", default=None, help="where processed faxes go (default: <db folder>/archive)")
    w.add_argument("--quarantine", default=None, help="where unreadable faxes go (default: <db folder>/quarantine)")
    w.add_argument("--settle", type=float, default=2.0,
                   help="seconds a file's size and mtime must stay unchanged before it is read (default 2)")
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
    _add_db(e)
    e.set_defaults(func=cmd_export)

    i = sub.add_parser("import-review", help="apply a corrected review CSV")
    i.add_argument("file", help="the review CSV, as saved from Excel (UTF-8 with/without BOM, or cp932)")
    i.add_argument("--reviewer", required=True, help="who reviewed it (recorded in the audit trail)")
    i.add_argument("--encoding", choices=("auto", "utf-8-sig", "utf-8", "cp932"), default="auto")
    _add_db(i)
    i.set_defaults(func=cmd_import_review)

    p = sub.add_parser("purge", help="delete records, crops and archived faxes older than the retention period")
    p.add_argument("--older-than", type=float, required=True, metavar="DAYS", help="retention in days")
    p.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    _add_db(p)
    p.set_defaults(func=cmd_purge)


def cmd_watch(args) -> int:
    from intake.watch import watch

    _private_umask()
    logging.getLogger("intake.desk").setLevel(logging.INFO)
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(asctime)s %(name)s %(message)s")
    watch(args.inbox, db=args.db, archive=args.archive, quarantine=args.quarantine, poll=args.poll,
          once=args.once, settle=args.settle, signals=True, process=_register_process(args))
    return ExitCode.ok


def _register_process(args):
    """The pipeline that checks each fax against the desk's register (reloaded when its files change),
    or None (the default pipeline) when no register is configured. A bad register file stops here."""
    from pathlib import Path

    from intake.register import open_register
    from intake.store import default_db_path

    source = open_register(args.contracts, args.staff, (Path(args.db) if args.db else default_db_path()).parent)
    if source is None:
        return None
    from intake.pipeline import Pipeline

    return Pipeline(register=source).process_file


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
            n, _ = export_review(store, args.out, encoding or "utf-8", accept_lossy=args.accept_lossy)
            print(say("review_rows", count=n), file=sys.stderr)
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
    for p in report.skipped:
        print(f"intake: {say('skipped')} {p}", file=sys.stderr)
    for p in report.rejected:
        print(f"intake: {say('rejected')} {p}", file=sys.stderr)
    print(say("imported", applied=len(report.applied), changed=report.changed_fields,
              rejected=len(report.rejected_rows)))
    return EXIT_ROWS_REJECTED if report.rejected else ExitCode.ok


def cmd_purge(args) -> int:
    from intake.store import Store

    if args.older_than < 0:
        print("intake: error: --older-than must be 0 or more days", file=sys.stderr)
        return ExitCode.bad_args
    with Store(args.db) as store:
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
