"""The job queue's SQLite storage (no Redis): WAL with synchronous=NORMAL, and it queues."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from kehu.core.job_storage import NORMAL, SqliteJobs


def test_sqlite_queue_is_wal_with_normal_sync_and_round_trips(tmp_path: Path) -> None:
    if not settings.REDIS_URL:
        assert settings.HUEY["huey_class"] == "kehu.core.job_storage.SqliteJobs"
    jobs = SqliteJobs("kehu-test", filename=str(tmp_path / "jobs.sqlite3"))
    connection = jobs.storage.conn
    assert connection.execute("pragma synchronous").fetchone() == (NORMAL,)
    assert connection.execute("pragma journal_mode").fetchone() == ("wal",)

    @jobs.task()
    def add(a: int, b: int) -> int:
        return a + b

    result = add(2, 3)
    assert jobs.pending_count() == 1
    jobs.execute(jobs.dequeue())
    assert jobs.pending_count() == 0
    assert result.get() == 5
