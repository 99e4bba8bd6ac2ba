"""Customers created concurrently: unique numbers on PostgreSQL, whose writers run in parallel;
no error on SQLite, whose writers queue for its one write lock."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import pytest
from django.db import connection

from kehu.core.testing.factories import Organisation, api_client
from kehu.core.testing.sqlite_file import file_copy, in_threads
from kehu.customers import services
from kehu.customers.models import Customer, NumberSequence

THREADS = 8
PER_THREAD = 5


@pytest.mark.django_db(transaction=True)
def test_parallel_creation_gives_unique_numbers_without_errors(org: Organisation) -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "SQLite serialises all writers on one database lock, so there is no parallel "
            "numbering to test; run with KEHU_DATABASE_URL=postgresql://… to exercise it"
        )
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []
    numbers: list[str] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            for step in range(PER_THREAD):
                customer = services.customer_create(
                    actor=org.rep,
                    data={
                        "name": f"并发测试{index}号{step}分公司甲乙丙丁",
                        "industry": "34",
                        "region": "310101",
                    },
                    force=True,
                )
                with lock:
                    numbers.append(customer.number)
        except BaseException as error:  # collected and asserted below
            with lock:
                errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    total = THREADS * PER_THREAD
    assert len(numbers) == total
    assert len(set(numbers)) == total
    assert sorted(numbers) == [f"C-SH-{n:03d}" for n in range(1, total + 1)]
    assert Customer.objects.count() == total
    assert NumberSequence.objects.get(prefix="C-SH-").last_value == total


SQLITE_WRITERS = 8
SQLITE_CREATES = 5


@pytest.mark.django_db(transaction=True)
def test_concurrent_api_creates_on_sqlite_all_succeed(org: Organisation, tmp_path: Any) -> None:
    """Writers queue for SQLite's one write lock (``BEGIN IMMEDIATE``, the busy timeout):
    eight threads creating customers with two contacts at once all get 201, none a 500."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's single writer; PostgreSQL is tested above")
    clients = [api_client(org.rep) for _ in range(SQLITE_WRITERS)]

    def create(index: int) -> list[int]:
        statuses = []
        for step in range(SQLITE_CREATES):
            body = {
                "name": f"并发{index}号{step}分公司甲乙丙丁",
                "force": True,  # the names look alike on purpose
                "contacts": [
                    {"name": "王伟", "mobile": f"139{index:04d}{step:04d}"},
                    {"name": "李娜", "email": f"li{index}.{step}@example.cn"},
                ],
            }
            response = clients[index].post(
                "/api/v1/customers", body, content_type="application/json"
            )
            statuses.append(response.status_code)
        return statuses

    with file_copy(tmp_path) as path:
        results = in_threads(SQLITE_WRITERS, create)
    assert results == [[201] * SQLITE_CREATES] * SQLITE_WRITERS
    with sqlite3.connect(path) as database:
        (customers,) = database.execute("SELECT COUNT(*) FROM customers_customer").fetchone()
        (numbers,) = database.execute(
            "SELECT COUNT(DISTINCT number) FROM customers_customer"
        ).fetchone()
        (contacts,) = database.execute("SELECT COUNT(*) FROM customers_contact").fetchone()
    assert customers == numbers == SQLITE_WRITERS * SQLITE_CREATES
    assert contacts == 2 * customers
