"""The SQLite test database as a file, for tests of concurrent writers.

pytest-django's SQLite test database lives in memory with a shared cache, where a writer
waiting for another fails at once ("database table is locked") instead of waiting for the
lock as a file database does. ``file_copy`` copies it (use ``transaction=True`` tests, so
the copy holds what the test wrote) to a file in WAL mode, and points the connections that
threads open meanwhile at it, with the project's own connection settings (timeout,
``BEGIN IMMEDIATE``, the PRAGMAs). The test's own thread keeps its in-memory database.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.db import connection, connections


@contextlib.contextmanager
def file_copy(directory: Path, *, timeout: float | None = None) -> Iterator[Path]:
    """Copy the test database to ``directory``; connections opened in other threads while the
    block runs use the copy (its busy ``timeout`` in seconds, when given)."""
    if connection.vendor != "sqlite":
        raise RuntimeError("file_copy is for the SQLite test database")
    path = directory / "kehu.sqlite3"
    connection.ensure_connection()
    target = sqlite3.connect(path)
    try:
        connection.connection.backup(target)
        target.execute("PRAGMA journal_mode=WAL")
    finally:
        target.close()
    shared = connection.settings_dict  # the dict every thread's new connection is made from
    saved = shared["NAME"], shared["OPTIONS"]
    shared["NAME"] = str(path)
    if timeout is not None:
        shared["OPTIONS"] = {**shared["OPTIONS"], "timeout": timeout}
    try:
        yield path
    finally:
        shared["NAME"], shared["OPTIONS"] = saved


def in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(index)`` in ``count`` threads started together; their results (or the
    exceptions they raised), in index order. Each thread closes its connections."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except BaseException as error:  # returned to the test, which asserts on it
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return results
