"""Plain INSERTs and UPDATEs of pre-built rows, and cheap model instances, for bulk writes
(the import, the API's bulk upsert).

``QuerySet.bulk_create`` spends most of its time per field and object (``pre_save``,
``get_db_prep_save``, SQL assembly) — about 90 % of the import's write time once the search keys
were fast. ``RowInserter`` builds each statement once and converts only the values whose
database form differs from the Python one (dates, times, decimals, JSON), with the field's own
``get_db_prep_save``, so the stored values are the ones the ORM would store. Callers supply every
column (``field.attname``) of each row. SQLite gets one prepared INSERT executed for many
rows, PostgreSQL ``COPY``; rows whose new keys the caller needs get keys reserved beforehand
(``kehu.core.bulk.reserve_ids``).

``RowUpdater`` is its sibling for changed rows: ``QuerySet.bulk_update`` writes a ``CASE pk
WHEN … THEN …`` per column and row, which Django resolves as an expression per value (about
3 ms a row for six columns) and the database walks for every row. Here the rows' new values
are converted the same way (the field's ``get_db_prep_save``) and written with one statement
per batch: PostgreSQL ``UPDATE … FROM unnest(arrays)`` joined on the primary key, SQLite one
prepared ``UPDATE … WHERE pk = ?`` executed for many rows. Like ``bulk_update`` it sends no
signals and writes only the named columns; the caller writes the history rows
(``RowInserter`` of the historical model).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from functools import cache
from operator import attrgetter
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.db.models import signals
from django.db.models.base import ModelState

from kehu.core.bulk import copy_rows, reserve_ids

# Field types whose Python value is also what the database driver takes.
PLAIN_TYPES = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "ForeignKey",
    "IntegerField",
    "OneToOneField",
    "PositiveBigIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SmallIntegerField",
    "TextField",
}


_TYPE_MODIFIER = re.compile(r"\(.*\)")  # varchar(200) -> varchar, numeric(14, 2) -> numeric


def _is_generated_pk(field: models.Field[Any, Any]) -> bool:
    return bool(field.primary_key) and isinstance(field, models.AutoField)


def _repeated_value_key(value: Any) -> Any:
    """The key under which a value's conversion is remembered, for the kinds a batch repeats
    (timestamps and dates; short lists of names such as ``to_verify``, JSON for every customer
    and its history row); None for a value converted each time."""
    if isinstance(value, date):  # datetime is a date too
        return value
    if type(value) is list and all(type(item) is str for item in value):
        return tuple(value)
    return None


def _converter(field: models.Field[Any, Any]) -> Callable[[Any], Any]:
    """The field's own conversion, remembered per value of the kinds a batch repeats (equal
    values convert alike)."""
    database = connections[DEFAULT_DB_ALIAS]  # not the proxy: fewer lookups per value
    known: dict[Any, Any] = {}
    last: list[Any] = [None, None]  # the last date converted and its result

    def convert(value: Any) -> Any:
        if value is None:
            return None
        if value is last[0]:  # the batch's one timestamp, row after row
            return last[1]
        key = _repeated_value_key(value)
        if key is None:
            return field.get_db_prep_save(value, database)
        if key not in known:
            if len(known) > 10_000:
                known.clear()
            known[key] = field.get_db_prep_save(value, database)
        if key is value:  # immutable: the next row's same object needs no lookup
            last[:] = value, known[key]
        return known[key]

    return convert


def _converted(
    rows: Iterable[Sequence[Any]], converters: Iterable[tuple[int, Callable[[Any], Any]]]
) -> list[list[Any]]:
    """The rows as lists, each non-plain value converted by its column's converter. A batch's
    rows mostly repeat one object per column (its timestamp, the history fields): an object
    the same as the row before's is not converted again, without a call (0.7 million calls
    per 30,000 imported customers, a tenth of the importing process's time, were mostly
    these)."""
    prepared = [list(row) for row in rows]
    for index, convert in converters:
        before: Any = None
        after: Any = None
        for values in prepared:
            value = values[index]
            if value is None:
                continue
            if value is not before:
                before, after = value, convert(value)
            values[index] = after
    return prepared


class RowInserter:
    """INSERT INTO one model's table; every row holds every column (``columns`` order unless
    the call names another order)."""

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model
        self._fields = {
            f.attname: f for f in model._meta.concrete_fields if not _is_generated_pk(f)
        }
        self.columns = tuple(self._fields)
        self._converters = {
            name: _converter(f)
            for name, f in self._fields.items()
            if f.get_internal_type() not in PLAIN_TYPES
        }

    def _check_columns(self, columns: Sequence[str]) -> None:
        """Every column once; a reserved primary key may stand beside them (``_column_of``
        refuses any other name)."""
        if sorted(c for c in columns if c in self._fields) != sorted(self.columns):
            raise ValueError(f"rows of {self.model.__name__} must hold every column once")

    @cache  # noqa: B019 - one entry per column order, inserters live as long as an import
    def _statement(self, columns: tuple[str, ...]) -> str:
        """The INSERT of one row; the primary key may lead the columns (reserved keys)."""
        self._check_columns(columns)
        quote = connection.ops.quote_name
        names = ", ".join(quote(self._column_of(name)) for name in columns)
        marks = ", ".join(["%s"] * len(columns))
        return f"INSERT INTO {quote(self.model._meta.db_table)} ({names}) VALUES ({marks})"

    def row(self, values: Mapping[str, Any]) -> list[Any]:
        """A row in ``columns`` order from ``{attname: value}``."""
        return [values[column] for column in self.columns]

    def object_rows(
        self, objects: Iterable[Any], fixed: Mapping[str, Any] | None = None
    ) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        """Rows read from the objects' attributes, plus the same ``fixed`` values in each;
        answers the column order with the rows."""
        fixed = fixed or {}
        names = tuple(column for column in self.columns if column not in fixed)
        read = attrgetter(*names)
        tail = tuple(fixed.values())
        if len(names) == 1:
            return names + tuple(fixed), [(read(obj), *tail) for obj in objects]
        return names + tuple(fixed), [read(obj) + tail for obj in objects]

    def _prepare(self, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[Any]:
        """The rows as lists, converted column by column (``_converted``)."""
        converters = [
            (index, convert)
            for index, name in enumerate(columns)
            if (convert := self._converters.get(name)) is not None
        ]
        return _converted(rows, converters)

    def insert(self, rows: Iterable[Sequence[Any]], columns: Sequence[str] | None = None) -> None:
        """Insert without reading anything back (SQLite: one prepared statement, many rows;
        PostgreSQL: one COPY)."""
        order = tuple(columns or self.columns)
        self._write(order, self._prepare(order, rows))

    def _write(self, columns: tuple[str, ...], prepared: Sequence[Sequence[Any]]) -> None:
        if not prepared:
            return
        if connection.vendor == "postgresql":
            self._copy(columns, prepared)
            return
        with connection.cursor() as cursor:
            cursor.executemany(self._statement(columns), prepared)

    def _copy(self, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """PostgreSQL ``COPY … FROM STDIN``: a statement per row cost the server ~0.1 ms each,
        most of a PostgreSQL import's time (six rows per imported customer)."""
        self._check_columns(columns)
        copy_rows(self.model._meta.db_table, [self._column_of(name) for name in columns], rows)

    def _column_of(self, attname: str) -> str:
        field = self._fields.get(attname) or self.model._meta.pk
        if field.attname != attname:
            raise ValueError(f"{self.model.__name__} has no column {attname}")
        return str(field.column)

    def insert_returning(
        self, rows: Sequence[Sequence[Any]], *, key: str, columns: Sequence[str] | None = None
    ) -> dict[Any, int]:
        """Insert and answer ``{value of column key: new primary key}``; ``key`` must be
        unique among ``rows``.

        The keys are reserved first (from the sequence on PostgreSQL, above the table's
        highest on SQLite, inside this transaction, which holds SQLite's write lock) and
        written with the rows: no statement per row, and no multi-row INSERT … RETURNING,
        whose statements of thousands of parameters sqlite3 kept prepared at megabytes each
        and psycopg parsed in Python every time.
        """
        order = tuple(columns or self.columns)
        prepared = self._prepare(order, rows)
        if not prepared:
            return {}
        position = order.index(key)
        with transaction.atomic():
            pks = reserve_ids(self.model, len(prepared))
            ids = {row[position]: pk for pk, row in zip(pks, prepared, strict=True)}
            if len(ids) != len(prepared):
                raise ValueError(f"{key} is not unique among the inserted rows")
            self._write(
                (str(self.model._meta.pk.attname), *order),
                [[pk, *row] for pk, row in zip(pks, prepared, strict=True)],
            )
        return ids


class RowUpdater:
    """UPDATE named columns (attnames) of one model's table, row by primary key; each row is
    ``(pk, *values in columns order)``. Not the primary key, not a generated column."""

    def __init__(self, model: type[models.Model], columns: Sequence[str]) -> None:
        self.model = model
        fields = {f.attname: f for f in model._meta.concrete_fields}
        pk = model._meta.pk
        unknown = [name for name in columns if name not in fields or name == pk.attname]
        if unknown or not columns or len(set(columns)) != len(columns):
            raise ValueError(f"{model.__name__} cannot update the columns {list(columns)}")
        self.columns = tuple(columns)
        self._fields = [fields[name] for name in self.columns]
        self._pk = pk
        self._get = attrgetter(pk.attname, *self.columns)
        self._converters = [
            (index, _converter(f))
            for index, f in enumerate(self._fields, start=1)
            if f.get_internal_type() not in PLAIN_TYPES
        ]

    def object_rows(self, objects: Iterable[Any]) -> list[tuple[Any, ...]]:
        """Rows read from the objects' attributes (their pk and the columns)."""
        return [self._get(obj) for obj in objects]

    def update_objects(self, objects: Iterable[Any], *, batch_size: int = 1000) -> int:
        """Write the columns' values of the (saved) objects; answers the rows updated."""
        return self.update(self.object_rows(objects), batch_size=batch_size)

    def update(self, rows: Iterable[Sequence[Any]], *, batch_size: int = 1000) -> int:
        """Write the rows: one statement per ``batch_size`` rows on PostgreSQL, one prepared
        statement executed for all of them on SQLite. Answers the rows updated."""
        prepared = self._prepare(rows)
        if not prepared:
            return 0
        if connection.vendor != "postgresql":
            with connection.cursor() as cursor:
                cursor.executemany(
                    self._single_statement(), [[*row[1:], row[0]] for row in prepared]
                )
                return max(cursor.rowcount, 0)
        done = 0
        with connection.cursor() as cursor:
            for start in range(0, len(prepared), batch_size):
                chunk = prepared[start : start + batch_size]
                arrays = [list(column) for column in zip(*chunk, strict=True)]
                cursor.execute(self._unnest_statement(), arrays)
                done += max(cursor.rowcount, 0)
        return done

    def _prepare(self, rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
        return _converted(rows, self._converters)

    @cache  # noqa: B019 - one statement per updater; updaters are few and long-lived
    def _single_statement(self) -> str:
        quote = connection.ops.quote_name
        sets = ", ".join(f"{quote(str(f.column))} = %s" for f in self._fields)
        return (
            f"UPDATE {quote(self.model._meta.db_table)} SET {sets} "
            f"WHERE {quote(str(self._pk.column))} = %s"
        )

    @cache  # noqa: B019 - one statement per updater
    def _unnest_statement(self) -> str:
        """PostgreSQL: the new values as one array per column (``unnest``) joined on the
        primary key: as many parameters as columns, whatever the rows (a VALUES list of a
        parameter per value cost psycopg more to parse than the rows cost to write). Each
        array is cast to its column's type without length or precision: an explicit cast to
        varchar(n) would cut a longer value, where the assignment to the column refuses it
        as an INSERT would."""
        quote = connection.ops.quote_name
        fields = [self._pk, *self._fields]
        types = [_TYPE_MODIFIER.sub("", str(f.cast_db_type(connection))) for f in fields]
        arrays = ", ".join(f"%s::{name}[]" for name in types)
        names = ", ".join(quote(str(f.column)) for f in fields)
        sets = ", ".join(f"{quote(str(f.column))} = v.{quote(str(f.column))}" for f in self._fields)
        table = quote(self.model._meta.db_table)
        pk = quote(str(self._pk.column))
        return (
            f"UPDATE {table} SET {sets} FROM unnest({arrays}) AS v ({names}) "
            f"WHERE {table}.{pk} = v.{pk}"
        )


class InstanceBuilder:
    """Unsaved model instances from ``{attname: value}`` with the field defaults computed once
    (keyword construction evaluates every default and descriptor per instance, which cost more
    than the INSERTs). Callable defaults (``timezone.now``, ``list``) are still called per
    instance unless a value is given. Without ``pre_init``/``post_init`` listeners on the model
    the attributes are set directly, as ``Model.__init__`` does for positional values."""

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model
        fields = model._meta.concrete_fields
        self._attnames = [f.attname for f in fields]
        self._index = {name: i for i, name in enumerate(self._attnames)}
        dynamic = [f.has_default() and callable(f.default) for f in fields]
        self._template = [
            None if late else f.get_default() for f, late in zip(fields, dynamic, strict=True)
        ]
        self._callable = [(i, f) for i, f in enumerate(fields) if dynamic[i]]

    def build(self, values: Mapping[str, Any]) -> Any:
        args = list(self._template)
        for index, field in self._callable:
            if field.attname not in values:
                args[index] = field.get_default()
        index_of = self._index
        for name, value in values.items():
            args[index_of[name]] = value
        model = self.model
        if signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model):
            return model(*args)
        # What Model.__init__ does with positional values when no one listens to its signals:
        # set each attname (a new instance has no related-object cache to clear).
        instance = model.__new__(model)
        instance._state = ModelState()
        instance.__dict__.update(zip(self._attnames, args, strict=True))
        return instance
