"""SQLite's substring index for the search box: FTS5 tables with the ``trigram`` tokenizer.

PostgreSQL looks ``LIKE '%term%'`` up in pg_trgm GIN indexes (migrations 0003, 0014 and 0021).
SQLite's ``LIKE`` cannot use an index, so on SQLite two FTS5 ``trigram`` tables index the
same text: ``customers_customer_fts`` the customers' ``search_text``, ``customers_contact_fts``
the contacts' name, email, phones and searchable custom values (``custom_text``). Both are
*external content* tables (the text is not stored twice; the FTS row id is the customer's or
contact's id) kept in sync by triggers on the tables they index, so every write path is
covered, the ORM's saves and ``update()`` as much as the bulk loaders' ``executemany`` and
the cascades of a delete or merge.

Reads stay on the ORM: ``CustomerSearchIndex`` and ``ContactSearchIndex`` (``models``) are
unmanaged models of the two tables, filtered with the ``match`` lookup below and used as
``pk__in`` subqueries of the scoped querysets (``selectors.search``, ``contact_search``).
A phrase query of the trigram tokenizer matches exactly the texts containing the phrase as a
substring, so the result set is the one ``LIKE`` finds on PostgreSQL; terms shorter than three
characters have no trigram and stay on ``LIKE`` (``TRIGRAM``).

SQLite rebuilds a table for many schema changes (``ALTER … ADD CONSTRAINT``, a changed
column): the copy loses the old table's triggers. ``ensure`` (run after every ``migrate``)
puts missing triggers back and rebuilds the index from the table, so no later migration can
leave the index silently stale.
"""

from __future__ import annotations

from typing import Any

from django.db import NotSupportedError, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Lookup

TRIGRAM = 3  # characters: the shortest term the index can look up

CUSTOMER_FTS = "customers_customer_fts"
CONTACT_FTS = "customers_contact_fts"
# (FTS table, indexed table, indexed columns). A migration that creates or changes one passes
# its own copy of the entry to ``create`` and ``drop`` (0014, 0021): the columns of its time.
Index = tuple[str, str, tuple[str, ...]]
INDEXES: tuple[Index, ...] = (
    (CUSTOMER_FTS, "customers_customer", ("search_text",)),
    (CONTACT_FTS, "customers_contact", ("name", "email", "mobile", "work_phone", "custom_text")),
)


class MatchField(models.TextField):
    """The hidden column an FTS5 table has under its own name: the target of ``match``."""


@MatchField.register_lookup
class Match(Lookup):
    """``fts_table MATCH %s``: an FTS5 query (built by ``phrase``), SQLite only."""

    lookup_name = "match"

    def as_sql(self, compiler: Any, connection: BaseDatabaseWrapper) -> tuple[str, tuple[Any, ...]]:
        if connection.vendor != "sqlite":
            raise NotSupportedError("FTS5 MATCH is SQLite's; PostgreSQL searches with pg_trgm")
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} MATCH {rhs}", (*lhs_params, *rhs_params)


def phrase(term: str, columns: tuple[str, ...] = ()) -> str:
    """``term`` as one FTS5 phrase, matched literally: inside double quotes nothing is syntax
    (``*``, ``AND``, ``NEAR``, parentheses), a double quote is written twice. ``columns``
    restricts it to those columns (``{name email} : "…"``)."""
    quoted = '"' + term.replace('"', '""') + '"'
    return f"{{{' '.join(columns)}}} : {quoted}" if columns else quoted


def _triggers(fts: str, table: str, columns: tuple[str, ...]) -> list[str]:
    names = ", ".join(columns)
    new = ", ".join(f"new.{column}" for column in columns)
    old = ", ".join(f"old.{column}" for column in columns)
    remove = f"INSERT INTO {fts} ({fts}, rowid, {names}) VALUES ('delete', old.id, {old});"
    add = f"INSERT INTO {fts} (rowid, {names}) VALUES (new.id, {new});"
    # a save writes every column: only a change of the indexed ones touches the index
    changed = " OR ".join(f"old.{column} IS NOT new.{column}" for column in columns)
    return [
        f"CREATE TRIGGER IF NOT EXISTS {fts}_insert AFTER INSERT ON {table} BEGIN {add} END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_delete AFTER DELETE ON {table} BEGIN {remove} END",
        f"CREATE TRIGGER IF NOT EXISTS {fts}_update AFTER UPDATE ON {table} "
        f"WHEN old.id IS NOT new.id OR {changed} BEGIN {remove} {add} END",
    ]


def _trigger_names(fts: str) -> set[str]:
    return {f"{fts}_insert", f"{fts}_delete", f"{fts}_update"}


def create(connection: BaseDatabaseWrapper, indexes: tuple[Index, ...] = INDEXES) -> None:
    """Create the tables and triggers and index the existing rows (migrations 0014, 0021)."""
    with connection.cursor() as cursor:
        for fts, table, columns in indexes:
            cursor.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5({', '.join(columns)}, "
                f"content='{table}', content_rowid='id', tokenize='trigram')"
            )
            for statement in _triggers(fts, table, columns):
                cursor.execute(statement)
            _rebuild(cursor, fts)


def drop(connection: BaseDatabaseWrapper, indexes: tuple[Index, ...] = INDEXES) -> None:
    with connection.cursor() as cursor:
        for fts, _table, _columns in indexes:
            for trigger in sorted(_trigger_names(fts)):
                cursor.execute(f"DROP TRIGGER IF EXISTS {trigger}")
            cursor.execute(f"DROP TABLE IF EXISTS {fts}")


def _rebuild(cursor: Any, fts: str) -> None:
    """Index every row of the content table anew (one pass; 100,000 customers: ~20 s)."""
    cursor.execute(f"INSERT INTO {fts} ({fts}) VALUES ('rebuild')")


def ensure(connection: BaseDatabaseWrapper) -> list[str]:
    """Put back the triggers a table rebuild dropped, and re-index what they missed.

    Answers the FTS tables rebuilt. Nothing happens before migration 0014 made the tables.
    """
    if connection.vendor != "sqlite":
        return []
    rebuilt = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'trigger')")
        present = {(kind, name) for kind, name in cursor.fetchall()}
        for fts, table, columns in INDEXES:
            if ("table", fts) not in present:
                continue
            if all(("trigger", name) in present for name in _trigger_names(fts)):
                continue
            for statement in _triggers(fts, table, columns):
                cursor.execute(statement)
            _rebuild(cursor, fts)
            rebuilt.append(fts)
    return rebuilt


def ensure_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """``post_migrate`` receiver of the customers app: ``ensure`` on the migrated database."""
    from django.db import connections

    ensure(connections[using])
