"""The periodic reminder rules, each with the clock under control and each run twice."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from kehu.core import config
from kehu.core.testing.factories import Organisation
from kehu.customers.models import Customer
from kehu.followups import reminders, services
from kehu.followups.models import CareDate, Task, TaskKind, TaskStatus
from kehu.followups.tests.factories import make_customer
from kehu.notifications.models import Notification

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)

pytestmark = pytest.mark.django_db


def run_twice(fn: Any, **kwargs: Any) -> tuple[Any, Any]:
    return fn(**kwargs), fn(**kwargs)


def test_first_contact_sla_by_priority_and_missed_warning(org: Organisation) -> None:
    org.east.head = org.east_manager
    org.east.save()
    with time_machine.travel(T0, tick=False):
        s_customer = make_customer(org.rep, priority="S")
        a_customer = make_customer(org.rep, priority="A")
        b_customer = make_customer(org.rep, priority="B")
        make_customer(org.rep)  # no priority: no SLA
        first, second = run_twice(reminders.first_contact_sla)
    assert (first, second) == (3, 0)
    due = {t.customer_id: t.due_at for t in Task.objects.filter(kind=TaskKind.FIRST_CONTACT)}
    assert due == {
        s_customer.pk: T0 + timedelta(hours=24),
        a_customer.pk: T0 + timedelta(days=3),
        b_customer.pk: T0 + timedelta(days=7),
    }
    assert not Notification.objects.filter(kind="sla_missed").exists()
    with time_machine.travel(T0 + timedelta(hours=25), tick=False):
        run_twice(reminders.first_contact_sla)
    warned = Notification.objects.filter(kind="sla_missed")
    assert {n.recipient for n in warned} == {org.rep, org.east_manager}
    assert all(s_customer.name in n.title for n in warned)


def test_logging_a_follow_up_closes_the_first_contact_task(org: Organisation) -> None:
    with time_machine.travel(T0, tick=False):
        customer = make_customer(org.rep, priority="S")
        reminders.first_contact_sla()
        services.followup_create(
            actor=org.rep,
            customer=customer,
            data={"method": "phone", "content": "首次电话沟通"},
        )
    task = Task.objects.get(kind=TaskKind.FIRST_CONTACT)
    assert task.status == TaskStatus.DONE
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        reminders.first_contact_sla()
    assert not Notification.objects.filter(kind="sla_missed").exists()
    assert Task.objects.filter(kind=TaskKind.FIRST_CONTACT).count() == 1


def test_overdue_task_escalates_to_managers_after_the_delay(org: Organisation) -> None:
    config.put("followups.escalate_after_hours", 12)
    with time_machine.travel(T0, tick=False):
        task = services.task_create(
            actor=None, assignee=org.rep, title="回访客户", due_at=T0 + timedelta(hours=1)
        )
    with time_machine.travel(T0 + timedelta(hours=12), tick=False):
        assert run_twice(reminders.escalate_overdue) == (0, 0)
    with time_machine.travel(T0 + timedelta(hours=13, minutes=1), tick=False):
        assert run_twice(reminders.escalate_overdue) == (1, 0)
    escalations = Notification.objects.filter(kind="task_escalated")
    assert [n.recipient for n in escalations] == [org.east_manager]
    task.refresh_from_db()
    assert task.escalated_at == T0 + timedelta(hours=13, minutes=1)


def test_snoozed_task_escalates_later(org: Organisation) -> None:
    with time_machine.travel(T0, tick=False):
        task = services.task_create(actor=None, assignee=org.rep, title="回访", due_at=T0)
        services.task_snooze(actor=org.rep, task_id=task.pk, until=T0 + timedelta(days=2))
    with time_machine.travel(T0 + timedelta(days=1, hours=1), tick=False):
        assert reminders.escalate_overdue() == 0
    with time_machine.travel(T0 + timedelta(days=3, hours=1), tick=False):
        assert reminders.escalate_overdue() == 1


def test_due_soon_reminder_once(org: Organisation) -> None:
    with time_machine.travel(T0, tick=False):
        services.task_create(
            actor=None, assignee=org.rep, title="报价", due_at=T0 + timedelta(hours=30)
        )
        assert run_twice(reminders.due_soon) == (0, 0)
    with time_machine.travel(T0 + timedelta(hours=7), tick=False):
        assert run_twice(reminders.due_soon) == (1, 0)


def test_record_within_two_hours_reminder(org: Organisation) -> None:
    with time_machine.travel(T0, tick=False):
        customer = make_customer(org.rep)
        other = make_customer(org.rep)
        late = services.task_create(
            actor=None, assignee=org.rep, title="拜访", due_at=T0, customer=customer
        )
        on_time = services.task_create(
            actor=None, assignee=org.rep, title="电话", due_at=T0, customer=other
        )
        services.task_complete(actor=org.rep, task_id=late.pk)
        services.task_complete(actor=org.rep, task_id=on_time.pk)
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        services.followup_create(
            actor=org.rep, customer=other, data={"method": "phone", "content": "已沟通"}
        )
        assert reminders.record_reminders() == 0
    with time_machine.travel(T0 + timedelta(hours=2, minutes=1), tick=False):
        assert run_twice(reminders.record_reminders) == (1, 0)
    reminder = Notification.objects.get(kind="record_missing")
    assert reminder.recipient == org.rep
    assert customer.name in reminder.title


def test_stale_contact_and_unverified_tasks(org: Organisation) -> None:
    config.put("customers.stale_contact_days", 30)
    config.put("customers.verify_within_hours", 24)
    with time_machine.travel(T0, tick=False):
        stale = make_customer(org.rep)
        fresh = make_customer(org.rep)
        unverified = make_customer(org.rep, first_contact_at=T0)
        make_customer(org.rep, first_contact_at=T0, verified_at=T0)
    with time_machine.travel(T0 + timedelta(days=20), tick=False):
        Customer.objects.filter(pk=fresh.pk).update(contact_info_updated_at=T0 + timedelta(days=20))
        assert run_twice(reminders.unverified_customers) == (1, 0)
        assert reminders.stale_contacts() == 0
    verify = Task.objects.get(kind=TaskKind.VERIFY)
    assert verify.customer_id == unverified.pk
    with time_machine.travel(T0 + timedelta(days=31), tick=False):
        assert run_twice(reminders.stale_contacts) == (3, 0)
    stale_ids = set(
        Task.objects.filter(kind=TaskKind.STALE_CONTACT).values_list("customer_id", flat=True)
    )
    assert stale.pk in stale_ids
    assert fresh.pk not in stale_ids
    # completing the task without updating does not re-create it; an update restarts the clock
    task = Task.objects.get(kind=TaskKind.STALE_CONTACT, customer=stale)
    services.task_complete(actor=org.rep, task_id=task.pk)
    with time_machine.travel(T0 + timedelta(days=32), tick=False):
        assert reminders.stale_contacts() == 0


def test_verified_follow_up_closes_the_verify_task(org: Organisation) -> None:
    with time_machine.travel(T0, tick=False):
        customer = make_customer(org.rep, first_contact_at=T0 - timedelta(days=2))
        reminders.unverified_customers()
        services.followup_create(
            actor=org.rep,
            customer=customer,
            data={"method": "email", "content": "邮件确认需求", "verified": True},
        )
    assert Task.objects.get(kind=TaskKind.VERIFY).status == TaskStatus.DONE
    customer.refresh_from_db()
    assert customer.verified_via == "email"


def test_monthly_review_once_per_owner_and_month(org: Organisation) -> None:
    with time_machine.travel(T0, tick=False):
        make_customer(org.rep)
        make_customer(org.rep)
        make_customer(org.colleague)
        assert run_twice(reminders.monthly_reviews) == (2, 0)
    with time_machine.travel(T0 + timedelta(days=31), tick=False):
        assert reminders.monthly_reviews() == 2
    assert Task.objects.filter(kind=TaskKind.MONTHLY_REVIEW, assignee=org.rep).count() == 2


def test_care_calendar_has_public_and_lunar_holidays() -> None:
    assert reminders.care_calendar_refresh(years=[2026]) > 5
    assert reminders.care_calendar_refresh(years=[2026]) == 0
    days = {row.name: row.date for row in CareDate.objects.all()}
    assert days["春节"] == date(2026, 2, 17)
    assert days["中秋节"] == date(2026, 9, 25)
    assert days["端午节"] == date(2026, 6, 19)
    assert days["元宵节"] == date(2026, 3, 3)
    assert days["重阳节"] == date(2026, 10, 18)
    assert days["国庆节"] == date(2026, 10, 1)
    assert "劳动节" in days


def test_care_reminders_for_holidays_and_anniversaries(org: Organisation) -> None:
    config.put("followups.care_days_ahead", 3)
    reminders.care_calendar_refresh(years=[2026])
    with time_machine.travel(datetime(2026, 9, 22, 7, 0, tzinfo=SHANGHAI), tick=False):
        make_customer(org.rep, founded_on=date(2016, 9, 24), name="上海精工机械有限公司")
        make_customer(org.rep, founded_on=date(2016, 12, 1))
        first, second = run_twice(reminders.care_reminders)
    assert (first, second) == (2, 0)
    titles = sorted(Task.objects.filter(kind=TaskKind.CARE).values_list("title", flat=True))
    assert any("中秋节" in title for title in titles)
    assert any("上海精工机械有限公司" in title and "10" in title for title in titles)
