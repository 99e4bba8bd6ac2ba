"""The job queue on SQLite (no Redis configured): huey's SQLite storage with the durability of
the main database, WAL with ``synchronous=NORMAL``.

huey's own default is ``synchronous=FULL``: an fsync of ``jobs.sqlite3`` on every enqueue. A
customer create enqueues a job after its commit, so that fsync was part of every create's
latency (5–7 ms of a 27 ms create in process at size M; bench/RESULTS.md, 2026-12-06 l). With
NORMAL a committed job survives a crash of the process, as the main database's rows do; a
power loss may lose the last jobs, as it may lose the last rows.
"""

from __future__ import annotations

import sqlite3

from huey import Huey
from huey.storage import SqliteStorage

NORMAL = 1  # PRAGMA synchronous


class NormalSyncSqliteStorage(SqliteStorage):
    def _create_connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection = super()._create_connection()
        conn.execute(f"pragma synchronous={NORMAL}")
        return conn


class SqliteJobs(Huey):
    """``HUEY["huey_class"]`` without Redis."""

    storage_class = NormalSyncSqliteStorage
