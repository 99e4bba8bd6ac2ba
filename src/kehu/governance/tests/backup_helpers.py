"""Helpers of the backup tests: the ``kehu`` command in a subprocess with a data dir (and
database) of its own, a writer under load, and every table's rows and every media file's
checksum of an installation, to compare a source with its restored copy."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

Rows = dict[str, list[str]]


def kehu_env(data_dir: Path, database_url: str = "") -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("KEHU_") and key != "DJANGO_SETTINGS_MODULE"
    }
    environment.update(
        {
            "KEHU_DATA_DIR": str(data_dir),
            "KEHU_NODE_MODULES": str(settings.NODE_MODULES),
            "KEHU_JOBS_IMMEDIATE": "1",
            "KEHU_LANGUAGE": "en",
        }
    )
    if database_url:
        environment["KEHU_DATABASE_URL"] = database_url
    return environment


def kehu(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kehu.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


class Writer:
    """``write_load`` in a subprocess; ``count`` is the customers it has committed."""

    def __init__(self, env: dict[str, str], stop_file: Path) -> None:
        self.stop_file = stop_file
        self.count = 0
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kehu.governance.tests.write_load", str(stop_file)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip().isdigit():
                self.count = int(line)

    def wait_for(self, count: int, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while self.count < count:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read() if self.process.stderr else ""
                raise AssertionError(f"the writer ended early: {stderr[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the writer reached {self.count} of {count}")
            time.sleep(0.05)

    def stop(self) -> int:
        self.stop_file.touch()
        self.process.wait(timeout=120)
        self._reader.join(timeout=10)
        assert self.process.returncode == 0, (
            self.process.stderr.read() if self.process.stderr else ""
        )
        return self.count


def media_checksums(media_root: Path) -> dict[str, str]:
    if not media_root.is_dir():
        return {}
    return {
        path.relative_to(media_root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(media_root.rglob("*"))
        if path.is_file()
    }


def sqlite_rows(path: Path) -> Rows:
    """Every table's rows (FTS tables and their shadow tables included), each as text."""
    database = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [
            row[0]
            for row in database.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {
            table: sorted(repr(row) for row in database.execute(f'SELECT * FROM "{table}"'))
            for table in tables
        }
    finally:
        database.close()


def pg_url(name: str) -> str:
    config = connection.settings_dict
    user = config.get("USER") or "postgres"
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    host = config.get("HOST") or "127.0.0.1"
    port = config.get("PORT") or 5432
    return f"postgresql://{user}{password}@{host}:{port}/{name}"


@contextmanager
def pg_database(name: str) -> Iterator[str]:
    """A new empty PostgreSQL database ``name`` for the length of the block."""
    import psycopg

    admin = pg_url("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_url(name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_rows(url: str) -> Rows:
    import psycopg

    with psycopg.connect(url) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                "AND table_type = 'BASE TABLE' ORDER BY table_name"
            )
        ]
        result: Rows = {}
        for table in tables:
            rows: list[Any] = conn.execute(f'SELECT * FROM "{table}"').fetchall()
            result[table] = sorted(repr(row) for row in rows)
        return result


def pg_count(url: str, table: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
        assert row is not None
        return int(row[0])
