from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from kehu.core.testing.factories import Organisation
from kehu.customers import services as customer_services
from kehu.customers.models import Customer
from kehu.followups import reminders, services
from kehu.followups.models import CadencePlan, Task, TaskKind, TaskStatus
from kehu.followups.tests.factories import make_customer

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 4, 1, 9, 0, tzinfo=SHANGHAI)

pytestmark = pytest.mark.django_db


def open_cadence(customer: Customer) -> list[Task]:
    return list(Task.objects.filter(customer=customer, kind=TaskKind.CADENCE, status="open"))


def test_default_plans_by_status_and_grade(org: Organisation) -> None:
    plans = list(CadencePlan.objects.all())
    cases = [("potential", "", 7), ("intent", "", 2), ("won", "", 30), ("won", "B", 30)]
    cases += [("churned", "A", None), ("potential", "A", 7), ("won", "C", 30)]
    for status, grade, days in cases:
        customer = Customer(status=status, grade=grade)
        plan = services.cadence_interval(customer, plans)
        assert (plan.interval_days if plan else None) == days, (status, grade)
    # a grade-only plan applies when no status plan matches
    CadencePlan.objects.filter(status="won").update(is_active=False)
    plan = services.cadence_interval(Customer(status="won", grade="B"))
    assert plan is not None
    assert plan.interval_days == 90


def test_one_open_cadence_task_replanned_on_follow_up(org: Organisation) -> None:
    with time_machine.travel(T0, tick=False):
        customer = make_customer(org.rep)
        reminders.cadence_replan_all()
        reminders.cadence_replan_all()
        (task,) = open_cadence(customer)
        assert task.due_at == datetime(2026, 4, 8, 10, 0, tzinfo=SHANGHAI)
    with time_machine.travel(T0 + timedelta(days=3), tick=False):
        services.followup_create(
            actor=org.rep, customer=customer, data={"method": "wechat", "content": "微信沟通"}
        )
    (task,) = open_cadence(customer)
    assert task.due_at == datetime(2026, 4, 11, 10, 0, tzinfo=SHANGHAI)


def test_status_change_replans_through_the_customers_changed_hook(
    org: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    with time_machine.travel(T0, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            customer = make_customer(org.rep, last_contact_at=T0)
        assert open_cadence(customer)[0].due_at.date() == (T0 + timedelta(days=7)).date()
        with django_capture_on_commit_callbacks(execute=True):
            customer_services.customer_change_status(
                actor=org.rep, customer=customer, status="intent"
            )
        (task,) = open_cadence(customer)
        assert task.due_at == datetime(2026, 4, 3, 10, 0, tzinfo=SHANGHAI)
        with django_capture_on_commit_callbacks(execute=True):
            customer_services.customer_change_status(
                actor=org.rep, customer=customer, status="churned"
            )
    assert open_cadence(customer) == []
    assert Task.objects.filter(customer=customer, status=TaskStatus.CANCELLED).count() == 1


def test_owner_change_moves_the_task(
    org: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    with time_machine.travel(T0, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            customer = make_customer(org.rep)
        with django_capture_on_commit_callbacks(execute=True):
            customer_services.customer_reassign(
                actor=org.east_manager, customer=customer, owner=org.colleague, reason="调岗"
            )
    (task,) = open_cadence(customer)
    assert task.assignee == org.colleague


def test_saves_in_one_transaction_queue_one_job(
    org: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        customers = [make_customer(org.rep) for _ in range(5)]
    assert len(callbacks) == 1
    for customer in customers:
        assert len(open_cadence(customer)) == 1


def test_bulk_planning_matches_the_one_by_one_planning(org: Organisation) -> None:
    with time_machine.travel(T0, tick=False):
        bulk_planned = [
            make_customer(org.rep, last_contact_at=T0 - timedelta(days=d)) for d in (1, 9)
        ]
        churned = make_customer(org.rep, status="churned")
        assert reminders.cadence_plan_missing() == 2
        assert reminders.cadence_plan_missing() == 0  # every customer has its open task now
        assert not open_cadence(churned)
        expected = {}
        for customer in bulk_planned:
            (task,) = open_cadence(customer)
            expected[customer.pk] = (task.due_at, task.title, task.assignee_id, task.dedupe_key)
            task.delete()
            reminders.cadence_replan_all()
            (again,) = open_cadence(customer)
            assert (again.due_at, again.title, again.assignee_id, again.dedupe_key) == expected[
                customer.pk
            ]
