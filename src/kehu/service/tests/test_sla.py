"""The SLA engine on business time: due times by policy, pauses, recorded times, the state,
warnings once and breaches once with notifications, and the policies' validation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kehu.accounts.models import User
from kehu.core.errors import Conflict, Forbidden, InvalidInput
from kehu.core.testing.factories import Organisation
from kehu.customers.models import Customer
from kehu.customers.services import customer_create
from kehu.notifications.models import Notification
from kehu.service.models import (
    CalendarEntry,
    SlaPolicy,
    SlaState,
    Ticket,
    TicketEvent,
    TicketEventKind,
    TicketStatus,
)
from kehu.service.services import calendar, sla

SHANGHAI = ZoneInfo("Asia/Shanghai")
numbers = count(1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.fixture
def calendar_2026(db: None) -> Iterator[None]:
    CalendarEntry.objects.all().delete()
    calendar.calendar_refresh(years=[2026])
    yield
    calendar.clear_cache()


def make_ticket(
    *,
    raised: str,
    priority: str = "medium",
    assignee: User | None = None,
    customer: Customer | None = None,
    **fields: Any,
) -> Ticket:
    ticket = Ticket(
        number=f"T26{next(numbers):08d}",
        subject="打印机无法连接",
        content="自昨天起无法打印",
        priority=priority,
        raised_at=at(raised),
        assignee=assignee,
        customer=customer,
        status=TicketStatus.ASSIGNED if assignee else TicketStatus.NEW,
        **fields,
    )
    sla.sla_start(ticket, now=ticket.raised_at)
    ticket.save()
    return ticket


def graded_customer(org: Organisation, grade: str) -> Customer:
    customer = customer_create(actor=org.rep, data={"name": f"{grade}级测试有限公司"})
    Customer.objects.filter(pk=customer.pk).update(grade=grade)
    customer.refresh_from_db()
    return customer


# --- due times ---------------------------------------------------------------------------------
@pytest.mark.django_db
def test_default_policies_of_the_migration() -> None:
    policies = {
        p.priority: (p.respond_minutes, p.resolve_minutes)
        for p in SlaPolicy.objects.filter(customer_grade="")
    }
    assert policies == {"high": (60, 480), "medium": (120, 1440), "low": (480, 4320)}


def test_high_priority_raised_before_golden_week(calendar_2026: None) -> None:
    ticket = make_ticket(raised="2026-09-30T17:00", priority="high")
    assert ticket.sla_policy is not None
    assert ticket.response_due_at == at("2026-09-30T18:00")
    # 8 business hours: 1 on 09-30, then nothing until Thursday 10-08, 09:00 + 7 h.
    assert ticket.resolution_due_at == at("2026-10-08T16:00")
    assert ticket.promised_response_at == ticket.response_due_at


def test_medium_priority_ends_on_the_make_up_saturday(calendar_2026: None) -> None:
    ticket = make_ticket(raised="2026-09-30T17:00", priority="medium")
    assert ticket.response_due_at == at("2026-10-08T10:00")  # 60 + 60 min
    assert ticket.resolution_due_at == at("2026-10-10T14:00")  # Saturday worked (调休)


def test_policy_by_customer_grade_with_fallback(calendar_2026: None, org: Organisation) -> None:
    SlaPolicy.objects.create(
        priority="medium", customer_grade="A", respond_minutes=30, resolve_minutes=240
    )
    vip = make_ticket(raised="2026-11-16T10:00", customer=graded_customer(org, "A"))
    assert (vip.sla_policy.customer_grade, vip.response_due_at) == ("A", at("2026-11-16T10:30"))
    other = make_ticket(raised="2026-11-16T10:00", customer=graded_customer(org, "C"))
    assert (other.sla_policy.customer_grade, other.response_due_at) == ("", at("2026-11-16T12:00"))


def test_without_any_policy_the_issue_defaults_apply(calendar_2026: None) -> None:
    SlaPolicy.objects.all().delete()
    ticket = make_ticket(raised="2026-11-16T09:00")
    assert ticket.sla_policy is None
    assert ticket.response_due_at == at("2026-11-16T11:00")  # 2 h
    assert sla.business_minutes_between(ticket.raised_at, ticket.resolution_due_at) == 1440


# --- pauses and recorded times ----------------------------------------------------------------
def test_waiting_on_the_customer_pauses_the_clock(calendar_2026: None) -> None:
    ticket = make_ticket(raised="2026-11-16T09:00")  # Monday; respond by 11:00
    sla.sla_record_response(ticket, now=at("2026-11-16T09:30"))
    assert ticket.response_minutes == 30
    resolution_due = ticket.resolution_due_at
    sla.sla_pause(ticket, now=at("2026-11-16T17:00"))  # waiting from 17:00 Monday…
    state = sla.sla_state(ticket, now=at("2026-11-17T12:00"))
    assert state.state == SlaState.PAUSED
    assert state.minutes_left == sla.business_minutes_between(
        at("2026-11-16T17:00"), resolution_due
    )
    sla.sla_resume(ticket, now=at("2026-11-17T10:00"))  # …to 10:00 Tuesday: 2 business hours
    assert ticket.paused_at is None
    assert ticket.sla_paused_minutes == 120
    assert ticket.resolution_due_at == calendar.add_business_minutes(resolution_due, 120)
    sla.sla_record_resolution(ticket, now=at("2026-11-17T11:00"))
    # 09:00 Mon → 11:00 Tue is 9 h + 2 h = 660 business minutes, 120 of them paused.
    assert ticket.resolution_minutes == 540


def test_a_pause_over_a_weekend_costs_no_business_minutes(calendar_2026: None) -> None:
    ticket = make_ticket(raised="2026-11-13T10:00")
    due = ticket.resolution_due_at
    sla.sla_pause(ticket, now=at("2026-11-13T18:30"))
    sla.sla_resume(ticket, now=at("2026-11-16T08:00"))
    assert ticket.resolution_due_at == due
    assert ticket.sla_paused_minutes == 0


def test_resolved_while_waiting_leaves_the_pause_out(calendar_2026: None) -> None:
    ticket = make_ticket(raised="2026-11-16T09:00")
    sla.sla_pause(ticket, now=at("2026-11-16T10:00"))
    sla.sla_record_resolution(ticket, now=at("2026-11-16T15:00"))
    assert ticket.resolution_minutes == 60


def test_state_counts_business_minutes_left(calendar_2026: None) -> None:
    ticket = make_ticket(raised="2026-09-30T17:00", priority="high")  # response due 18:00
    on_track = sla.sla_state(ticket, now=at("2026-09-30T17:00"))
    assert (on_track.state, on_track.minutes_left) == (SlaState.ON_TRACK, 60)
    warning = sla.sla_state(ticket, now=at("2026-09-30T17:50"))
    assert (warning.state, warning.minutes_left) == (SlaState.WARNING, 10)
    sla.sla_record_response(ticket, now=at("2026-09-30T17:55"))
    # Resolution due 10-08 16:00: over the holiday only 7 h + 5 min remain.
    later = sla.sla_state(ticket, now=at("2026-10-03T12:00"))
    assert (later.state, later.minutes_left) == (SlaState.ON_TRACK, 420)
    breached = sla.sla_state(ticket, now=at("2026-10-08T16:30"))
    assert (breached.state, breached.minutes_left) == (SlaState.BREACHED, -30)


# --- warnings and escalation ------------------------------------------------------------------
def test_warned_once_then_breached_once_with_notifications(
    calendar_2026: None, org: Organisation
) -> None:
    org.service.department = org.shanghai
    org.service.save()
    ticket = make_ticket(
        raised="2026-11-16T09:00", priority="high", assignee=org.service, department=org.shanghai
    )  # response due 10:00, warning 15 min before
    assert sla.sla_check(at("2026-11-16T09:30"))["warned"] == 0
    assert sla.sla_check(at("2026-11-16T09:50"))["warned"] == 1
    assert sla.sla_check(at("2026-11-16T09:55"))["warned"] == 0  # once
    warnings = Notification.objects.filter(kind="sla_warning")
    assert [n.recipient for n in warnings] == [org.service]
    assert ticket.number in warnings[0].title
    result = sla.sla_check(at("2026-11-16T10:05"))
    assert result["breached"] == 1
    assert sla.sla_check(at("2026-11-16T10:20"))["breached"] == 0  # once
    ticket.refresh_from_db()
    assert ticket.response_breached_at == at("2026-11-16T10:05")
    breaches = Notification.objects.filter(kind="sla_breached")
    # The assignee and the manager of 华东区 (above 上海组), nobody twice.
    assert sorted(n.recipient.username for n in breaches) == ["east_manager", "service"]
    kinds = list(TicketEvent.objects.filter(ticket=ticket).values_list("kind", "data__target"))
    assert kinds == [
        (TicketEventKind.WARNED, "response"),
        (TicketEventKind.BREACHED, "response"),
    ]


def test_after_the_response_the_resolution_is_warned_and_escalated(
    calendar_2026: None, org: Organisation
) -> None:
    ticket = make_ticket(raised="2026-11-16T09:00", priority="high", assignee=org.service)
    sla.sla_check(at("2026-11-16T09:50"))
    ticket.refresh_from_db()
    sla.sla_record_response(ticket, now=at("2026-11-16T09:55"))
    ticket.status = TicketStatus.IN_PROGRESS
    # A caller saving only its own fields leaves the response's warning stamp in place.
    ticket.save(update_fields=["status", "first_response_at", "response_minutes"])
    # Resolution due 17:00; the second warning comes 15 minutes before.
    assert sla.sla_check(at("2026-11-16T16:40"))["warned"] == 0
    assert sla.sla_check(at("2026-11-16T16:50"))["warned"] == 1
    assert sla.sla_check(at("2026-11-16T17:01"))["breached"] == 1
    ticket.refresh_from_db()
    assert ticket.response_breached_at is None
    assert ticket.resolution_breached_at == at("2026-11-16T17:01")
    # Nobody manages the ticket's (missing) department: the admins hear of it.
    breach = Notification.objects.filter(kind="sla_breached")
    assert sorted(n.recipient.username for n in breach) == ["admin", "service"]


def test_state_of_finished_tickets(calendar_2026: None) -> None:
    ticket = make_ticket(raised="2026-11-16T09:00", priority="high")  # resolution due 17:00
    sla.sla_record_resolution(ticket, now=at("2026-11-16T16:00"))
    ticket.status = TicketStatus.RESOLVED
    assert sla.sla_state(ticket, now=at("2026-11-20T09:00")).state == SlaState.MET
    late = make_ticket(raised="2026-11-16T09:00", priority="high")
    late.status, late.closed_at = TicketStatus.CLOSED, at("2026-11-17T09:00")
    assert sla.sla_state(late, now=at("2026-11-20T09:00")).state == SlaState.BREACHED


def test_paused_and_closed_tickets_are_not_escalated(
    calendar_2026: None, org: Organisation
) -> None:
    paused = make_ticket(raised="2026-11-16T09:00", priority="high", assignee=org.service)
    sla.sla_pause(paused, now=at("2026-11-16T09:10"))
    paused.status = TicketStatus.WAITING
    paused.save()
    closed = make_ticket(raised="2026-11-16T09:00", priority="high", assignee=org.service)
    closed.status = TicketStatus.CLOSED
    closed.save()
    assert sla.sla_check(at("2026-11-16T12:00")) == {"checked": 0, "warned": 0, "breached": 0}
    assert not Notification.objects.exists()


def test_no_warning_during_the_holiday_but_on_its_first_morning(
    calendar_2026: None, org: Organisation
) -> None:
    make_ticket(raised="2026-09-30T17:10", priority="high", assignee=org.service)
    # Response due 10-08 09:10: within the 15 minutes' window all through golden week,
    # but nobody is warned on a holiday; the warning goes out at 09:00 on 10-08.
    found = sla.sla_check(at("2026-10-04T12:00"))
    assert (found["warned"], found["breached"]) == (0, 0)
    assert sla.sla_check(at("2026-10-08T08:55"))["warned"] == 0
    assert sla.sla_check(at("2026-10-08T09:00"))["warned"] == 1
    assert sla.sla_check(at("2026-10-08T09:11"))["breached"] == 1


# --- policies ---------------------------------------------------------------------------------
def test_policy_validation_writes_nothing(db: None, org: Organisation) -> None:
    before = SlaPolicy.objects.count()
    bad = [
        ({"priority": "high", "respond_minutes": 0, "resolve_minutes": 60}, "respond_minutes"),
        ({"priority": "high", "respond_minutes": 10, "resolve_minutes": -5}, "resolve_minutes"),
        ({"priority": "high", "respond_minutes": "x", "resolve_minutes": 60}, "respond_minutes"),
        ({"priority": "high", "respond_minutes": 1.5, "resolve_minutes": 60}, "respond_minutes"),
        ({"priority": "high", "respond_minutes": 60, "resolve_minutes": 30}, "resolve_minutes"),
        ({"priority": "urgent", "respond_minutes": 6, "resolve_minutes": 60}, "priority"),
        (
            {
                "priority": "high",
                "customer_grade": "Z",
                "respond_minutes": 6,
                "resolve_minutes": 60,
            },
            "customer_grade",
        ),
        (
            {
                "priority": "low",
                "respond_minutes": 6,
                "resolve_minutes": 60,
                "warn_before_minutes": -1,
            },
            "warn_before_minutes",
        ),
    ]
    for data, field in bad:
        with pytest.raises(InvalidInput) as caught:
            sla.policy_create(actor=org.admin, data={"customer_grade": "B", **data})
        assert field in caught.value.errors, (data, caught.value.errors)
    with pytest.raises(Conflict):
        sla.policy_create(
            actor=org.admin, data={"priority": "high", "respond_minutes": 5, "resolve_minutes": 9}
        )
    with pytest.raises(Forbidden):
        sla.policy_create(
            actor=org.east_manager,
            data={
                "priority": "high",
                "customer_grade": "A",
                "respond_minutes": 5,
                "resolve_minutes": 9,
            },
        )
    assert SlaPolicy.objects.count() == before


def test_policy_update_checks_the_version_and_the_pair(db: None, org: Organisation) -> None:
    policy = sla.policy_create(
        actor=org.admin,
        data={"priority": "low", "customer_grade": "A", "respond_minutes": 5, "resolve_minutes": 9},
    )
    changed = sla.policy_update(
        actor=org.admin, policy=policy, data={"respond_minutes": 7}, version=policy.version
    )
    assert (changed.respond_minutes, changed.version) == (7, policy.version + 1)
    with pytest.raises(Conflict):  # stale
        sla.policy_update(actor=org.admin, policy=policy, data={"respond_minutes": 8}, version=1)
    with pytest.raises(Conflict) as caught:  # low/any grade exists
        sla.policy_update(
            actor=org.admin, policy=policy, data={"customer_grade": ""}, version=changed.version
        )
    assert caught.value.code == "duplicate_policy"
    policy.refresh_from_db()
    assert (policy.customer_grade, policy.respond_minutes) == ("A", 7)
