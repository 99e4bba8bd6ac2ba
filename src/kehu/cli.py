"""The ``kehu`` command: serve, demo, user add, worker, import, export, backup, restore, manage."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from kehu.core.context import acting_context, new_request_id
from kehu.core.demo import load_demo
from kehu.governance.backup_cli import register as register_backups
from kehu.transfer.cli import register as register_transfer


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
    import django

    django.setup()


def _manage(*args: str) -> None:
    from django.core.management import call_command

    call_command(*args)


def _migrate() -> None:
    """Bring the database up to date, as ``serve`` does: a fresh data dir works at once."""
    _manage("migrate", "--noinput", "-v", "0")


def pending_migrations() -> int:
    """Migrations the database has not applied (all of them on a fresh data dir)."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


NOT_MIGRATED = "kehu {command}: the database is not set up; run `kehu manage migrate` first"


def cmd_serve(options: argparse.Namespace) -> int:
    _setup_django()
    from django.conf import settings

    _migrate()
    _manage("collectstatic", "--noinput", "-v", "0")
    from kehu.core.links import startup_warning  # reads a setting: after django.setup()

    warning = startup_warning()
    if warning:
        print(warning, file=sys.stderr, flush=True)
    worker = None
    if not settings.REDIS_URL and not options.no_worker:
        # Embedded default: jobs live in SQLite and this process supervises their worker.
        worker = subprocess.Popen([sys.executable, "-m", "kehu.cli", "worker"])
    try:
        # gunicorn and the WSGI app load only for `serve`; other commands start without them.
        from kehu.core.server import run_gunicorn

        run_gunicorn(host=options.host, port=options.port, workers=options.workers)
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGINT)
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
    return 0


def cmd_worker(options: argparse.Namespace) -> int:
    _setup_django()
    # A worker runs beside `kehu serve`, which migrates: it does not race it, it says so.
    if pending_migrations():
        print(NOT_MIGRATED.format(command="worker"), file=sys.stderr)
        return 2
    _manage("run_huey", "--workers", str(options.workers))
    return 0


def cmd_demo(options: argparse.Namespace) -> int:
    _setup_django()
    _migrate()

    report = load_demo(customers=options.customers, seed=options.seed, if_empty=options.if_empty)
    print(report)
    return 0


def cmd_user_add(options: argparse.Namespace) -> int:
    _setup_django()
    _migrate()  # the first command of a new installation: `kehu user add admin --role admin`
    # Models import only after django.setup(); errors pulls in Django's translation machinery,
    # which would double the start-up time of `kehu --help`.
    from kehu.accounts import security, services
    from kehu.accounts.models import Department
    from kehu.core.errors import KehuError

    department: Department | None = None
    try:
        with acting_context(new_request_id("cli")):
            if options.department:
                names = [part.strip() for part in options.department.split("/") if part.strip()]
                department = services.department_get_or_create_path(names)
            # Without --password Kehu makes one, prints it once, and the user must replace it
            # at the first sign-in.
            generated = "" if options.password else security.generate_password()
            user = services.user_create(
                username=options.username,
                role=options.role,
                password=options.password or generated,
                department=department,
                email=options.email or "",
                must_change_password=bool(generated),
            )
            print(f"Created user {user.username} ({user.get_role_display()})")
            if generated:
                print(f"Password (change at first sign-in): {generated}")
            if options.token:
                issued = services.token_create(user=user, name="cli")
                print(issued.plaintext)
    except KehuError as error:
        print(f"kehu user add: {error.detail}", file=sys.stderr)
        for field, messages in error.errors.items():
            for message in messages:
                print(f"  {field}: {message}", file=sys.stderr)
        return 2
    return 0


def cmd_user_reset_2fa(options: argparse.Namespace) -> int:
    """Remove a user's second factor (a lost phone and lost recovery codes), audited."""
    _setup_django()
    from kehu.accounts import security
    from kehu.accounts.models import User

    user = User.objects.filter(username=options.username).first()
    if user is None:
        print(f"kehu user reset-2fa: no user {options.username}", file=sys.stderr)
        return 2
    with acting_context(new_request_id("cli")):
        security.two_factor_reset(actor=None, user=user)
    print(f"Two-factor sign-in removed for {user.username}; they set it up again if required")
    return 0


def cmd_audit_verify(options: argparse.Namespace) -> int:
    """Recompute the audit trail's hash chain: exit 0 when it holds, 1 naming the first entry
    that does not fit (changed, missing, or the newest ones gone)."""
    _setup_django()
    if pending_migrations():
        print(NOT_MIGRATED.format(command="audit verify"), file=sys.stderr)
        return 2
    from kehu.core import audit

    result = audit.verify()
    if result.ok:
        print(f"kehu audit verify: the chain holds, {result.checked} entries checked")
        return 0
    print(
        f"kehu audit verify: entry #{result.first_bad_seq}: {result.problem} "
        f"({result.checked} entries before it hold)",
        file=sys.stderr,
    )
    return 1


def cmd_manage(options: argparse.Namespace) -> int:
    _setup_django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["kehu manage", *options.args])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kehu", description="Kehu CRM")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate and serve the web UI and API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=None, help="web worker processes")
    serve.add_argument("--no-worker", action="store_true", help="do not start the job worker")
    serve.set_defaults(handler=cmd_serve)

    worker = commands.add_parser("worker", help="run the background job worker")
    worker.add_argument("--workers", type=int, default=2)
    worker.set_defaults(handler=cmd_worker)

    demo = commands.add_parser("demo", help="load demo data and demo users of every role")
    demo.add_argument("--customers", type=int, default=200)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument(
        "--if-empty", action="store_true", help="do nothing when the database has customers"
    )
    demo.set_defaults(handler=cmd_demo)

    user = commands.add_parser("user", help="manage users")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    add = user_commands.add_parser("add", help="create a user")
    add.add_argument("username")
    add.add_argument("--role", required=True)
    add.add_argument("--department", help='department path, e.g. "华东区/上海组"')
    add.add_argument("--password")
    add.add_argument("--email")
    add.add_argument("--token", action="store_true", help="print an API token on the last line")
    add.set_defaults(handler=cmd_user_add)
    reset_2fa = user_commands.add_parser(
        "reset-2fa", help="remove a user's two-factor sign-in (a lost phone and recovery codes)"
    )
    reset_2fa.add_argument("username")
    reset_2fa.set_defaults(handler=cmd_user_reset_2fa)

    register_transfer(commands)
    register_backups(commands)

    audit = commands.add_parser("audit", help="the audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser("verify", help="check the audit trail's hash chain")
    verify.set_defaults(handler=cmd_audit_verify)

    manage = commands.add_parser("manage", help="run a Django management command")
    manage.add_argument("args", nargs=argparse.REMAINDER)
    manage.set_defaults(handler=cmd_manage)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    options = build_parser().parse_args(argv)
    handler: Any = options.handler
    try:
        return int(handler(options))
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        line = _database_problem(options.command, error)
        if line is None:
            raise
        print(line, file=sys.stderr)
        return 2


def _database_problem(command: str, error: Exception) -> str | None:
    """One line for a command that found the database missing or unmigrated (no traceback);
    None for any other error."""
    from django.db import DatabaseError

    if not isinstance(error, DatabaseError):
        return None
    try:
        missing = pending_migrations()
    except DatabaseError:
        return f"kehu {command}: cannot use the database: {str(error).splitlines()[0]}"
    return NOT_MIGRATED.format(command=command) if missing else None


if __name__ == "__main__":
    sys.exit(main())
