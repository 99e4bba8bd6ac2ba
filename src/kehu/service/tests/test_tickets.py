"""Ticket services: numbering, the status flow, SLA pauses, reopen, merge, re-plan, triage."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from kehu.core.errors import Conflict, InvalidInput, NotFound, StaleVersion
from kehu.core.testing.factories import Organisation
from kehu.service.models import (
    MessageKind,
    RoutingRule,
    RoutingTarget,
    Ticket,
    TicketChannel,
    TicketEvent,
    TicketEventKind,
    TicketMessage,
    TicketStatus,
)
from kehu.service.selectors import tickets as selectors
from kehu.service.services import tickets as services
from kehu.service.tests.tickets_support import Desk, make_customer, make_desk, raise_ticket

pytestmark = pytest.mark.django_db

# A Tuesday morning in Shanghai: the SLA clock runs on business time.
BUSINESS_HOUR = datetime(2026, 11, 17, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def desk(org: Organisation) -> Desk:
    return make_desk(org)


def kinds(ticket: Ticket) -> list[str]:
    return list(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True))


def test_create_numbers_starts_sla_and_writes_first_message(desk: Desk) -> None:
    first = raise_ticket(desk)
    second = raise_ticket(desk)
    day = timezone.localtime().strftime("%y%m%d")
    assert re.fullmatch(rf"T{day}\d{{4}}", first.number)
    assert int(second.number[-4:]) == int(first.number[-4:]) + 1
    # no routing rule: the ticket goes to the specialist the customer was handed to
    assert first.status == TicketStatus.ASSIGNED
    assert first.assignee == desk.agent
    assert first.department_id == desk.team_a.pk
    assert first.response_due_at is not None
    assert first.resolution_due_at is not None
    assert first.promised_resolution_at == first.resolution_due_at
    assert first.requester_email == "wang@example.cn"
    message = TicketMessage.objects.get(ticket=first)
    assert message.kind == MessageKind.INBOUND
    assert message.body == first.content
    assert kinds(first) == [TicketEventKind.CREATED, TicketEventKind.ASSIGNED]


def test_create_with_assignee_is_assigned(desk: Desk) -> None:
    ticket = raise_ticket(desk, assignee=desk.agent2.pk)
    assert ticket.status == TicketStatus.ASSIGNED
    assert ticket.assignee == desk.agent2
    assert kinds(ticket) == [TicketEventKind.CREATED, TicketEventKind.ASSIGNED]


def test_create_refuses_bad_input_and_writes_nothing(desk: Desk) -> None:
    with pytest.raises(InvalidInput) as refused:
        raise_ticket(desk, subject="  ", priority="urgent")
    assert "subject" in refused.value.errors or "priority" in refused.value.errors
    with pytest.raises(InvalidInput) as refused:
        raise_ticket(desk, assignee=desk.org.rep.pk)
    assert refused.value.code == "invalid_assignee"
    with pytest.raises(InvalidInput):
        raise_ticket(desk, raised_at="yesterday")
    assert not Ticket.objects.exists()


def test_service_user_cannot_raise_for_customer_not_handed_to_them(desk: Desk) -> None:
    with pytest.raises(InvalidInput) as refused:
        raise_ticket(desk, actor=desk.other_team_agent)
    assert refused.value.code == "invalid_customer"


@time_machine.travel(BUSINESS_HOUR, tick=False)
def test_lifecycle_with_waiting_pausing_the_sla(desk: Desk) -> None:
    ticket = raise_ticket(desk)
    ticket = services.ticket_assign(actor=desk.agent, ticket=ticket, assignee=desk.agent)
    assert ticket.status == TicketStatus.ASSIGNED
    ticket = services.ticket_set_status(
        actor=desk.agent, ticket=ticket, status="in_progress", version=ticket.version
    )
    due = ticket.resolution_due_at
    assert due is not None
    ticket = services.ticket_set_status(actor=desk.agent, ticket=ticket, status="waiting")
    assert ticket.paused_at is not None
    Ticket.objects.filter(pk=ticket.pk).update(paused_at=timezone.now() - timedelta(hours=1))
    ticket.refresh_from_db()
    services.ticket_add_inbound(ticket=ticket, sender="wang@example.cn", body="已重启，仍报警。")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.IN_PROGRESS
    assert ticket.paused_at is None
    assert ticket.resolution_due_at is not None
    assert ticket.resolution_due_at >= due + timedelta(minutes=59)
    resolved: list[int] = []
    services.on_ticket_resolved(lambda t: resolved.append(t.pk))
    ticket = services.ticket_set_status(actor=desk.agent, ticket=ticket, status="resolved")
    assert ticket.resolved_at is not None
    assert ticket.resolution_minutes is not None
    ticket = services.ticket_set_status(actor=desk.agent, ticket=ticket, status="closed")
    assert ticket.closed_at is not None
    assert kinds(ticket).count(TicketEventKind.STATUS) == 5


def test_resolved_callback_runs_on_commit(
    desk: Desk, django_capture_on_commit_callbacks: Any
) -> None:
    seen: list[str] = []
    services.on_ticket_resolved(lambda t: seen.append(t.number))
    ticket = raise_ticket(desk)
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_set_status(actor=desk.agent, ticket=ticket, status="resolved")
    assert seen[-1] == ticket.number


@pytest.mark.parametrize(
    ("path", "refused", "code"),
    [
        (["resolved"], "waiting", "invalid_transition"),
        (["resolved"], "in_progress", "invalid_transition"),
        (["closed"], "in_progress", "ticket_closed"),
        (["in_progress"], "assigned", "invalid_transition"),
        (["in_progress"], "new", "invalid_transition"),
    ],
)
def test_transitions_refused(desk: Desk, path: list[str], refused: str, code: str) -> None:
    ticket = raise_ticket(desk)
    for status in path:
        ticket = services.ticket_set_status(actor=desk.agent, ticket=ticket, status=status)
    version = ticket.version
    with pytest.raises(Conflict) as error:
        services.ticket_set_status(actor=desk.agent, ticket=ticket, status=refused)
    assert error.value.code == code
    ticket.refresh_from_db()
    assert ticket.version == version


def test_a_status_change_recorded_for_an_earlier_moment(desk: Desk) -> None:
    """``at``: an imported ticket's history — raised and resolved before the import; the SLA
    figures, the resolved and closed times and the event carry that moment."""
    raised = timezone.now() - timedelta(days=40)
    ticket = raise_ticket(desk, raised_at=raised)
    version = ticket.version
    for wrong in (raised - timedelta(hours=1), timezone.now() + timedelta(hours=1)):
        with pytest.raises(InvalidInput) as refused:
            services.ticket_set_status(actor=desk.agent, ticket=ticket, status="closed", at=wrong)
        assert "at" in refused.value.errors
    ticket.refresh_from_db()
    assert (ticket.version, ticket.status) == (version, TicketStatus.ASSIGNED)
    done = raised + timedelta(days=2)
    ticket = services.ticket_set_status(actor=desk.agent, ticket=ticket, status="closed", at=done)
    assert ticket.resolved_at == ticket.closed_at == done
    assert ticket.resolution_minutes is not None
    assert ticket.resolution_minutes < 2 * 24 * 60
    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEventKind.STATUS)
    assert (event.at, event.to_status) == (done, TicketStatus.CLOSED)
    assert ticket.history.first().history_user == desk.agent


def test_unknown_status_is_invalid(desk: Desk) -> None:
    ticket = raise_ticket(desk)
    with pytest.raises(InvalidInput):
        services.ticket_set_status(actor=desk.agent, ticket=ticket, status="done")


def test_stale_version_refused(desk: Desk) -> None:
    ticket = raise_ticket(desk)
    with pytest.raises(StaleVersion):
        services.ticket_note(actor=desk.agent, ticket=ticket, body="x", version=ticket.version + 5)
    assert not TicketMessage.objects.filter(kind=MessageKind.NOTE).exists()


def test_reopen_resolved_and_inbound_on_resolved_reopens(desk: Desk) -> None:
    ticket = raise_ticket(desk, assignee=desk.agent.pk)
    ticket = services.ticket_set_status(actor=desk.agent, ticket=ticket, status="resolved")
    ticket = services.ticket_reopen(actor=desk.agent, ticket=ticket, reason="客户反馈仍有问题")
    assert ticket.status == TicketStatus.IN_PROGRESS
    assert ticket.resolved_at is None
    assert ticket.reopened_count == 1
    ticket = services.ticket_set_status(actor=desk.agent, ticket=ticket, status="resolved")
    services.ticket_add_inbound(ticket=ticket, sender="wang@example.cn", body="又坏了")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.IN_PROGRESS
    assert ticket.reopened_count == 2
    assert kinds(ticket).count(TicketEventKind.REOPENED) == 2
    with pytest.raises(Conflict) as error:
        services.ticket_reopen(actor=desk.agent, ticket=ticket)
    assert error.value.code == "not_resolved"


def test_inbound_on_closed_ticket_is_refused(desk: Desk) -> None:
    ticket = raise_ticket(desk)
    ticket = services.ticket_set_status(actor=desk.agent, ticket=ticket, status="closed")
    with pytest.raises(Conflict) as error:
        services.ticket_add_inbound(ticket=ticket, sender="wang@example.cn", body="还在吗")
    assert error.value.code == "ticket_closed"
    assert TicketMessage.objects.filter(ticket=ticket).count() == 1


def test_reply_to_closed_ticket_refused_and_nothing_written(desk: Desk) -> None:
    ticket = raise_ticket(desk)
    ticket = services.ticket_set_status(actor=desk.agent, ticket=ticket, status="closed")
    with pytest.raises(Conflict) as error:
        services.ticket_reply(actor=desk.agent, ticket=ticket, body="您好")
    assert error.value.code == "ticket_closed"
    assert not TicketMessage.objects.filter(kind=MessageKind.REPLY).exists()
    ticket.refresh_from_db()
    assert ticket.first_response_at is None


def test_first_reply_records_response_and_moves_to_in_progress(desk: Desk) -> None:
    ticket = raise_ticket(desk)
    message = services.ticket_reply(actor=desk.agent, ticket=ticket, body="您好，已收到。")
    ticket.refresh_from_db()
    assert ticket.first_response_at is not None
    assert ticket.response_minutes is not None
    assert ticket.status == TicketStatus.IN_PROGRESS
    assert message.email_message_id.startswith("<")
    assert message.email_message_id.endswith(">")
    first = ticket.first_response_at
    services.ticket_reply(actor=desk.agent, ticket=ticket, body="补充说明")
    ticket.refresh_from_db()
    assert ticket.first_response_at == first


def test_note_is_internal(desk: Desk) -> None:
    ticket = raise_ticket(desk)
    note = services.ticket_note(actor=desk.agent, ticket=ticket, body="客户是重点客户")
    assert note.kind == MessageKind.NOTE
    assert note.email_message_id == ""
    ticket.refresh_from_db()
    assert ticket.first_response_at is None


def test_merge_closes_duplicate_and_shows_its_messages_on_target(desk: Desk) -> None:
    target = raise_ticket(desk)
    duplicate = raise_ticket(desk, content="同一台设备又报警了")
    result = services.ticket_merge(actor=desk.agent, ticket=duplicate, into=target, reason="重复")
    assert result.pk == target.pk
    duplicate.refresh_from_db()
    assert duplicate.status == TicketStatus.CLOSED
    assert duplicate.merged_into_id == target.pk
    bodies = [m.body for m in selectors.ticket_messages(target)]
    assert "同一台设备又报警了" in bodies
    assert target.content in bodies
    assert TicketEventKind.MERGED in kinds(duplicate)
    assert TicketEventKind.MERGED in kinds(target)
    event = TicketEvent.objects.get(ticket=target, kind=TicketEventKind.MERGED)
    assert event.data["from_number"] == duplicate.number
    with pytest.raises(InvalidInput):
        services.ticket_merge(actor=desk.agent, ticket=target, into=target)
    with pytest.raises(Conflict) as error:
        services.ticket_merge(actor=desk.agent, ticket=target, into=duplicate)
    assert error.value.code == "target_closed"
    with pytest.raises(Conflict):
        services.ticket_reopen(actor=desk.agent, ticket=duplicate)


def test_replan_needs_a_reason(desk: Desk) -> None:
    ticket = raise_ticket(desk)
    later = timezone.now() + timedelta(days=3)
    with pytest.raises(InvalidInput) as error:
        services.ticket_replan(
            actor=desk.agent, ticket=ticket, reason="  ", promised_resolution_at=later
        )
    assert error.value.code == "reason_required"
    assert not TicketEvent.objects.filter(kind=TicketEventKind.REPLANNED).exists()
    old = ticket.promised_resolution_at
    assert old is not None
    ticket = services.ticket_replan(
        actor=desk.agent, ticket=ticket, reason="等待备件到货", promised_resolution_at=later
    )
    assert ticket.promised_resolution_at == later
    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEventKind.REPLANNED)
    assert event.reason == "等待备件到货"
    assert datetime.fromisoformat(event.data["old_resolution"]) == old
    assert datetime.fromisoformat(event.data["new_resolution"]) == later
    with pytest.raises(InvalidInput) as error:
        services.ticket_replan(
            actor=desk.agent,
            ticket=ticket,
            reason="x",
            promised_resolution_at=ticket.raised_at - timedelta(days=1),
        )
    assert error.value.code == "promise_in_past"
    with pytest.raises(InvalidInput) as error:
        services.ticket_replan(
            actor=desk.agent,
            ticket=ticket,
            reason="x",
            promised_response_at=later + timedelta(days=1),
        )
    assert error.value.code == "invalid_promise"  # response after the promised resolution
    assert TicketEvent.objects.filter(kind=TicketEventKind.REPLANNED).count() == 1


def test_triage_ticket_from_unknown_sender_is_linked_to_customer(desk: Desk) -> None:
    ticket = services.ticket_create(
        actor=None,
        data={"subject": "咨询价格", "content": "请报价"},
        channel=TicketChannel.EMAIL,
        requester_email="stranger@example.com",
        email_message_id="<abc@mail.example.com>",
        department=desk.team_a,
    )
    assert ticket.customer is None
    triage = selectors.ticket_list(user=desk.agent, filters=selectors.TicketFilters(tab="triage"))
    assert list(triage) == [ticket]
    ticket = services.ticket_link_customer(
        actor=desk.agent, ticket=ticket, customer=desk.customer, contact=desk.contact
    )
    assert ticket.customer_id == desk.customer.pk
    assert ticket.requester_email == "stranger@example.com"
    triage = selectors.ticket_list(user=desk.agent, filters=selectors.TicketFilters(tab="triage"))
    assert not triage.exists()


def test_scope(desk: Desk) -> None:
    ticket = raise_ticket(desk)
    assert selectors.ticket_get(user=desk.agent2, ticket_id=ticket.pk) == ticket
    assert selectors.ticket_get(user=desk.org.rep, ticket_id=ticket.pk) == ticket
    assert selectors.ticket_get(user=desk.service_manager, ticket_id=ticket.pk) == ticket
    for outsider in (desk.other_team_agent, desk.org.colleague, desk.org.south_manager):
        with pytest.raises(NotFound):
            selectors.ticket_get(user=outsider, ticket_id=ticket.pk)
        with pytest.raises(NotFound):
            services.ticket_note(actor=outsider, ticket=ticket, body="x")


def test_ticket_for_email(desk: Desk) -> None:
    ticket = raise_ticket(desk)
    reply = services.ticket_reply(actor=desk.agent, ticket=ticket, body="您好")
    found = selectors.ticket_for_email(
        in_reply_to=reply.email_message_id, references=[], subject="Re: whatever"
    )
    assert found == ticket
    bare = reply.email_message_id.strip("<>")
    assert selectors.ticket_for_email(in_reply_to="", references=[bare], subject="") == ticket
    subject = f"回复：[{ticket.number}]"
    assert selectors.ticket_for_email(in_reply_to="", references=[], subject=subject) == ticket
    assert selectors.ticket_for_email(in_reply_to="<no@x>", references=[], subject="hi") is None
    duplicate = raise_ticket(desk)
    services.ticket_merge(actor=desk.agent, ticket=duplicate, into=ticket)
    assert (
        selectors.ticket_for_email(in_reply_to="", references=[], subject=f"[{duplicate.number}]")
        == ticket
    )


def test_list_filters(desk: Desk) -> None:
    high = raise_ticket(desk, priority="high", assignee=desk.agent2.pk)
    low = raise_ticket(desk, priority="low", ticket_type="complaint")
    Ticket.objects.filter(pk=high.pk).update(response_due_at=timezone.now() - timedelta(minutes=5))

    def rows(**params: str) -> list[Ticket]:
        filters = selectors.TicketFilters.parse(params)
        return list(selectors.ticket_list(user=desk.agent, filters=filters))

    assert rows() == [low, high]
    assert rows(tab="mine") == [low]
    assert rows(tab="team") == [low, high]
    assert rows(priority="high") == [high]
    assert rows(type="complaint") == [low]
    assert rows(sla="overdue") == [high]
    assert rows(q=high.number) == [high]
    assert rows(q=high.subject[-3:]) == [high]
    assert rows(status="assigned") == [low, high]
    assert list(selectors.ticket_list(user=desk.other_team_agent)) == []


def test_without_handover_or_rule_nobody_is_appointed(desk: Desk) -> None:
    customer, contact = make_customer(desk.org.rep, email="li@example.cn")
    ticket = services.ticket_create(
        actor=desk.org.rep,
        data={"subject": "咨询", "content": "价格"},
        channel=TicketChannel.UI,
        customer=customer,
        contact=contact,
    )
    assert ticket.status == TicketStatus.NEW
    assert ticket.assignee is None
    assert selectors.ticket_get(user=desk.org.rep, ticket_id=ticket.pk) == ticket


def test_routing_rule_appoints_before_the_handover(desk: Desk) -> None:
    rule = RoutingRule.objects.create(
        name="投诉", target=RoutingTarget.TICKET, ticket_type="complaint", department=desk.team_b
    )
    rule.members.add(desk.other_team_agent)
    ticket = raise_ticket(desk, ticket_type="complaint")
    assert ticket.assignee == desk.other_team_agent
    assert ticket.assigned_by_rule == rule
    assert ticket.department_id == desk.team_b.pk
    assert raise_ticket(desk, ticket_type="support").assignee == desk.agent
