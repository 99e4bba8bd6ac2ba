"""``kehu demo`` makes handovers and tickets in every state for the demo's service user."""

from __future__ import annotations

import pytest
from django.test import Client

from kehu.accounts.models import User
from kehu.cli import main
from kehu.customers import timeline
from kehu.customers.models import Customer
from kehu.service.models import (
    Handover,
    HandoverStatus,
    MessageKind,
    Survey,
    Ticket,
    TicketMessage,
    TicketStatus,
    TicketType,
)

pytestmark = pytest.mark.django_db


def test_kehu_demo_makes_the_service_loop(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--customers", "120", "--seed", "7"]) == 0
    out = capsys.readouterr().out
    assert "tickets" in out
    agent = User.objects.get(username="liu.service")
    handed = Handover.objects.filter(status=HandoverStatus.COMPLETED, specialist=agent)
    assert handed.exists()
    assert Handover.objects.filter(status=HandoverStatus.PENDING).exists()
    tickets = Ticket.objects.all()
    assert set(tickets.values_list("status", flat=True)) == set(TicketStatus.values)
    assert set(tickets.values_list("ticket_type", flat=True)) == set(TicketType.values)
    assert tickets.filter(customer__isnull=True).count() == 2  # triage
    assert tickets.filter(resolution_breached_at__isnull=False).exists()
    assert len(set(tickets.values_list("number", flat=True))) == tickets.count()
    assert all(number.startswith("T") for number in tickets.values_list("number", flat=True))
    assert TicketMessage.objects.filter(kind=MessageKind.REPLY).exists()
    assert TicketMessage.objects.filter(kind=MessageKind.NOTE).exists()
    assert Survey.objects.filter(score__isnull=False).exists()
    closed = tickets.filter(status=TicketStatus.CLOSED)
    assert not closed.filter(satisfaction__isnull=True).exists()
    for ticket in tickets.exclude(status=TicketStatus.NEW).exclude(customer__isnull=True):
        assert ticket.assignee_id == agent.pk
        assert ticket.response_due_at is not None
        assert ticket.response_due_at > ticket.raised_at
        if ticket.resolved_at is not None:
            assert ticket.first_response_at is not None
            assert ticket.raised_at < ticket.first_response_at <= ticket.resolved_at
    # the tickets of a handed customer come after its handover was confirmed
    for handover in handed:
        assert handover.confirmed_at is not None
        raised = tickets.filter(customer_id=handover.customer_id).values_list(
            "raised_at", flat=True
        )
        assert all(moment > handover.confirmed_at for moment in raised)
    # the specialist sees the handed customers, their tickets, and the loop on the timeline
    customer = Customer.objects.get(pk=handed.first().customer_id)  # type: ignore[union-attr]
    assert Customer.objects.visible_to(agent).filter(pk=customer.pk).exists()
    kinds = {item.kind for item in timeline.items_for(customer, agent)}
    assert {"ticket", "ticket_message"} <= kinds
    client = Client()
    client.force_login(agent)
    assert client.get(f"/customers/{customer.pk}/tabs/service/").status_code == 200
    assert 'id="service-agent-panel"' in client.get("/").content.decode()
    # --if-empty leaves it as it is
    count = tickets.count()
    assert main(["demo", "--customers", "120", "--if-empty"]) == 0
    assert Ticket.objects.count() == count
