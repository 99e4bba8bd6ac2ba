"""The daily recycle job: warning D days ahead, return to the pool, history and cooling."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.apps import apps
from django.utils import timezone

from kehu.core.testing.factories import Organisation
from kehu.customers.models import Customer
from kehu.pools import selectors, services
from kehu.pools.models import EventKind, PoolEntry, PoolEvent
from kehu.pools.services import LimitReached
from kehu.pools.tasks import recycle_pools
from kehu.pools.tests.factories import make_customer, make_pool, pooled_customer

pytestmark = pytest.mark.django_db


def _notifications(user: object) -> list[str]:
    notification = apps.get_model("notifications", "Notification")
    return list(notification.objects.filter(recipient=user).values_list("kind", flat=True))


def test_warns_before_and_recycles_after_days_without_follow_up(org: Organisation) -> None:
    pool = make_pool(
        org.east, recycle_no_followup_days=30, recycle_no_deal_days=0, warn_days_before=3
    )
    start = timezone.now()
    with time_machine.travel(start):
        customer = make_customer(org.rep)
    with time_machine.travel(start + timedelta(days=26)):
        assert services.pool_recycle_run().warned == []
        assert selectors.my_warnings(user=org.rep) == []
    with time_machine.travel(start + timedelta(days=27, hours=1)):
        result = services.pool_recycle_run()
        assert result.warned == [customer.pk]
        assert result.recycled == []
        assert services.pool_recycle_run().warned == []  # warned once
        warnings = selectors.my_warnings(user=org.rep)
        assert [w.customer.pk for w in warnings] == [customer.pk]
    assert _notifications(org.rep) == ["pools.recycle_warning"]
    with time_machine.travel(start + timedelta(days=30, hours=1)):
        assert recycle_pools.call_local() == 1
    customer.refresh_from_db()
    assert customer.owner is None
    entry = PoolEntry.objects.get(customer=customer)
    assert entry.pool == pool
    assert entry.previous_owner == org.rep
    latest = customer.history.first()
    assert latest.history_user is None
    assert "30" in latest.history_change_reason
    assert PoolEvent.objects.get(customer=customer, kind=EventKind.RECYCLED).user == org.rep
    assert "pools.recycled" in _notifications(org.rep)
    with time_machine.travel(start + timedelta(days=31)), pytest.raises(LimitReached):
        services.pool_claim(actor=org.rep, pool_id=pool.pk, customer_id=customer.pk)


def test_a_follow_up_keeps_the_customer(org: Organisation) -> None:
    make_pool(org.east, recycle_no_followup_days=30, recycle_no_deal_days=0)
    start = timezone.now()
    with time_machine.travel(start):
        customer = make_customer(org.rep)
    Customer.objects.filter(pk=customer.pk).update(last_contact_at=start + timedelta(days=20))
    with time_machine.travel(start + timedelta(days=31)):
        assert services.pool_recycle_run().recycled == []
    with time_machine.travel(start + timedelta(days=50, hours=1)):
        assert services.pool_recycle_run().recycled == [customer.pk]


def test_the_clock_starts_when_the_rep_takes_the_customer(org: Organisation) -> None:
    pool = make_pool(org.east, recycle_no_followup_days=30, recycle_no_deal_days=0, cooling_days=0)
    start = timezone.now()
    with time_machine.travel(start):
        customer = pooled_customer(pool)
    with time_machine.travel(start + timedelta(days=100)):
        services.pool_claim(actor=org.rep, pool_id=pool.pk, customer_id=customer.pk)
        assert services.pool_recycle_run().recycled == []
    with time_machine.travel(start + timedelta(days=129)):
        assert services.pool_recycle_run().recycled == []
    with time_machine.travel(start + timedelta(days=131)):
        assert services.pool_recycle_run().recycled == [customer.pk]


def test_customers_outside_pooled_departments_stay(org: Organisation) -> None:
    make_pool(org.south, recycle_no_followup_days=1)
    customer = make_customer(org.rep)
    with time_machine.travel(timezone.now() + timedelta(days=90)):
        assert services.pool_recycle_run().recycled == []
    customer.refresh_from_db()
    assert customer.owner == org.rep


@pytest.mark.skipif(
    not apps.is_installed("kehu.opportunities"), reason="needs the opportunities app"
)
def test_no_deal_rule_counts_won_opportunities(org: Organisation) -> None:
    opportunity = apps.get_model("opportunities", "Opportunity")
    stage = apps.get_model("opportunities", "Stage")
    make_pool(org.east, recycle_no_followup_days=0, recycle_no_deal_days=60)
    start = timezone.now()
    with time_machine.travel(start):
        dealt, idle = make_customer(org.rep), make_customer(org.rep)
    opportunity.objects.create(
        customer=dealt,
        name="年度框架合同",
        owner=org.rep,
        stage=stage.objects.filter(kind="won").first(),
        closed_at=start + timedelta(days=40),
    )
    with time_machine.travel(start + timedelta(days=61)):
        assert services.pool_recycle_run().recycled == [idle.pk]
    with time_machine.travel(start + timedelta(days=101)):
        assert services.pool_recycle_run().recycled == [dealt.pk]
    reason = Customer.objects.get(pk=dealt.pk).history.first().history_change_reason
    assert "60" in reason


def test_warnings_read_only_the_customers_a_pool_can_take_back(
    org: Organisation, django_assert_max_num_queries: object
) -> None:
    for _ in range(5):
        make_customer(org.rep)
    with django_assert_max_num_queries(3):  # type: ignore[operator]
        assert selectors.my_warnings(user=org.rep) == []  # no pool for the rep's department
    make_pool(org.east, recycle_no_followup_days=30, recycle_no_deal_days=0, warn_days_before=3)
    with time_machine.travel(timezone.now() + timedelta(days=20)):
        assert selectors.my_warnings(user=org.rep) == []  # too young to be due soon
    with time_machine.travel(timezone.now() + timedelta(days=28)):
        assert len(selectors.my_warnings(user=org.rep)) == 5
