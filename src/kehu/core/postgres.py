"""PostgreSQL connection setup: timestamps read by psycopg's C loader.

Django reads every ``timestamptz`` through a loader derived from psycopg's pure-Python one
(``psycopg_any.BaseTzLoader``), so the C build of psycopg never parses a timestamp: for a
page of 50 customers that is 250 timestamps parsed in Python, 0.6–1.0 ms of a 7–8 ms list
request (bench/RESULTS.md, 2026-12-06 b; Django ticket #36960). Each new connection gets a
loader with Django's contract (the ``timezone`` class attribute that ``create_cursor``
compares, the result's tzinfo replaced by it) whose parsing is psycopg's own optimised loader.
"""

from __future__ import annotations

import datetime
from functools import cache
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper


def use_optimised_timestamp_loader(
    sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any
) -> None:
    """``connection_created`` receiver: install the loader on a new PostgreSQL connection."""
    if connection.vendor != "postgresql":
        return
    import psycopg
    from psycopg.postgres import types
    from psycopg.pq import Format

    oid = types["timestamptz"].oid
    optimised = psycopg.adapters.get_loader(oid, Format.TEXT)
    if optimised is None or optimised.__module__.startswith("psycopg.types"):
        return  # no C build of psycopg here: Django's loader is as fast
    connection.connection.adapters.register_loader(
        oid, _loader_class(optimised, connection.timezone)
    )


@cache
def _loader_class(optimised: type, timezone: datetime.tzinfo | None) -> type:
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader

    class OptimisedTzLoader(BaseTzLoader):
        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self._parse = optimised(oid, context).load

        def load(self, data: Any) -> datetime.datetime:
            return self._parse(data).replace(tzinfo=self.timezone)

    OptimisedTzLoader.timezone = timezone
    return OptimisedTzLoader


def postgresql_only(statements: list[str]) -> Any:
    """A ``RunPython`` function that executes ``statements`` on PostgreSQL and does nothing on
    SQLite: for indexes only PostgreSQL has (trigram) or needs (a key with included columns)."""

    def run(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run
