"""Bulk writes of generated rows (demo data, benchmark volumes) at hundreds of thousands of rows.

``bulk_create`` binds every value as a query parameter; at these volumes the statements and
their parameters cost more than the rows. Here PostgreSQL gets ``COPY … FROM STDIN`` and SQLite
``executemany`` of one prepared INSERT. Primary keys are reserved up front with ``reserve_ids``
(from the table's sequence on PostgreSQL), so related rows can point at rows not yet written.

Nothing here validates: callers write rows they built by the app's own rules.
"""

from __future__ import annotations

import contextlib
import enum
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` unused primary keys of ``model``'s table, in increasing order.

    PostgreSQL: drawn from the table's sequence, so concurrent inserts never collide. SQLite:
    the ids above both the current maximum and the AUTOINCREMENT counter, so the id of a
    deleted row (whose history rows remain) is not given again; call it inside the transaction
    that writes the rows (it holds the write lock, and the counter follows the explicit ids).
    """
    if count <= 0:
        return []
    table = model._meta.db_table
    column = str(model._meta.pk.column)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [connection.ops.quote_name(table), column, count],
            )
            return sorted(row[0] for row in cursor.fetchall())
        quote = connection.ops.quote_name
        cursor.execute(
            f"SELECT MAX(IFNULL((SELECT MAX({quote(column)}) FROM {quote(table)}), 0), "
            "IFNULL((SELECT seq FROM sqlite_sequence WHERE name = %s), 0))",
            [table],
        )
        top = int(cursor.fetchone()[0])
    return list(range(top + 1, top + 1 + count))


def _sqlite_datetime(value: datetime) -> str:
    """What Django's SQLite backend stores for an aware datetime: naive UTC, ISO with a space."""
    if value.tzinfo is not None:
        if value.tzinfo is not UTC:  # timezone.now() and values derived from it are UTC already
            value = value.astimezone(UTC)
        value = value.replace(tzinfo=None)
    return value.isoformat(" ")


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _prep_for(field: models.Field[Any, Any]) -> Callable[[Any], Any] | None:
    """The conversion of a value for the database, None when the driver takes it as it is."""
    if isinstance(field, models.JSONField):
        return lambda value: json.dumps(value, ensure_ascii=False)
    if field.choices:
        return _enum_value  # TextChoices members are str subclasses; store the plain value
    if connection.vendor == "postgresql":
        return None  # psycopg adapts datetime, date, Decimal and bool natively
    if isinstance(field, models.DateTimeField):
        return _sqlite_datetime
    if isinstance(field, models.DecimalField):
        return str
    return None


class TableWriter:
    """Rows for one model's table, in the model's concrete-field order, defaults pre-computed.

    ``explicit`` names the fields (attnames) whose values each row gives, in the row's order;
    every other column gets its field default, computed once (``auto_now`` fields: the time
    the writer was made).
    """

    def __init__(self, model: type[models.Model], explicit: Sequence[str]) -> None:
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self.columns = [str(f.column) for f in self.fields]
        self.explicit = {name: i for i, name in enumerate(explicit)}
        self._template: list[Any] = []
        # (column position, value position, conversion or None) of the explicit columns
        self._explicit: list[tuple[int, int, Any]] = []
        for column, field in enumerate(self.fields):
            if field.attname in self.explicit:
                self._template.append(None)
                self._explicit.append((column, self.explicit[field.attname], _prep_for(field)))
            else:
                default = field.get_default() if not field.primary_key else None
                if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                    default = timezone.now()  # what save() would set
                prep = _prep_for(field)
                if prep is not None and default is not None:
                    default = prep(default)
                self._template.append(default)

    @classmethod
    def for_instances(cls, model: type[models.Model]) -> TableWriter:
        """A writer that takes every concrete field from model instances (``write_instances``)."""
        return cls(model, [f.attname for f in model._meta.concrete_fields])

    def row(self, values: Sequence[Any]) -> list[Any]:
        out = self._template.copy()
        for column, position, prep in self._explicit:
            value = values[position]
            out[column] = value if prep is None or value is None else prep(value)
        return out

    def write_instances(self, instances: Iterable[models.Model]) -> int:
        """Write unsaved instances whose primary keys are set (see ``reserve_ids``).

        ``auto_now`` fields left empty get the creation time (or now), as ``save`` would.
        """
        names = list(self.explicit)
        stamped = [
            self.explicit[f.attname]
            for f in self.fields
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        ]
        created = self.explicit.get("created_at")
        now = timezone.now()

        def values(obj: models.Model) -> list[Any]:
            row = [getattr(obj, name) for name in names]
            for position in stamped:
                if row[position] is None:
                    row[position] = row[created] if created is not None else now
            return row

        return self.write(values(obj) for obj in instances)

    def write(self, rows: Iterable[Sequence[Any]]) -> int:
        if connection.vendor == "postgresql":
            return copy_rows(self.model._meta.db_table, self.columns, map(self.row, rows))
        table = connection.ops.quote_name(self.model._meta.db_table)
        columns = ", ".join(connection.ops.quote_name(c) for c in self.columns)
        marks = ", ".join("?" * len(self.columns))
        batch = [self.row(values) for values in rows]
        with connection.cursor() as cursor:
            cursor.cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", batch)
        return len(batch)


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """PostgreSQL ``COPY table (columns) FROM STDIN`` of rows already in database form; answers
    how many were written. A refused row raises Django's error (``IntegrityError`` for a
    unique key taken), as a statement through the ORM would, not the driver's own."""
    quote = connection.ops.quote_name
    names = ", ".join(quote(column) for column in columns)
    count = 0
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {quote(table)} ({names}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def copy_to_history(
    model: type[models.Model],
    ids: Sequence[int],
    *,
    history_type: str = "+",
    reason: str = "",
    date_column: str = "created_at",
    user_column: str | None = "created_by_id",
) -> None:
    """Record rows just written in bulk in their simple-history table with INSERT … SELECT.

    The history entry takes its date and user from the row's own columns (by default: created
    at, by), so a generated record's history reads like one created through the app.
    """
    if not ids:
        return
    historical = model.history.model  # type: ignore[attr-defined]
    quote = connection.ops.quote_name
    tracked = [field.column for field in historical.tracked_fields]
    extra = ["history_date", "history_change_reason", "history_type", "history_user_id"]
    columns = ", ".join(quote(c) for c in [*tracked, *extra, "request_id"])
    selected = ", ".join(quote(c) for c in tracked)
    user = quote(user_column) if user_column else "NULL"
    head = (
        f"INSERT INTO {quote(historical._meta.db_table)} ({columns}) "
        f"SELECT {selected}, {quote(date_column)}, %s, %s, {user}, '' "
        f"FROM {quote(model._meta.db_table)} "
    )
    pk = quote(str(model._meta.pk.column))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            params: list[Any] = [reason, history_type, list(ids)]
            cursor.execute(head + f"WHERE {pk} = ANY(%s::bigint[])", params)
            return
        for start in range(0, len(ids), 900):  # SQLite's limit on parameters
            part = list(ids[start : start + 900])
            marks = ", ".join(["%s"] * len(part))
            cursor.execute(head + f"WHERE {pk} IN ({marks})", [reason, history_type, *part])


@contextlib.contextmanager
def deferred_indexes(
    *models_: type[models.Model], defer: bool = True, atomic: bool = True
) -> Iterator[None]:
    """Drop the tables' secondary indexes (on PostgreSQL also their foreign keys) for the
    block and build them again when it ends.

    Building an index once over a million rows is several times faster than keeping it up to
    date row by row during a load: a GIN trigram index on PostgreSQL, and on SQLite every
    B-tree once the tables outgrow the page cache. Primary keys and unique constraints stay
    (on SQLite: the indexes it creates itself). A foreign key added back checks every row in
    one join, where a key kept queues a trigger check per written row until the transaction
    ends (8 s at 100,000 demo customers). Everything runs in one transaction (both databases'
    DDL is transactional), so a load that fails or is killed rolls back with its indexes and
    keys in place; other writers wait meanwhile, which is why callers defer only for big
    loads into empty tables. ``atomic=False`` is for loads that commit as they go (the
    benchmark's tens of millions of rows): a load killed then leaves them missing.
    """
    if not defer:
        yield
        return
    tables = [model._meta.db_table for model in models_]
    postgresql = connection.vendor == "postgresql"
    block = transaction.atomic() if atomic else contextlib.nullcontext()
    with block, connection.cursor() as cursor:
        if postgresql:
            cursor.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i "
                "WHERE i.tablename = ANY(%s) AND NOT EXISTS ("
                "  SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
                [tables],
            )
        else:
            marks = ", ".join(["%s"] * len(tables))
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                f"AND tbl_name IN ({marks})",
                tables,
            )
        found = cursor.fetchall()
        foreign_keys = _drop_foreign_keys(cursor, tables) if postgresql else []
        for name, _definition in found:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
        yield
        if postgresql and atomic:
            # Django's foreign keys are deferred; their pending checks (of tables not dropped
            # here) must run before an index can be built on a table the block wrote to.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        if postgresql:
            cursor.execute(
                "SELECT set_config('maintenance_work_mem', CASE WHEN pg_size_bytes("
                "current_setting('maintenance_work_mem')) < 512 * 1024 * 1024 THEN '512MB' "
                "ELSE current_setting('maintenance_work_mem') END, false)"
            )
        for _name, definition in found:
            cursor.execute(definition)
        quote = connection.ops.quote_name
        for table, name, definition in foreign_keys:
            # one validating join per key instead of a queued trigger check per written row
            cursor.execute(f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}")
        if postgresql:
            cursor.execute("RESET maintenance_work_mem")
            for table in tables:  # the planner's row counts of a fresh table are still "empty"
                cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
        if postgresql and atomic:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's default, as before


def _drop_foreign_keys(cursor: Any, tables: list[str]) -> list[tuple[str, str, str]]:
    """PostgreSQL: drop the tables' foreign keys; answers (table, name, definition) of each."""
    cursor.execute(
        "SELECT t.relname, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
        "JOIN pg_class t ON t.oid = c.conrelid "
        "WHERE c.contype = 'f' AND t.relname = ANY(%s) "
        "AND t.relnamespace = current_schema()::regnamespace",
        [tables],
    )
    keys = [
        (str(table), str(name), str(definition)) for table, name, definition in cursor.fetchall()
    ]
    quote = connection.ops.quote_name
    if keys and connection.in_atomic_block:
        # a table with pending (deferred) checks cannot be altered: the referenced users and
        # departments were often written in this very transaction
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    for table, name, _definition in keys:
        cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
    return keys
