"""The daily backup (once a day past its time, rotation, audited, failures recorded) and the
backups page and API (administrators only, a fixed number of queries)."""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from kehu.core import config
from kehu.core.models import AuditEntry
from kehu.core.testing.factories import Organisation, api_client
from kehu.governance import tasks
from kehu.governance.models import BackupKind, BackupRun
from kehu.governance.services import backups

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def backup_dir(transactional_db: None, tmp_path: Path) -> Path:
    """The daily backup's directory; committed data, since SQLite's backup API cannot copy
    the in-memory test database from inside the test's open write transaction."""
    config.put(backups.BACKUP_DIR.key, str(tmp_path / "daily"))
    config.put(backups.BACKUP_KEEP.key, 2)
    config.put(backups.BACKUP_TIME.key, "02:30")
    return tmp_path / "daily"


def test_daily_backup_runs_once_past_its_time_and_keeps_the_newest(backup_dir: Path) -> None:
    with time_machine.travel(at(7, 2, 20), tick=False):
        assert tasks.backup_daily.call_local() == ""  # before 02:30: not due
    with time_machine.travel(at(7, 2, 40), tick=False):
        first = tasks.backup_daily.call_local()
        assert first == str(backup_dir / "kehu-backup-20261207-024000.tar.gz")
        assert tasks.backup_daily.call_local() == ""  # once a day
    for day in (8, 9):
        with time_machine.travel(at(day, 3, 0), tick=False):
            assert tasks.backup_daily.call_local()
    kept = sorted(path.name for path in backup_dir.glob("kehu-backup-*.tar.gz"))
    assert kept == ["kehu-backup-20261208-030000.tar.gz", "kehu-backup-20261209-030000.tar.gz"]
    runs = list(BackupRun.objects.order_by("finished_at"))
    assert [run.kind for run in runs] == [BackupKind.SCHEDULED] * 3
    assert all(run.ok and run.size and len(run.sha256) == 64 for run in runs)
    assert runs[0].pruned_at is not None
    assert runs[1].pruned_at is None
    entries = AuditEntry.objects.filter(action="governance.backup").order_by("seq")
    assert entries.count() == 3
    details = entries.last().details  # type: ignore[union-attr]
    assert details["ok"] is True
    assert details["archive"] == kept[-1]
    assert details["kind"] == "scheduled"


def test_daily_backup_off_with_keep_zero(backup_dir: Path) -> None:
    config.put(backups.BACKUP_KEEP.key, 0)
    with time_machine.travel(at(7, 12), tick=False):
        assert tasks.backup_daily.call_local() == ""
    assert not BackupRun.objects.exists()


def test_a_failed_backup_is_recorded_and_not_retried_the_same_day(
    backup_dir: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    config.put(backups.BACKUP_DIR.key, str(blocker / "daily"))  # cannot be created
    with time_machine.travel(at(7, 2, 40), tick=False):
        assert tasks.backup_daily.call_local() == "failed"
        assert tasks.backup_daily.call_local() == ""
    run = BackupRun.objects.get()
    assert run.ok is False
    assert run.error
    entry = AuditEntry.objects.get(action="governance.backup")
    assert entry.details["ok"] is False


def test_stale_partial_archives_are_removed_by_the_next_daily_backup(backup_dir: Path) -> None:
    backup_dir.mkdir(parents=True)
    stale = backup_dir / ".partial-0a1b2c-kehu-backup-20261206-023000.tar.gz"
    fresh = backup_dir / ".partial-ffffff-kehu-backup-20261207-023000.tar.gz"
    with time_machine.travel(at(7, 2, 40), tick=True):
        stale.write_bytes(b"half an archive, killed yesterday")
        old = time.time() - 2 * 3600
        os.utime(stale, (old, old))
        fresh.write_bytes(b"another backup still writing")
        now = time.time()
        os.utime(fresh, (now, now))
        assert tasks.backup_daily.call_local()
    assert not stale.exists()
    assert fresh.exists()


def test_settings_are_checked(db: None) -> None:
    from kehu.core.errors import InvalidInput

    for key, value in (
        (backups.BACKUP_TIME.key, "25:00"),
        (backups.BACKUP_KEEP.key, -1),
        (backups.BACKUP_DIR.key, "relative/path"),
    ):
        with pytest.raises(InvalidInput):
            config.put(key, value)


def _runs(org: Organisation, count: int) -> None:
    for number in range(count):
        BackupRun.objects.create(
            kind=BackupKind.SCHEDULED if number % 2 else BackupKind.MANUAL,
            path=f"/backup/kehu-backup-{number}.tar.gz",
            size=1000 + number,
            ok=number != 0,
            error="" if number else "pg_dump failed: no space left on device",
            actor=org.admin if number % 2 == 0 else None,
        )


def test_backups_page_lists_runs_for_admins(
    org: Organisation, client: Client, django_assert_max_num_queries: Any
) -> None:
    _runs(org, 12)
    client.force_login(org.admin)
    with django_assert_max_num_queries(12):
        response = client.get("/governance/backups/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "kehu-backup-11.tar.gz" in body
    assert "no space left on device" in body
    client.force_login(org.rep)
    assert client.get("/governance/backups/").status_code == 403


def test_backups_api_lists_runs_newest_first(
    org: Organisation, django_assert_max_num_queries: Any, tmp_path: Path
) -> None:
    _runs(org, 5)
    archive = tmp_path / "kehu.tar.gz"
    archive.write_bytes(b"x")
    BackupRun.objects.create(kind=BackupKind.MANUAL, path=str(archive), size=1, ok=True)
    client = api_client(org.admin)  # making its token writes an audit entry: not counted
    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/backups?limit=3")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 6
    newest = body["items"][0]
    assert newest["archive"] == "kehu.tar.gz"
    assert newest["present"] is True
    assert newest["ok"]
    assert [item["present"] for item in body["items"][1:]] == [False, False]
    refused = api_client(org.rep).get("/api/v1/backups")
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
