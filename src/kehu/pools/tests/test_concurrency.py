"""Race-safety of claiming, with real concurrent transactions (PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections

from kehu.core.errors import Conflict
from kehu.core.testing.factories import Organisation
from kehu.customers.models import Customer
from kehu.pools import services
from kehu.pools.models import EventKind, PoolEntry, PoolEvent
from kehu.pools.tests.factories import make_pool, pooled_customer

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises every write transaction, so there is no race to test; "
        "row locks are exercised on PostgreSQL (CI runs both)",
    ),
]


def _race(*calls: Callable[[], Any]) -> list[Any]:
    """Start every call at the same moment, each in its own thread and connection."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:  # the loser's refusal is the result
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.parametrize("attempt", range(5))
def test_two_reps_claiming_one_customer_one_wins(org: Organisation, attempt: int) -> None:
    pool = make_pool(org.east, max_held_per_rep=0, max_claims_per_day=0)
    customer = pooled_customer(pool)
    results = _race(
        lambda: services.pool_claim(actor=org.rep, pool_id=pool.pk, customer_id=customer.pk),
        lambda: services.pool_claim(actor=org.colleague, pool_id=pool.pk, customer_id=customer.pk),
    )
    winners = [r for r in results if isinstance(r, Customer)]
    losers = [r for r in results if isinstance(r, Conflict)]
    assert len(winners) == 1, results
    assert len(losers) == 1, results
    assert losers[0].code == "already_claimed"
    customer.refresh_from_db()
    assert customer.owner_id == winners[0].owner_id
    assert not PoolEntry.objects.filter(customer=customer).exists()
    assert PoolEvent.objects.filter(customer=customer, kind=EventKind.CLAIMED).count() == 1
    assert customer.history.filter(history_type="~").count() == 1


def test_one_rep_claiming_two_customers_at_once_keeps_the_limit(org: Organisation) -> None:
    pool = make_pool(org.east, max_held_per_rep=1, max_claims_per_day=0)
    first, second = pooled_customer(pool), pooled_customer(pool)
    results = _race(
        lambda: services.pool_claim(actor=org.rep, pool_id=pool.pk, customer_id=first.pk),
        lambda: services.pool_claim(actor=org.rep, pool_id=pool.pk, customer_id=second.pk),
    )
    assert sum(isinstance(r, Customer) for r in results) == 1, results
    refused = [r for r in results if isinstance(r, Conflict)]
    assert [r.code for r in refused] == ["held_limit"]
    assert Customer.objects.filter(owner=org.rep).count() == 1


def test_two_reveals_at_once_keep_the_daily_limit(org: Organisation) -> None:
    from kehu.core import config
    from kehu.core.errors import QuotaExceeded
    from kehu.pools.models import RevealLog
    from kehu.pools.tests.factories import add_contact, make_customer

    config.put("customers.contact_reveal_daily_limit", 1)
    contacts = []
    for _ in range(2):
        customer = make_customer(org.rep)
        customer.shares.create(user=org.colleague, shared_by=org.rep)
        contacts.append(add_contact(customer, mobile="+8613812341234"))
    results = _race(
        *(
            lambda contact=contact: services.contact_reveal(
                actor=org.colleague, contact_id=contact.pk
            )
            for contact in contacts
        )
    )
    assert sum(isinstance(r, services.Revealed) for r in results) == 1, results
    assert sum(isinstance(r, QuotaExceeded) for r in results) == 1, results
    assert RevealLog.objects.count() == 1
