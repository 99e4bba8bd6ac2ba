"""Backup and restore (docs/operations.md, "Backups and restore").

``backup_create`` writes one ``.tar.gz`` archive: the database (an online SQLite snapshot through
``sqlite3.Connection.backup``, consistent while the server writes, or a ``pg_dump`` custom-format
dump, itself one consistent snapshot), every file under ``MEDIA_ROOT`` (attachments, generated
exports) and the data dir's settings files (``secret_key``), then ``manifest.json``: the format,
the Kehu version, the applied migrations and each member's size and SHA-256. The archive is
written under a hidden temporary name beside the destination and renamed onto it only once
complete, so a killed backup leaves the previous archive intact and nothing under the final name.

``restore`` reads an archive into an EMPTY database and media directory: it extracts and checks
everything (manifest, format, versions, every checksum) in a staging directory before it writes
anything, refuses a non-empty target, an archive of a newer Kehu and a corrupted archive with
one clear message each, and restores PostgreSQL in one transaction (``pg_restore
--single-transaction``).

The daily job (``tasks.backup_daily``) writes ``kehu-backup-YYYYmmdd-HHMMSS.tar.gz`` into
``governance.backup_dir`` after ``governance.backup_time`` and keeps the newest
``governance.backup_keep`` of them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

import kehu
from kehu.accounts.models import User
from kehu.core import audit, config
from kehu.core.access import is_admin
from kehu.core.errors import Forbidden, KehuError
from kehu.governance.models import BackupKind, BackupRun

FORMAT = 1
MANIFEST = "manifest.json"
SETTINGS_FILES = ("secret_key",)  # the data dir's files a restore needs besides the database
ARCHIVE_PREFIX = "kehu-backup-"
ARCHIVE_SUFFIX = ".tar.gz"
PARTIAL_PREFIX = ".partial-"  # a backup being written (or killed): never listed, never restored
CHUNK = 1024 * 1024

GROUP = "governance"
BACKUP_DIR = config.define(
    "governance.backup_dir",
    "",
    _("Directory of the daily backups"),
    group=GROUP,
    help=_(
        "An absolute path on the server, best on another disk or a mounted network share. "
        "Empty: the backups directory inside the data dir (KEHU_DATA_DIR/backups)."
    ),
    check=lambda value: (
        None
        if value == "" or Path(str(value)).is_absolute()
        else gettext("Enter an absolute path, or leave it empty.")
    ),
)
BACKUP_KEEP = config.define(
    "governance.backup_keep",
    7,
    _("Daily backups to keep"),
    group=GROUP,
    unit=config.TIMES,
    minimum=0,
    maximum=365,
    help=_(
        "The daily backup keeps this many of its newest archives and removes older ones; 0 "
        "turns the daily backup off. Archives written by hand with `kehu backup` elsewhere "
        "are never removed."
    ),
)
BACKUP_TIME = config.define(
    "governance.backup_time",
    "02:30",
    _("Time of the daily backup"),
    group=GROUP,
    unit=config.TIME_OF_DAY,
    check=config.time_of_day,
    help=_("The daily backup runs at the first check of the job worker after this time."),
)


class BackupFailed(KehuError):
    status = 500
    code = "backup_failed"
    default_detail = _("The backup failed.")


class RestoreRefused(KehuError):
    """The archive cannot be restored here; nothing was written."""

    status = 409
    code = "restore_refused"
    default_detail = _("The archive cannot be restored.")


@dataclass
class BackupResult:
    path: Path
    size: int
    sha256: str
    vendor: str
    files: int
    started_at: datetime
    finished_at: datetime
    notes: list[str] = field(default_factory=list)


@dataclass
class RestoreResult:
    vendor: str
    files: int
    created_at: str
    kehu_version: str
    pending_migrations: int = 0
    notes: list[str] = field(default_factory=list)


# --- helpers --------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def _vendor(alias: str = "default") -> str:
    return str(connections[alias].vendor)


def _database() -> dict[str, Any]:
    return dict(settings.DATABASES["default"])


def _pg_env(database: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """Connection arguments and environment of the PostgreSQL client tools."""
    args = []
    if database.get("HOST"):
        args += ["--host", str(database["HOST"])]
    if database.get("PORT"):
        args += ["--port", str(database["PORT"])]
    if database.get("USER"):
        args += ["--username", str(database["USER"])]
    env = dict(os.environ)
    if database.get("PASSWORD"):
        env["PGPASSWORD"] = str(database["PASSWORD"])
    return args, env


def _client(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise BackupFailed(
            gettext(
                "%(tool)s is not installed: install the PostgreSQL client "
                "(apt-get install postgresql-client) of the server's major version."
            )
            % {"tool": tool}
        )
    return found


def _media_files(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        return
    for directory, _dirs, names in os.walk(root):
        for name in sorted(names):
            path = Path(directory) / name
            if path.is_file() and not path.is_symlink():
                yield path


def applied_migrations(alias: str = "default") -> dict[str, list[str]]:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        rows = cursor.fetchall()
    return _group_migrations(rows)


def _group_migrations(rows: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for app, name in rows:
        grouped.setdefault(app, []).append(name)
    return grouped


# --- backup ---------------------------------------------------------------------------------


def _sqlite_snapshot(source: Path, target: Path) -> dict[str, list[str]]:
    """Copy the live database in one step of SQLite's backup API: it reads one consistent
    snapshot (a read transaction; in WAL mode the writers go on meanwhile) and leaves a
    self-contained file (rollback journal, no WAL beside it)."""
    django_connection: Any = connections["default"]
    if django_connection.is_in_memory_db():
        # The test database lives in this process's memory: back up through its connection,
        # which must not hold a write transaction (the backup would wait for it forever).
        if django_connection.in_atomic_block:
            raise BackupFailed(gettext("An in-memory database is backed up outside a transaction."))
        django_connection.ensure_connection()
        src = django_connection.connection
        own = False
    else:
        if not source.exists():
            raise BackupFailed(
                gettext("The database file %(path)s does not exist.") % {"path": source}
            )
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=60)
        own = True
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode=DELETE")
        problem = dst.execute("PRAGMA quick_check").fetchone()[0]
        if problem != "ok":
            raise BackupFailed(
                gettext("The database copy failed its check: %(problem)s") % {"problem": problem}
            )
        rows = dst.execute("SELECT app, name FROM django_migrations ORDER BY app, name").fetchall()
    finally:
        dst.close()
        if own:
            src.close()
    return _group_migrations(rows)


def _pg_dump(database: dict[str, Any], target: Path) -> None:
    args, env = _pg_env(database)
    command = [
        _client("pg_dump"),
        *args,
        "--format=custom",
        "--no-owner",
        "--no-privileges",
        "--file",
        str(target),
        str(database["NAME"]),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupFailed(
            gettext("pg_dump failed: %(error)s") % {"error": result.stderr.strip()[-2000:]}
        )


def _write_archive(
    partial: Path,
    db_file: Path,
    header: dict[str, Any],
    data_dir: Path,
    media_root: Path,
) -> list[dict[str, Any]]:
    """The database first, then the settings files and the media, then ``manifest.json``
    (``header`` plus every member's size and SHA-256) as the last member."""
    members: list[dict[str, Any]] = []
    with tarfile.open(partial, "w:gz", compresslevel=6) as archive:

        def add(path: Path, name: str) -> None:
            digest = hashlib.sha256()
            size = 0
            with path.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                handle.seek(0)
                info = tarfile.TarInfo(name)
                info.size = size
                info.mtime = int(path.stat().st_mtime)
                info.mode = 0o600
                archive.addfile(info, handle)
            members.append({"path": name, "size": size, "sha256": digest.hexdigest()})

        add(db_file, header["database"]["member"])
        for name in SETTINGS_FILES:
            path = data_dir / name
            if path.is_file():
                add(path, f"data/{name}")
        for path in _media_files(media_root):
            try:
                add(path, "media/" + path.relative_to(media_root).as_posix())
            except FileNotFoundError:
                continue  # removed (a deleted attachment) while the backup ran
        manifest = {**header, "members": members}
        body = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(body)
        info.mtime = int(timezone.now().timestamp())
        info.mode = 0o600
        archive.addfile(info, io.BytesIO(body))
    return members


def backup_create(
    destination: Path | str, *, actor: User | None = None, kind: str = BackupKind.MANUAL
) -> BackupResult:
    """Write the archive to ``destination`` (a file; its directory is created), record the run
    and the audit entry ``governance.backup``; a failure is recorded too, then raised."""
    started = timezone.now()
    destination = Path(destination).expanduser().resolve()
    try:
        result = _backup(destination, started)
    except (BackupFailed, OSError, sqlite3.Error, tarfile.TarError) as error:
        detail = error.detail if isinstance(error, KehuError) else str(error)
        with contextlib.suppress(DatabaseError):  # the database itself may be what failed
            BackupRun.objects.create(
                started_at=started,
                kind=kind,
                path=str(destination),
                ok=False,
                error=detail,
                actor=actor,
            )
            audit.record(
                "governance.backup",
                actor=actor,
                details={"ok": False, "kind": kind, "archive": destination.name},
            )
        if isinstance(error, BackupFailed):
            raise
        raise BackupFailed(gettext("The backup failed: %(error)s") % {"error": detail}) from error
    try:
        run = BackupRun.objects.create(
            started_at=started,
            finished_at=result.finished_at,
            kind=kind,
            path=str(result.path),
            size=result.size,
            sha256=result.sha256,
            ok=True,
            actor=actor,
        )
        audit.record(
            "governance.backup",
            actor=actor,
            target=run,
            details={
                "ok": True,
                "kind": kind,
                "archive": result.path.name,
                "size": result.size,
                "sha256": result.sha256,
                "files": result.files,
            },
        )
    except DatabaseError:
        # The archive is whole; only its record failed: a database not yet migrated to this
        # Kehu (a backup taken after installing an upgrade, before `kehu serve` migrates).
        result.notes.append(
            gettext("The archive is complete, but the database is not migrated: not recorded.")
        )
    return result


def _backup(destination: Path, started: datetime) -> BackupResult:
    if destination.is_dir():
        message = gettext("%(path)s is a directory; name the archive file.")
        raise BackupFailed(message % {"path": destination})
    destination.parent.mkdir(parents=True, exist_ok=True)
    data_dir = Path(settings.DATA_DIR)
    media_root = Path(settings.MEDIA_ROOT)
    vendor = _vendor()
    database = _database()
    partial = destination.with_name(f"{PARTIAL_PREFIX}{secrets.token_hex(6)}-{destination.name}")
    with tempfile.TemporaryDirectory(
        prefix=f"{PARTIAL_PREFIX}work-", dir=destination.parent
    ) as work:
        try:
            if vendor == "sqlite":
                db_file = Path(work) / "kehu.sqlite3"
                migrations = _sqlite_snapshot(Path(str(database["NAME"])), db_file)
                db_member = "database/kehu.sqlite3"
            elif vendor == "postgresql":
                migrations = applied_migrations()
                db_file = Path(work) / "kehu.pgdump"
                _pg_dump(database, db_file)
                db_member = "database/kehu.pgdump"
            else:
                raise BackupFailed(
                    gettext("Backups support SQLite and PostgreSQL, not %(vendor)s.")
                    % {"vendor": vendor}
                )
            header = {
                "format": FORMAT,
                "kehu_version": kehu.__version__,
                "created_at": timezone.now().isoformat(),
                "database": {"vendor": vendor, "member": db_member},
                "migrations": migrations,
            }
            members = _write_archive(partial, db_file, header, data_dir, media_root)
            with partial.open("rb") as handle:
                os.fsync(handle.fileno())
            os.replace(partial, destination)  # atomic: the old archive or the new, never half
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    with contextlib.suppress(OSError):
        directory = os.open(destination.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    return BackupResult(
        path=destination,
        size=destination.stat().st_size,
        sha256=_sha256(destination),
        vendor=vendor,
        files=len(members) - 1,
        started_at=started,
        finished_at=timezone.now(),
    )


def _remove_stale_partials(directory: Path, older_than_seconds: int = 3600) -> None:
    """Leftovers of a killed backup (hidden names, never listed); a backup still running keeps
    touching its own, so only those untouched for an hour go."""
    now = time.time()
    for path in directory.glob(f"{PARTIAL_PREFIX}*"):
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime < older_than_seconds:
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink()


# --- verify and restore ---------------------------------------------------------------------

ALLOWED_TOP = ("database/", "data/", "media/")


def _safe_name(name: str) -> str | None:
    """The member's path if it stays inside the archive's own layout, else None."""
    if name == MANIFEST:
        return name
    if name.startswith("/") or "\\" in name or not name.startswith(ALLOWED_TOP):
        return None
    parts = name.split("/")
    if any(part in {"", ".", ".."} for part in parts):
        return None
    return name


def _damaged(reason: object) -> RestoreRefused:
    return RestoreRefused(
        gettext("The archive is damaged or not a Kehu backup (%(reason)s). Nothing was restored.")
        % {"reason": reason},
        code="archive_damaged",
    )


def verify_archive(archive: Path | str, staging: Path) -> dict[str, Any]:
    """Extract ``archive`` into ``staging`` and check it whole: its layout, the manifest and
    every member's size and SHA-256. Returns the manifest; raises ``RestoreRefused``."""
    archive = Path(archive).expanduser()
    if not archive.is_file():
        message = gettext("There is no file %(path)s.")
        raise RestoreRefused(message % {"path": archive}, code="not_found")
    seen: dict[str, tuple[int, str]] = {}
    try:
        with tarfile.open(archive, "r|gz") as stream:
            for member in stream:
                name = _safe_name(member.name)
                if member.isdir():
                    continue
                if name is None or not member.isfile():
                    raise _damaged(gettext("unexpected member %(name)s") % {"name": member.name})
                if name in seen:
                    raise _damaged(gettext("member %(name)s twice") % {"name": name})
                target = staging / name
                target.parent.mkdir(parents=True, exist_ok=True)
                source = stream.extractfile(member)
                if source is None:
                    raise _damaged(name)
                digest = hashlib.sha256()
                size = 0
                with target.open("wb") as handle:
                    while chunk := source.read(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        handle.write(chunk)
                seen[name] = (size, digest.hexdigest())
    except RestoreRefused:
        raise
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        raise _damaged(error) from error
    if MANIFEST not in seen:
        raise _damaged(gettext("no manifest"))
    try:
        manifest = json.loads((staging / MANIFEST).read_text(encoding="utf-8"))
        members = {
            item["path"]: (int(item["size"]), str(item["sha256"])) for item in manifest["members"]
        }
        manifest["database"]["member"]
    except (ValueError, KeyError, TypeError) as error:
        raise _damaged(gettext("unreadable manifest")) from error
    _check_versions(manifest)
    del seen[MANIFEST]
    if set(seen) != set(members):
        raise _damaged(gettext("the members differ from the manifest"))
    for name, expected in members.items():
        if seen[name] != expected:
            raise _damaged(gettext("checksum mismatch in %(name)s") % {"name": name})
    return dict(manifest)


def _check_versions(manifest: dict[str, Any]) -> None:
    """Refuse an archive this Kehu cannot read: a newer format, Kehu version or migrations."""
    written_by = str(manifest.get("kehu_version", "?"))
    newer = RestoreRefused(
        gettext(
            "The archive was written by Kehu %(archive)s, which is newer than this Kehu "
            "(%(current)s): install Kehu %(archive)s or later, then restore it. Nothing was "
            "restored."
        )
        % {"archive": written_by, "current": kehu.__version__},
        code="archive_newer",
    )
    try:
        archive_format = int(manifest.get("format", 0))
    except (TypeError, ValueError) as error:
        raise _damaged(gettext("unreadable manifest")) from error
    if archive_format > FORMAT:
        raise newer
    if _version_tuple(written_by) > _version_tuple(kehu.__version__):
        raise newer
    known = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    migrations = manifest.get("migrations", {})
    if not isinstance(migrations, dict):
        raise _damaged(gettext("unreadable manifest"))
    for app, names in migrations.items():
        for name in names:
            if (app, name) not in known:
                raise newer


def _tables(vendor: str, database: dict[str, Any]) -> list[str]:
    if vendor == "sqlite":
        path = Path(str(database["NAME"]))
        if not path.exists() or path.stat().st_size == 0:
            return []
        probe = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = probe.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            ).fetchall()
        finally:
            probe.close()
        return [row[0] for row in rows]
    with connections["default"].cursor() as cursor:
        return list(connections["default"].introspection.table_names(cursor))


def _check_empty(vendor: str, database: dict[str, Any], media_root: Path) -> None:
    tables = _tables(vendor, database)
    if tables:
        raise RestoreRefused(
            gettext(
                "The database %(name)s is not empty (%(count)d tables): restore only into an "
                "empty database (a new KEHU_DATA_DIR, or a new PostgreSQL database in "
                "KEHU_DATABASE_URL). Nothing was restored."
            )
            % {"name": database["NAME"], "count": len(tables)},
            code="target_not_empty",
        )
    if next(_media_files(media_root), None) is not None:
        raise RestoreRefused(
            gettext(
                "The media directory %(path)s holds files: restore only into an empty data "
                "dir. Nothing was restored."
            )
            % {"path": media_root},
            code="target_not_empty",
        )


def _pg_restore(database: dict[str, Any], dump: Path) -> None:
    args, env = _pg_env(database)
    command = [
        _client("pg_restore"),
        *args,
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        "--dbname",
        str(database["NAME"]),
        str(dump),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RestoreRefused(
            gettext("pg_restore failed: %(error)s. Nothing was restored.")
            % {"error": result.stderr.strip()[-2000:]},
            code="restore_failed",
        )


def restore(archive: Path | str) -> RestoreResult:
    """Restore ``archive`` into the configured database and data dir, both empty."""
    archive = Path(archive).expanduser().resolve()
    data_dir = Path(settings.DATA_DIR)
    media_root = Path(settings.MEDIA_ROOT)
    vendor = _vendor()
    database = _database()
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{PARTIAL_PREFIX}restore-", dir=data_dir))
    try:
        manifest = verify_archive(archive, staging)
        archived_vendor = manifest["database"].get("vendor")
        if archived_vendor != vendor:
            raise RestoreRefused(
                gettext(
                    "The archive holds a %(archived)s database but Kehu is set up for "
                    "%(vendor)s: restore it into the same kind of database. Nothing was "
                    "restored."
                )
                % {"archived": archived_vendor, "vendor": vendor},
                code="wrong_database",
            )
        _check_empty(vendor, database, media_root)
        connections.close_all()
        dump = staging / manifest["database"]["member"]
        if vendor == "sqlite":
            target = Path(str(database["NAME"]))
            for suffix in ("-wal", "-shm", "-journal", ""):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(dump, target)
        else:
            _pg_restore(database, dump)
        files = 0
        for item in manifest["members"]:
            name = item["path"]
            source = staging / name
            if name.startswith("media/"):
                target = media_root / name.removeprefix("media/")
            elif name.startswith("data/"):
                target = data_dir / name.removeprefix("data/")
            else:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(source, target)
            if name.startswith("data/"):
                target.chmod(0o600)
            files += 1
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    result = RestoreResult(
        vendor=vendor,
        files=files,
        created_at=str(manifest.get("created_at", "")),
        kehu_version=str(manifest.get("kehu_version", "")),
        pending_migrations=_pending_migrations(),
    )
    details = {
        "archive": archive.name,
        "written_at": result.created_at,
        "kehu_version": result.kehu_version,
        "files": files,
    }
    if result.pending_migrations == 0:
        audit.record("governance.restore", details=details)
    else:
        result.notes.append(
            gettext(
                "The archive is from an older Kehu: %(count)d migrations will run at the next "
                "`kehu serve` (or `kehu manage migrate`)."
            )
            % {"count": result.pending_migrations}
        )
    return result


def _pending_migrations() -> int:
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections["default"])
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


# --- the daily backup and the list ----------------------------------------------------------


def backup_directory() -> Path:
    configured = str(config.get(BACKUP_DIR.key) or "")
    return Path(configured) if configured else Path(settings.DATA_DIR) / "backups"


def scheduled_backup_due(now: datetime | None = None) -> bool:
    """Whether the daily backup should run now: on, past today's time, not yet run since."""
    if int(config.get(BACKUP_KEEP.key)) == 0:
        return False
    local = timezone.localtime(now or timezone.now())
    hour, minute = (int(part) for part in str(config.get(BACKUP_TIME.key)).split(":"))
    since = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if local < since:
        return False
    return not BackupRun.objects.filter(kind=BackupKind.SCHEDULED, started_at__gte=since).exists()


def backup_scheduled(now: datetime | None = None) -> BackupResult | None:
    """The daily job's body: one backup when due, then the rotation."""
    if not scheduled_backup_due(now):
        return None
    directory = backup_directory()  # created by the backup (a failure there is recorded)
    if directory.is_dir():
        _remove_stale_partials(directory)
    local = timezone.localtime(now or timezone.now())
    name = f"{ARCHIVE_PREFIX}{local:%Y%m%d-%H%M%S}{ARCHIVE_SUFFIX}"
    try:
        result = backup_create(directory / name, kind=BackupKind.SCHEDULED)
    finally:
        backup_rotate(directory, int(config.get(BACKUP_KEEP.key)))
    return result


def backup_rotate(directory: Path, keep: int) -> list[Path]:
    """Remove all but the newest ``keep`` daily archives of ``directory`` (names sort by
    time); the runs of removed archives get ``pruned_at``."""
    if keep <= 0 or not directory.is_dir():
        return []
    archives = sorted(directory.glob(f"{ARCHIVE_PREFIX}*{ARCHIVE_SUFFIX}"))
    removed = archives[:-keep]
    for path in removed:
        path.unlink(missing_ok=True)
    if removed:
        BackupRun.objects.filter(path__in=[str(path) for path in removed]).update(
            pruned_at=timezone.now()
        )
    return removed


def backups_may_view(user: User) -> bool:
    return is_admin(user)


def require_may_view(user: User) -> None:
    if not backups_may_view(user):
        raise Forbidden(_("Only administrators see the backups."))
