"""`kehu backup PATH` and `kehu restore PATH`: registered on the main parser by kehu.cli
(docs/operations.md, "Backups and restore")."""

# ruff: noqa: T201  (the CLI prints by design, like kehu/cli.py)

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
    import django

    django.setup()


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def cmd_backup(options: argparse.Namespace) -> int:
    _setup_django()
    from kehu.core.context import acting_context, new_request_id
    from kehu.governance.services import backups

    with acting_context(new_request_id("cli")):
        try:
            result = backups.backup_create(options.path)
        except backups.BackupFailed as error:
            print(f"kehu backup: {error.detail}", file=sys.stderr)
            return 2
    print(
        f"Backed up the {result.vendor} database and {result.files} files to {result.path} "
        f"({_size(result.size)}, sha256 {result.sha256})"
    )
    for note in result.notes:
        print(note, file=sys.stderr)
    return 0


def cmd_restore(options: argparse.Namespace) -> int:
    _setup_django()
    from kehu.core.context import acting_context, new_request_id
    from kehu.governance.services import backups

    with acting_context(new_request_id("cli")):
        try:
            if options.check:
                with tempfile.TemporaryDirectory(prefix="kehu-verify-") as staging:
                    manifest = backups.verify_archive(options.path, Path(staging))
                print(
                    f"{options.path}: intact, written by Kehu {manifest.get('kehu_version')} "
                    f"at {manifest.get('created_at')} ({manifest['database'].get('vendor')}, "
                    f"{len(manifest['members'])} members)"
                )
                return 0
            result = backups.restore(options.path)
        except backups.RestoreRefused as error:
            print(f"kehu restore: {error.detail}", file=sys.stderr)
            return 2
        except backups.BackupFailed as error:  # a PostgreSQL client tool is missing
            print(f"kehu restore: {error.detail}", file=sys.stderr)
            return 2
    print(
        f"Restored the {result.vendor} database and {result.files} files written by Kehu "
        f"{result.kehu_version} at {result.created_at}"
    )
    for note in result.notes:
        print(note)
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = commands.add_parser(
        "backup", help="write one archive of the database, attachments and settings files"
    )
    backup.add_argument("path", help="the archive to write, e.g. /backup/kehu.tar.gz")
    backup.set_defaults(handler=cmd_backup)

    restore = commands.add_parser(
        "restore", help="restore an archive into an empty data dir or database"
    )
    restore.add_argument("path", help="an archive written by kehu backup")
    restore.add_argument(
        "--check", action="store_true", help="only verify the archive's checksums and versions"
    )
    restore.set_defaults(handler=cmd_restore)
