"""Destruction speed (issue 30: 合规销毁 of a retention batch).

    KEHU_DATA_DIR=/tmp/kehu-destruction .venv/bin/python -m bench.destruction \\
        --customers 2000 --batch 100 --batches 3

Runs in process against the database named by ``KEHU_DATABASE_URL`` (default: SQLite in
``KEHU_DATA_DIR``; migrated first; use a database of your own). Loads ``kehu demo`` with
``--customers`` customers when the database has none (contacts, follow-ups, tasks, deals,
tickets as the demo makes them), then destroys ``--batches`` batches of ``--batch`` customers
(the oldest first) as the administrator through
``kehu.governance.services.destruction.destroy_customers``, and prints per batch the rows
deleted, the queries, the seconds and customers/s; the summary is the median batch.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
    os.environ.setdefault("KEHU_DEBUG", "0")
    os.environ.setdefault("KEHU_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--batches", type=int, default=3)
    args = parser.parse_args(argv)
    _setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from kehu.accounts.models import User
    from kehu.core.demo import load_demo
    from kehu.customers.models import Customer
    from kehu.governance.services.destruction import destroy_customers

    if not Customer.objects.exists():
        started = time.perf_counter()
        load_demo(customers=args.customers, seed=30)
        print(f"demo loaded: {args.customers} customers in {time.perf_counter() - started:.0f} s")
    admin = User.objects.get(username="admin")
    print(f"database: {connection.vendor}, customers: {Customer.objects.count()}")
    rates: list[float] = []
    for number in range(args.batches):
        ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True)[: args.batch])
        if not ids:
            break
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            result = destroy_customers(ids, actor=admin, reason="bench", policy_key="churned_3y")
            seconds = time.perf_counter() - started
        rows = sum(v for k, v in result.counts.items() if not k.endswith(".redacted"))
        rates.append(len(ids) / seconds)
        print(
            f"batch {number + 1}: {len(ids)} customers, {rows} rows, "
            f"{len(queries.captured_queries)} queries, {seconds:.2f} s, "
            f"{len(ids) / seconds:.1f} customers/s"
        )
    if rates:
        print(f"median: {statistics.median(rates):.1f} customers/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
