"""The tickets pages: list tabs and SLA text, detail thread, new-ticket form, actions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from kehu.core.navigation import menu_for
from kehu.core.testing.factories import Organisation
from kehu.service.models import MessageKind, Ticket, TicketEventKind, TicketStatus
from kehu.service.services import tickets as services
from kehu.service.tests.tickets_support import Desk, make_desk, raise_ticket
from kehu.service.views.tickets import duration_text

pytestmark = pytest.mark.django_db

# A Tuesday morning in Shanghai: the SLA clock runs on business time.
BUSINESS_HOUR = datetime(2026, 11, 17, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def desk(org: Organisation) -> Desk:
    return make_desk(org)


def client_of(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_duration_text_in_chinese() -> None:
    with override("zh-hans"):
        assert duration_text(135) == "2小时15分"
        assert duration_text(-30) == "30分"
        assert duration_text(3 * 24 * 60 + 4 * 60) == "3天4小时"


@time_machine.travel(BUSINESS_HOUR, tick=False)
def test_list_shows_tabs_and_time_to_breach(desk: Desk, django_assert_max_num_queries: Any) -> None:
    ticket = raise_ticket(desk, assignee=desk.agent.pk)
    late = raise_ticket(desk, assignee=desk.agent2.pk)
    Ticket.objects.filter(pk=ticket.pk).update(
        response_due_at=timezone.now() + timedelta(hours=2, minutes=15, seconds=30)
    )
    Ticket.objects.filter(pk=late.pk).update(
        response_due_at=timezone.now() - timedelta(minutes=29, seconds=40)
    )
    client = client_of(desk.agent)
    client.get(reverse("service:tickets"), {"tab": "all"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    with django_assert_max_num_queries(14):
        page = client.get(
            reverse("service:tickets"), {"tab": "all"}, HTTP_ACCEPT_LANGUAGE="zh-hans"
        )
    text = page.content.decode()
    assert page.status_code == 200
    assert ticket.number in text
    assert late.number in text
    assert "2小时15分 后超时" in text
    assert "已超时 30分" in text
    mine = client.get(reverse("service:tickets")).content.decode()  # service: "mine" first
    assert ticket.number in mine
    assert late.number not in mine


def test_list_filters_and_triage_tab(desk: Desk) -> None:
    triage = services.ticket_create(
        actor=None,
        data={"subject": "陌生人来信", "content": "你好"},
        channel="email",
        requester_email="who@example.com",
        department=desk.team_a,
    )
    other = raise_ticket(desk, priority="low")
    client = client_of(desk.agent)
    text = client.get(reverse("service:tickets"), {"tab": "triage"}).content.decode()
    assert triage.number in text
    assert other.number not in text
    text = client.get(reverse("service:tickets"), {"tab": "all", "priority": "low"}).content
    assert other.number in text.decode()
    assert triage.number not in text.decode()


def test_detail_shows_thread_kinds_apart(desk: Desk) -> None:
    ticket = raise_ticket(desk)
    services.ticket_reply(actor=desk.agent, ticket=ticket, body="回复客户的内容")
    services.ticket_note(actor=desk.agent, ticket=ticket, body="内部备注的内容")
    page = client_of(desk.agent).get(reverse("service:ticket_detail", args=[ticket.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert 'data-kind="note"' in text
    assert 'data-kind="reply"' in text
    assert 'data-kind="inbound"' in text
    assert "内部备注的内容" in text
    assert text.index("回复客户的内容") < text.index("内部备注的内容")


def test_detail_out_of_scope_is_404(desk: Desk) -> None:
    ticket = raise_ticket(desk)
    url = reverse("service:ticket_detail", args=[ticket.pk])
    assert client_of(desk.other_team_agent).get(url).status_code == 404
    assert client_of(desk.org.colleague).get(url).status_code == 404
    assert client_of(desk.org.rep).get(url).status_code == 200


def test_create_form(desk: Desk) -> None:
    client = client_of(desk.agent)
    assert client.get(reverse("service:ticket_new")).status_code == 200
    response = client.post(
        reverse("service:ticket_new"),
        {
            "customer": desk.customer.pk,
            "subject": "网页打不开",
            "content": "登录后白屏",
            "ticket_type": "support",
            "priority": "high",
        },
    )
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("service:ticket_detail", args=[ticket.pk])
    assert ticket.contact == desk.contact
    assert ticket.requester_email == desk.contact.email
    refused = client.post(reverse("service:ticket_new"), {"subject": "", "content": ""})
    assert refused.status_code == 200
    assert Ticket.objects.count() == 1


def test_customer_picker_searches_visible_customers(desk: Desk) -> None:
    response = client_of(desk.agent).get(
        reverse("service:ticket_customer_pick"), {"q": desk.customer.name[:4]}
    )
    assert desk.customer.name in response.content.decode()
    response = client_of(desk.other_team_agent).get(
        reverse("service:ticket_customer_pick"), {"q": desk.customer.name[:4]}
    )
    assert desk.customer.name not in response.content.decode()


def test_actions(desk: Desk) -> None:
    ticket = raise_ticket(desk)
    client = client_of(desk.agent)

    def act(name: str, **data: Any) -> Any:
        ticket.refresh_from_db()
        return client.post(
            reverse(f"service:{name}", args=[ticket.pk]), {"version": ticket.version, **data}
        )

    assert act("ticket_assign", assignee=desk.agent2.pk).status_code == 302
    assert act("ticket_status", status="waiting").status_code == 302
    act("ticket_note", body="等待客户")
    act("ticket_replan", reason="", promised_resolution_at="2099-01-01T10:00")
    ticket.refresh_from_db()
    assert not ticket.events.filter(kind=TicketEventKind.REPLANNED).exists()
    act("ticket_replan", reason="客户放假", promised_resolution_at="2099-01-01T10:00")
    ticket.refresh_from_db()
    assert ticket.events.filter(kind=TicketEventKind.REPLANNED).exists()
    assert ticket.status == TicketStatus.WAITING
    assert ticket.assignee == desk.agent2
    assert ticket.messages.filter(kind=MessageKind.NOTE).exists()
    act("ticket_status", status="closed")
    response = act("ticket_reply", body="您好")
    assert response.status_code == 302
    assert not ticket.messages.filter(kind=MessageKind.REPLY).exists()
    other = raise_ticket(desk)
    act("ticket_reopen", reason="误关")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.IN_PROGRESS
    assert act("ticket_merge", into=other.number).status_code == 302
    ticket.refresh_from_db()
    assert ticket.merged_into == other


def test_menu_entry_for_roles_that_see_tickets() -> None:
    def labels(role: str) -> list[str]:
        return [str(item["url"]) for item in menu_for(role, False)]

    assert reverse("service:tickets") in labels("service")
    assert reverse("service:tickets") in labels("sales")
    assert reverse("service:tickets") not in labels("marketing")
