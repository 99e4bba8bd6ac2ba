"""Customer numbers under concurrent creation: only PostgreSQL runs writers truly in parallel."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from kehu.core.testing.factories import Organisation
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
