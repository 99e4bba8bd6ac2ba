from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from kehu.customers.models import Customer

pytestmark = pytest.mark.django_db

INSTANTS = [
    datetime.datetime(2026, 12, 6, 2, 11, 24, 557923, tzinfo=datetime.UTC),
    datetime.datetime(1999, 12, 31, 23, 59, 59, tzinfo=datetime.UTC),
    # An instant given in Beijing time reads back as the same instant, in UTC.
    datetime.datetime(2026, 3, 1, 8, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=8))),
]


@pytest.mark.parametrize("instant", INSTANTS)
def test_timestamps_read_back_as_the_same_utc_instant(instant: datetime.datetime) -> None:
    customer = Customer.objects.create(number="KH-TS", name="时间客户有限公司")
    Customer.objects.filter(pk=customer.pk).update(verified_at=instant)
    read = Customer.objects.values_list("verified_at", flat=True).get(pk=customer.pk)
    assert read == instant
    assert read.tzinfo is datetime.UTC


def test_postgresql_parses_timestamps_with_the_optimised_loader() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    import psycopg
    from psycopg.postgres import types
    from psycopg.pq import Format

    connection.ensure_connection()
    oid = types["timestamptz"].oid
    installed = connection.connection.adapters.get_loader(oid, Format.TEXT)
    optimised = psycopg.adapters.get_loader(oid, Format.TEXT)
    assert installed.timezone == connection.timezone  # Django keeps it; no per-cursor copy
    if optimised.__module__.startswith("psycopg.types"):
        pytest.skip("psycopg without its C build")
    assert installed.__name__ == "OptimisedTzLoader"
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        (now,) = cursor.fetchone()
    assert abs(now - timezone.now()) < datetime.timedelta(minutes=1)
    assert now.tzinfo is connection.timezone
