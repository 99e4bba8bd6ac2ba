"""Tickets on the customer: open tickets with their SLA on the page, entries on the timeline."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from kehu.core.testing.factories import Organisation
from kehu.customers import timeline
from kehu.service.services import tickets as services
from kehu.service.tests.tickets_support import Desk, make_desk, raise_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(org: Organisation) -> Desk:
    return make_desk(org)


def client_of(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_customer_page_shows_open_tickets_with_sla(desk: Desk) -> None:
    open_one = raise_ticket(desk, subject="打印机无法联网")
    closed = raise_ticket(desk, subject="已处理的问题")
    services.ticket_set_status(actor=desk.agent, ticket=closed, status="closed")
    page = client_of(desk.org.rep).get(
        reverse("customers:detail", args=[desk.customer.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    text = page.content.decode()
    assert page.status_code == 200
    assert 'id="customer-open-tickets"' in text
    assert open_one.number in text
    assert closed.number not in text
    assert "后超时" in text


def test_marketing_gets_no_ticket_section(desk: Desk) -> None:
    page = client_of(desk.org.marketing).get(reverse("customers:detail", args=[desk.customer.pk]))
    assert page.status_code == 200
    assert 'id="customer-open-tickets"' not in page.content.decode()


def test_timeline_has_tickets_and_replies(desk: Desk) -> None:
    ticket = raise_ticket(desk, subject="软件升级失败")
    services.ticket_reply(actor=desk.agent, ticket=ticket, body="请先备份数据再升级。")
    services.ticket_set_status(actor=desk.agent, ticket=ticket, status="resolved")
    items = timeline.items_for(desk.customer, desk.org.rep)
    kinds = [item.kind for item in items]
    assert "ticket" in kinds
    assert "ticket_reply" in kinds
    titles = " ".join(item.title for item in items)
    assert ticket.number in titles
    assert not [
        item
        for item in timeline.items_for(desk.customer, desk.org.colleague)
        if item.kind.startswith("ticket")
    ]
    page = client_of(desk.org.rep).get(
        reverse("customers:tab", args=[desk.customer.pk, "timeline"])
    )
    assert "请先备份数据再升级" in page.content.decode()
