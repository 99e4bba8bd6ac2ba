"""Customer numbers (客户编号) from a configurable pattern, unique and never reused.

The pattern's fixed part (everything before ``{seq}``) names a sequence row; the row is locked
while a number is taken, so concurrent creations on PostgreSQL and SQLite never collide, and a
number once taken is never handed out again, even if its customer is deleted.
"""

from __future__ import annotations

import functools
import re
import string
from datetime import date

from django.db import connection, transaction
from django.utils.translation import gettext as _

from kehu.core import config
from kehu.core.errors import InvalidInput
from kehu.customers.models import CustomerKind, Industry, NumberSequence, Region

UNKNOWN = "X"
KIND_CODES: dict[str, str] = {CustomerKind.COMPANY: "B2B", CustomerKind.INDIVIDUAL: "B2C"}
ALLOWED_FIELDS = {"industry", "region", "kind", "year", "seq"}
_SEQ = re.compile(r"\{seq(:[^}]*)?\}")


def check_pattern(pattern: str) -> None:
    fields = {name for _text, name, _spec, _conv in string.Formatter().parse(pattern) if name}
    unknown = fields - ALLOWED_FIELDS
    if unknown or len(_SEQ.findall(pattern)) != 1 or not pattern.rstrip().endswith("}"):
        raise InvalidInput(
            _("A number pattern must end with {seq} and may use only %(fields)s.")
            % {"fields": ", ".join(sorted(ALLOWED_FIELDS))}
        )


@functools.lru_cache(maxsize=16)
def _parts(pattern: str) -> tuple[str, str]:
    """The pattern before ``{seq}``, and the sequence's format (checked; once per pattern: a
    bulk load numbers every row)."""
    check_pattern(pattern)
    match = _SEQ.search(pattern)
    assert match is not None
    return pattern[: match.start()], "{seq" + (match.group(1) or "") + "}"


def prefix_for(
    pattern: str, *, industry: Industry | None, region: Region | None, kind: str, on: date
) -> tuple[str, str]:
    """The pattern's fixed part for this customer, and the format of its sequence."""
    head, seq_format = _parts(pattern)
    values = {
        "industry": industry.section_code if industry else UNKNOWN,
        "region": region.abbreviation if region else UNKNOWN,
        "kind": KIND_CODES.get(kind, UNKNOWN),
        "year": on.year,
    }
    return head.format(**values), seq_format


def reserve(prefix: str, count: int = 1) -> int:
    """Take ``count`` consecutive sequence values for ``prefix``; return the first one.

    One statement on both databases (an upsert that adds ``count`` and returns the new last
    value; it locks the row until the transaction ends): creating a customer spent five on
    it (savepoint, insert-if-missing, SELECT … FOR UPDATE, UPDATE, release).
    """
    table = connection.ops.quote_name(NumberSequence._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (prefix, last_value) VALUES (%s, %s) "
            f"ON CONFLICT (prefix) DO UPDATE SET last_value = {table}.last_value + %s "
            "RETURNING last_value",
            [prefix, count, count],
        )
        (last,) = cursor.fetchone()
    return int(last) - count + 1


@transaction.atomic
def reserve_many(counts: dict[str, int]) -> dict[str, int]:
    """``reserve`` for many prefixes at once (bulk generation): the first value per prefix.

    Three statements whatever the number of prefixes; the rows are locked in prefix order, so
    two concurrent callers cannot deadlock.
    """
    wanted = {prefix: count for prefix, count in counts.items() if count > 0}
    if not wanted:
        return {}
    known = set(NumberSequence.objects.filter(prefix__in=wanted).values_list("prefix", flat=True))
    if len(known) < len(wanted):
        NumberSequence.objects.bulk_create(
            [NumberSequence(prefix=prefix) for prefix in sorted(set(wanted) - known)],
            ignore_conflicts=True,
        )
    locked = NumberSequence.objects.select_for_update().filter(prefix__in=wanted)
    last = dict(locked.order_by("prefix").values_list("prefix", "last_value"))
    table = connection.ops.quote_name(NumberSequence._meta.db_table)
    with connection.cursor() as cursor:  # one prepared UPDATE; bulk_update's CASE costs more
        cursor.executemany(
            f"UPDATE {table} SET last_value = %s WHERE prefix = %s",
            [(last[prefix] + count, prefix) for prefix, count in sorted(wanted.items())],
        )
    return {prefix: last[prefix] + 1 for prefix in wanted}


def next_number(*, industry: Industry | None, region: Region | None, kind: str, on: date) -> str:
    pattern = config.get("customers.number_pattern")
    prefix, seq_format = prefix_for(pattern, industry=industry, region=region, kind=kind, on=on)
    return prefix + seq_format.format(seq=reserve(prefix))
