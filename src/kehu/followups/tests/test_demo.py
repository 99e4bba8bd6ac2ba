from __future__ import annotations

import pytest

from kehu.core.testing.factories import Organisation
from kehu.followups.demo import generate_followups
from kehu.followups.models import FollowUp, Task, TaskKind
from kehu.followups.tests.factories import make_customer

pytestmark = pytest.mark.django_db


def test_demo_follow_ups(org: Organisation) -> None:
    customers = [make_customer(org.rep) for _ in range(6)]
    created = generate_followups(seed=7)
    assert created == FollowUp.objects.count() >= 6
    for customer in customers:
        customer.refresh_from_db()
        assert customer.last_contact_at is not None
    assert Task.objects.filter(kind=TaskKind.CADENCE, status="open").count() == 6


def test_a_big_demo_on_postgresql_builds_the_task_indexes_after_the_cadence_plan(
    org: Organisation, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import connection

    from kehu.core.testing.factories import foreign_key_names, index_names, record_deferrals
    from kehu.followups import demo

    customers = [make_customer(owner) for owner in (org.rep, org.colleague) * 3]
    before = (index_names(Task), foreign_key_names(Task))
    monkeypatch.setattr(demo, "DEFER_INDEXES_FROM", 5)
    deferred = record_deferrals(monkeypatch)
    generate_followups(seed=7)
    generate_followups(seed=8)  # planned tasks exist now: nothing deferred, nothing doubled
    assert deferred == [connection.vendor == "postgresql", False]
    assert (index_names(Task), foreign_key_names(Task)) == before
    planned = Task.objects.filter(kind=TaskKind.CADENCE, status="open")
    assert sorted(planned.values_list("customer_id", flat=True)) == sorted(
        customer.pk for customer in customers
    )


def test_the_demo_team_keeps_up_with_its_tasks(org: Organisation) -> None:
    """A handful overdue, not most: the latest contact falls within each customer's cadence
    for most customers, and most next steps are still ahead."""
    from django.utils import timezone

    from kehu.customers.demo import generate_customers

    generate_customers(count=150, seed=4, users=[org.rep])
    generate_followups(seed=4)
    open_tasks = Task.objects.filter(assignee=org.rep, status="open")
    overdue = open_tasks.filter(due_at__lt=timezone.now()).count()
    assert open_tasks.count() >= 150
    assert 0 < overdue < 0.2 * open_tasks.count()
