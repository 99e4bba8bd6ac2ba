"""`kehu import` and `kehu export`: registered on the main parser by kehu.cli."""

# ruff: noqa: T201  (the CLI prints by design, like kehu/cli.py)

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

IMPORT_KINDS = ["customers", "contacts", "leads", "opportunities", "followups", "tickets"]
EXPORT_KINDS = ["customers", "contacts", "leads", "opportunities", "followups"]


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
    import django

    django.setup()


def _acting_user(username: str | None) -> Any:
    from kehu.accounts.models import Role, User

    if username:
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise SystemExit(f"kehu: there is no active user {username!r}")
        return user
    user = (
        User.objects.filter(is_active=True, role=Role.ADMIN).order_by("pk").first()
        or User.objects.filter(is_active=True, is_superuser=True).order_by("pk").first()
    )
    if user is None:
        raise SystemExit("kehu: no administrator exists; create one or pass --user USERNAME")
    return user


def _print_error(prefix: str, error: Any) -> None:
    print(f"{prefix}: {error.detail}", file=sys.stderr)
    for field, messages in getattr(error, "errors", {}).items():
        for message in messages:
            print(f"  {field}: {message}", file=sys.stderr)


def _progress(job: Any) -> None:
    total = max(job.total_rows, job.processed_rows) or 1
    percent = job.processed_rows * 100 // total
    verb = "checked" if job.dry_run else "imported"
    print(
        f"\r{verb} {job.processed_rows}/{total} rows ({percent}%)",
        end="",
        file=sys.stderr,
        flush=True,
    )


def cmd_import(options: argparse.Namespace) -> int:
    _setup_django()
    from django.core.management import call_command

    call_command("migrate", "--noinput", "-v", "0")
    from kehu.core.context import acting_context, new_request_id
    from kehu.core.errors import KehuError
    from kehu.transfer import engine, services
    from kehu.transfer.mapping import parse_mapping_option
    from kehu.transfer.models import ImportJob, JobStatus

    actor = _acting_user(options.user)
    with acting_context(new_request_id("cli")):
        try:
            if options.resume:
                job = ImportJob.objects.filter(pk=options.resume).first()
                if job is None:
                    print(f"kehu import: there is no import #{options.resume}", file=sys.stderr)
                    return 2
                if job.status == JobStatus.DONE:
                    print(f"kehu import: import #{job.pk} is already done", file=sys.stderr)
                    return 2
            else:
                mapping = parse_mapping_option(options.kind, options.mapping or "")
                job = services.import_job_create(
                    actor=actor,
                    kind=options.kind,
                    path=Path(options.file),
                    encoding=options.encoding or "",
                    mapping=mapping,
                    on_duplicate=options.on_duplicate,
                )
            job.dry_run = bool(options.dry_run)
            job.cancel_requested = False
            job.save(update_fields=["dry_run", "cancel_requested"])
            print(f"import #{job.pk}: {job.original_name}", file=sys.stderr)
            job = engine.run_job(job, batch_size=options.batch_size, progress=_progress)
        except KehuError as error:
            _print_error("kehu import", error)
            return 2
    print(file=sys.stderr)
    return _report(job, options)


def _report(job: Any, options: argparse.Namespace) -> int:
    from kehu.transfer.models import JobStatus
    from kehu.transfer.reports import write_error_report

    counts = job.counts
    print(f"status: {job.status}")
    if job.message:
        print(job.message)
    print(
        "rows: {rows}  new: {new}  update: {update}  duplicate: {duplicate}  "
        "invalid: {invalid}".format(rows=job.processed_rows, **counts)
    )
    if not job.dry_run:
        print(f"created: {counts.get('created', 0)}  updated: {counts.get('updated', 0)}")
    for item in job.errors[:20]:
        print(f"  line {item['line']}, {item['column'] or '-'}: {item['message']}")
    if len(job.errors) > 20:
        print(f"  … {job.count('invalid')} rows with errors in all")
    if options.error_report and job.count("invalid"):
        written = write_error_report(job, Path(options.error_report))
        print(f"error report: {options.error_report} ({written} rows)")
    report = job.report or {}
    if "overall" in report:
        verdict = "passed" if report["passed"] else "below target"
        print(f"completeness: {report['overall']}% (target {report['target']}%: {verdict})")
        for item in report["fields"]:
            print(f"  {item['label']}: {item['stored']}/{item['source']} ({item['percent']}%)")
    if job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
        return 2
    return 0


def cmd_export(options: argparse.Namespace) -> int:
    _setup_django()
    from pydantic import ValidationError

    from kehu.core.context import acting_context, new_request_id
    from kehu.core.errors import KehuError
    from kehu.customers.selectors import CustomerFilters
    from kehu.transfer.exporting import Export

    actor = _acting_user(options.user)
    raw = {
        "q": options.q,
        "status": options.status,
        "owner": options.owner,
        "industry": options.industry,
        "region": options.region,
        "source": options.source,
        "created_from": options.created_from,
        "created_to": options.created_to,
    }
    try:
        filters = CustomerFilters.from_querydict(raw)
    except ValidationError as error:
        for item in error.errors():
            print(f"kehu export: {'.'.join(map(str, item['loc']))}: {item['msg']}", file=sys.stderr)
        return 2
    file_format = options.format or (
        "xlsx" if options.output and options.output.endswith(".xlsx") else "csv"
    )
    with acting_context(new_request_id("cli")):
        try:
            export = Export(user=actor, kind=options.kind, filters=filters, channel="cli")
            target = options.output or export.filename(file_format)
            if file_format == "xlsx":
                export.write_xlsx(target)
            else:
                with open(target, "wb") as handle:
                    for chunk in export.csv_chunks():
                        handle.write(chunk)
        except KehuError as error:
            _print_error("kehu export", error)
            return 2
    print(f"{export.count} rows → {target}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add the import/export sub-commands to the ``kehu`` parser."""
    imp = commands.add_parser(
        "import",
        help="import customers (with contacts), leads, opportunities or follow-ups from XLSX/CSV",
    )
    imp.add_argument(
        "args",
        nargs="*",
        metavar="[KIND] FILE",
        help=f"KIND is one of {', '.join(IMPORT_KINDS)} (or give --kind); FILE the XLSX or CSV",
    )
    imp.add_argument("--kind", choices=IMPORT_KINDS, help="what the file holds")
    imp.add_argument("--dry-run", action="store_true", help="check only; write nothing")
    imp.add_argument("--mapping", help='a saved mapping\'s name or JSON {"header": "field"}')
    imp.add_argument("--encoding", help="CSV encoding: utf-8, utf-8-bom, gbk (default: detect)")
    imp.add_argument(
        "--on-duplicate",
        choices=["skip", "update", "create"],
        default="skip",
        help="rows that duplicate a record (default: skip; follow-ups are never updated)",
    )
    imp.add_argument("--user", help="act as this user (default: the first administrator)")
    imp.add_argument("--resume", type=int, metavar="JOB", help="continue an interrupted import")
    imp.add_argument("--error-report", metavar="FILE", help="write failed rows to this XLSX")
    imp.add_argument("--batch-size", type=int, default=1000, help=argparse.SUPPRESS)
    imp.set_defaults(handler=_checked_import)

    exp = commands.add_parser(
        "export",
        help="export customers, contacts, leads, opportunities or follow-ups (CSV or XLSX)",
    )
    exp.add_argument("kind", choices=EXPORT_KINDS)
    exp.add_argument("--format", choices=["csv", "xlsx"])
    exp.add_argument("-o", "--output", help="output file (default: kehu-KIND-DATE.FORMAT)")
    exp.add_argument("--user", help="act as this user (default: the first administrator)")
    exp.add_argument("--q", help="search text")
    exp.add_argument("--status", help="potential, intent, won or churned")
    exp.add_argument("--owner", type=int, help="owner user id")
    exp.add_argument("--industry", help="industry code, e.g. C or 34")
    exp.add_argument("--region", help="region code, e.g. 310000")
    exp.add_argument("--source", help="source, e.g. trade_show")
    exp.add_argument("--created-from", help="YYYY-MM-DD")
    exp.add_argument("--created-to", help="YYYY-MM-DD")
    exp.set_defaults(handler=cmd_export)


def _kind_and_file(options: argparse.Namespace) -> str:
    """``kehu import KIND FILE``, ``kehu import --kind KIND FILE`` (or ``--resume JOB``):
    sets options.kind and options.file; returns a problem to report, or ""."""
    args = list(options.args)
    if args and args[0] in IMPORT_KINDS:
        kind = args.pop(0)
        if options.kind and options.kind != kind:
            return f"the kind is given twice ({kind} and --kind {options.kind})"
        options.kind = kind
    if len(args) > 1:
        return f"unexpected arguments: {' '.join(args[1:])}"
    options.file = args[0] if args else ""
    if not options.kind and not options.resume:
        return f"give the KIND ({', '.join(IMPORT_KINDS)}) or --kind"
    return ""


def _checked_import(options: argparse.Namespace) -> int:
    problem = _kind_and_file(options)
    if problem:
        print(f"kehu import: {problem}", file=sys.stderr)
        return 2
    if not options.resume and not options.file:
        print("kehu import: give a FILE (or --resume JOB)", file=sys.stderr)
        return 2
    if options.batch_size < 1:
        print("kehu import: --batch-size must be at least 1", file=sys.stderr)
        return 2
    return cmd_import(options)
