from __future__ import annotations

from typing import Any

import pytest

from kehu.accounts.demo import ensure_demo_users
from kehu.customers import selectors
from kehu.customers.demo import generate_customers
from kehu.customers.models import Contact, Customer, CustomerStatus
from kehu.customers.normalize import digits

pytestmark = pytest.mark.django_db


def test_demo_customers_are_searchable_by_contact_phone_name_and_pinyin() -> None:
    users = ensure_demo_users()
    assert generate_customers(count=60, seed=7, users=users) == 60
    assert Customer.objects.count() == 60
    admin = next(u for u in users if u.username == "admin")
    contact = Contact.objects.select_related("customer").exclude(mobile="").order_by("pk")[10]
    phone_part = digits(contact.mobile)[-8:]
    found = selectors.customer_list(user=admin, filters=selectors.CustomerFilters(q=phone_part))
    assert contact.customer in list(found)
    by_name = selectors.customer_list(user=admin, filters=selectors.CustomerFilters(q=contact.name))
    assert contact.customer in list(by_name)
    customer = contact.customer
    initials = customer.search_text.split()[3]
    by_pinyin = selectors.customer_list(user=admin, filters=selectors.CustomerFilters(q=initials))
    assert customer in list(by_pinyin)
    assert len(set(Customer.objects.values_list("number", flat=True))) == 60
    assert set(Customer.objects.values_list("grade", flat=True)) <= {"A", "B", "C", "D"}


def test_demo_customers_are_written_in_bulk_with_their_created_history_entry() -> None:
    users = ensure_demo_users()
    assert generate_customers(count=30, seed=3, users=users) == 30
    customer = Customer.objects.order_by("pk").last()
    assert customer is not None
    (entry,) = customer.history.all()
    assert entry.history_type == "+"
    assert entry.history_user_id == customer.created_by_id
    assert entry.history_date == customer.created_at
    assert customer.updated_at == customer.created_at
    assert Contact.objects.filter(customer=customer).exists()
    # ids come from the table's own counter: the app's next customer follows on
    later = Customer.objects.create(number="X-1", name="后来的客户有限公司")
    assert later.pk > customer.pk


def test_reserve_many_continues_each_prefix_like_reserve() -> None:
    from kehu.customers import numbering

    assert numbering.reserve("KH-A", 3) == 1
    assert numbering.reserve_many({"KH-A": 5, "KH-B": 2, "KH-C": 0}) == {"KH-A": 4, "KH-B": 1}
    assert numbering.reserve("KH-A") == 9
    assert numbering.reserve("KH-B") == 3


def test_a_big_demo_into_an_empty_database_builds_the_indexes_after_the_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kehu.core.testing.factories import index_names, record_deferrals
    from kehu.customers import demo

    before = index_names(Customer)
    monkeypatch.setattr(demo, "DEFER_INDEXES_FROM", 20)
    deferred = record_deferrals(monkeypatch)
    users = ensure_demo_users()
    assert generate_customers(count=25, seed=5, users=users) == 25
    assert generate_customers(count=25, seed=6, users=users) == 25  # not empty any more
    assert deferred == [True, False]
    assert index_names(Customer) == before
    assert Customer.objects.filter(search_text__contains=" ").count() == 50


def test_a_big_demo_marks_the_won_customers_before_their_indexes_are_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kehu.core.demo import load_demo
    from kehu.core.testing.factories import foreign_key_names, index_names, record_deferrals
    from kehu.customers import demo
    from kehu.opportunities import demo as deal_demo
    from kehu.opportunities.models import Opportunity, StageKind

    before = (index_names(Customer), foreign_key_names(Customer))
    monkeypatch.setattr(demo, "DEFER_INDEXES_FROM", 20)
    deferred = record_deferrals(monkeypatch)
    indexes_seen_by_deals: list[set[str]] = []
    generate = deal_demo.generate_opportunities

    def generate_opportunities(**options: Any) -> int:
        indexes_seen_by_deals.append(index_names(Customer))
        return generate(**options)

    monkeypatch.setattr(deal_demo, "generate_opportunities", generate_opportunities)
    load_demo(customers=150, seed=9)
    assert "customer_owner_recent" in before[0]
    assert "customer_owner_recent" not in indexes_seen_by_deals[0]
    assert deferred == [True, False, False]  # customers; deals and tasks from 15,000 rows
    assert (index_names(Customer), foreign_key_names(Customer)) == before
    won_deals = Opportunity.objects.filter(stage__kind=StageKind.WON)
    assert won_deals.exists()
    assert not won_deals.exclude(customer__status=CustomerStatus.WON).exists()


def test_demo_completeness_is_what_each_customer_has_filled() -> None:
    """信息完整度 of every demo customer is the figure the customer services compute from the
    customer's own fields and contacts, and the demo book has gaps like a real one."""
    from kehu.customers.services.customers import refresh_search

    users = ensure_demo_users()
    generate_customers(count=120, seed=9, users=users)
    figures = []
    for customer in Customer.objects.order_by("pk"):
        stored = customer.completeness
        refresh_search(customer)
        assert customer.completeness == stored, customer.name
        figures.append(stored)
    assert min(figures) < 80
    assert 100 in figures
    assert sum(figures) / len(figures) < 95
