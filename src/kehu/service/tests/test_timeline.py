"""The service loop on the customer: timeline entries, the customer page's section, the
dashboard panels — each for the right users only, in a fixed number of queries."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kehu.accounts import services as accounts
from kehu.accounts.models import Role, User
from kehu.core.testing.factories import Organisation, make_user
from kehu.customers import timeline
from kehu.customers.models import Customer
from kehu.customers.tests.factories import make_customer
from kehu.service.models import (
    Handover,
    HandoverStatus,
    MessageKind,
    Survey,
    Ticket,
    TicketMessage,
    TicketPriority,
    TicketStatus,
    TicketType,
)
from kehu.service.selectors import loop
from kehu.service.services import calendar, sla

pytestmark = pytest.mark.django_db


def next_late_morning() -> datetime:
    """11:00 in Shanghai on the next business day: the fixtures' tickets, raised days before
    the real now, are breached by then, and one raised 50 minutes before is at risk."""
    shanghai = ZoneInfo("Asia/Shanghai")
    day = timezone.now().astimezone(shanghai).date() + timedelta(days=1)
    while not calendar.is_business_day(day):
        day += timedelta(days=1)
    return datetime.combine(day, time(11, 0), tzinfo=shanghai)


_numbers = iter(range(1, 10_000))


@pytest.fixture
def agent(org: Organisation) -> User:
    department = accounts.department_create(name="客服部")
    return make_user(Role.SERVICE, department=department, username="agent")


def hand_over(customer: Customer, agent: User, *, at: datetime) -> Handover:
    assert customer.owner is not None
    return Handover.objects.create(
        customer=customer,
        owner=customer.owner,
        department_id=customer.owner.department_id,
        status=HandoverStatus.COMPLETED,
        needs="统一管理客户资料",
        specialist=agent,
        submitted_at=at + timedelta(hours=1),
        confirmed_at=at + timedelta(hours=2),
        created_at=at,
    )


def raise_ticket(
    customer: Customer | None,
    agent: User,
    *,
    at: datetime,
    status: str = TicketStatus.IN_PROGRESS,
    satisfaction: int | None = None,
) -> Ticket:
    ticket = Ticket(
        number=f"T9{next(_numbers):09d}",
        customer=customer,
        subject="登录时提示验证码错误",
        content="今天上午开始无法登录",
        ticket_type=TicketType.SUPPORT,
        priority=TicketPriority.HIGH,
        status=status,
        raised_at=at,
        department_id=agent.department_id,
        assignee=agent,
    )
    sla.sla_start(ticket, now=at)
    if status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        sla.sla_record_response(ticket, now=at + timedelta(minutes=30))
        sla.sla_record_resolution(ticket, now=at + timedelta(hours=3))
    if status == TicketStatus.CLOSED:
        ticket.closed_at = at + timedelta(hours=5)
        ticket.satisfaction = satisfaction
    ticket.save()
    TicketMessage.objects.create(
        ticket=ticket,
        kind=MessageKind.INBOUND,
        sender="wang@example.cn",
        body="无法登录",
        created_at=at,
    )
    TicketMessage.objects.create(
        ticket=ticket,
        kind=MessageKind.REPLY,
        author=agent,
        body="已收到，正在排查",
        created_at=at + timedelta(minutes=30),
    )
    TicketMessage.objects.create(
        ticket=ticket,
        kind=MessageKind.NOTE,
        author=agent,
        body="内部备注：研发已知问题",
        created_at=at + timedelta(minutes=40),
    )
    if satisfaction is not None:
        Survey.objects.create(
            ticket=ticket,
            customer=customer,
            nonce="n" * 32,
            sent_at=at + timedelta(hours=3),
            expires_at=at + timedelta(days=7),
            answered_at=at + timedelta(hours=4),
            score=satisfaction,
            comment="处理很及时",
        )
    return ticket


@pytest.fixture
def handed(org: Organisation, agent: User) -> Customer:
    customer = make_customer(org.rep, name="上海瑞德电子科技有限公司")
    start = timezone.now() - timedelta(days=10)
    hand_over(customer, agent, at=start)
    raise_ticket(
        customer, agent, at=start + timedelta(days=1), status=TicketStatus.CLOSED, satisfaction=4
    )
    raise_ticket(customer, agent, at=start + timedelta(days=2))
    return customer


def kinds(customer: Customer, user: User) -> list[str]:
    return [item.kind for item in timeline.items_for(customer, user)]


def test_the_handed_specialist_sees_the_loop_on_the_timeline(handed: Customer, agent: User) -> None:
    items = timeline.items_for(handed, agent)
    titles = [item.title for item in items]
    found = {item.kind for item in items}
    assert {"ticket", "ticket_message", "survey"} <= found
    # the closed ticket raised, resolved and closed; the open one raised
    assert [item.kind for item in items].count("ticket") == 4
    assert any("4/5" in t for t in titles)
    bodies = " ".join(item.body for item in items)
    assert "已收到，正在排查" in bodies
    assert "无法登录" in bodies
    assert "内部备注" not in bodies  # internal notes stay on the ticket
    ordered = [item.when for item in items]
    assert ordered == sorted(ordered, reverse=True)


def test_the_owner_sees_it_and_a_rep_of_another_team_sees_nothing(
    org: Organisation, handed: Customer
) -> None:
    assert {"ticket", "ticket_message", "survey"} <= set(kinds(handed, org.rep))
    service_kinds = {"ticket", "ticket_message", "survey"}
    assert not service_kinds & set(kinds(handed, org.south_rep))
    assert not service_kinds & set(kinds(handed, org.marketing))
    # an agent of another service team: not handed the customer, not their team's tickets
    other = make_user(
        Role.SERVICE, department=accounts.department_create(name="售后二部"), username="agent2"
    )
    assert not service_kinds & set(kinds(handed, other))
    # and the page itself is not theirs
    client = Client()
    client.force_login(other)
    assert client.get(f"/customers/{handed.pk}/tabs/timeline/").status_code == 404
    client.force_login(org.south_rep)
    assert client.get(f"/customers/{handed.pk}/tabs/service/").status_code == 404


def test_the_timeline_tab_is_a_fixed_number_of_queries(
    org: Organisation, handed: Customer, agent: User
) -> None:
    client = Client()
    client.force_login(agent)
    url = f"/customers/{handed.pk}/tabs/timeline/"
    client.get(url)
    few = count_queries(client, url)
    start = timezone.now() - timedelta(days=5)
    for index in range(6):
        raise_ticket(
            handed,
            agent,
            at=start + timedelta(hours=index),
            status=TicketStatus.CLOSED,
            satisfaction=5,
        )
    assert count_queries(client, url) == few
    body = client.get(url).content.decode()
    assert "T9" in body


def count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(captured)


def test_the_customer_page_shows_open_tickets_with_sla_and_satisfaction(
    org: Organisation, handed: Customer, agent: User
) -> None:
    client = Client()
    client.force_login(agent)
    page = client.get(f"/customers/{handed.pk}/").content.decode()
    assert 'id="section-service"' in page
    url = f"/customers/{handed.pk}/tabs/service/"
    body = client.get(url).content.decode()
    assert 'id="customer-service"' in body
    assert "登录时提示验证码错误" in body
    assert "4.0/5" in body
    summary = loop.customer_service(user=agent, customer=handed)
    assert (summary.open_count, summary.scored, summary.satisfaction) == (1, 1, 4.0)
    (row,) = summary.open_tickets
    assert row.sla.state == "breached"  # raised 8 days ago with a 24 h resolution time
    few = count_queries(client, url)
    start = timezone.now() - timedelta(hours=1)
    for index in range(5):
        raise_ticket(handed, agent, at=start + timedelta(minutes=index))
    assert count_queries(client, url) == few
    # a rep of another team: 404; marketing: no section
    client.force_login(org.marketing)
    assert 'id="section-service"' not in client.get("/").content.decode()


def test_dashboard_panels_for_agents_and_managers(
    org: Organisation, handed: Customer, agent: User
) -> None:
    now = next_late_morning()
    raise_ticket(handed, agent, at=now - timedelta(minutes=50))  # high: response due in 10 min
    figures = loop.agent_figures(user=agent, now=now)
    assert figures.open == 2
    assert figures.breached == 1
    assert figures.at_risk == 1
    client = Client()
    client.force_login(agent)
    page = client.get("/").content.decode()
    assert 'id="service-agent-panel"' in page
    assert 'id="service-team-panel"' not in page
    client.force_login(org.east_manager)
    page = client.get("/").content.decode()
    assert 'id="service-team-panel"' in page
    assert 'id="service-agent-panel"' not in page
    # resolved in the first hours of the month, within the SLA (only this one counts then)
    start = loop.month_start(now) + timedelta(hours=1)
    raise_ticket(handed, agent, at=start, status=TicketStatus.CLOSED, satisfaction=5)
    team = loop.team_attainment(user=org.east_manager, now=start + timedelta(hours=5))
    assert (team.resolved, team.resolution_met, team.responded, team.response_met) == (1, 1, 1, 1)
    assert team.resolution_rate == 1.0
    client.force_login(org.rep)
    page = client.get("/").content.decode()
    assert "service-agent-panel" not in page
    assert "service-team-panel" not in page


def test_agent_figures_are_one_query(
    agent: User, handed: Customer, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        loop.agent_figures(user=agent)


def test_team_attainment_over_the_scope_parts_equals_the_scope(
    org: Organisation, handed: Customer, agent: User
) -> None:
    """Summed over ``visible_parts``, the figures are those of ``visible_to`` row by row."""
    now = timezone.now()
    start = loop.month_start(now)
    other = make_customer(org.south_rep, name="广州恒泰贸易有限公司")
    for index, customer in enumerate((handed, other, handed)):
        at = start + timedelta(hours=index + 1)
        raise_ticket(customer, agent, at=at, status=TicketStatus.CLOSED, satisfaction=4)
    raise_ticket(other, agent, at=now - timedelta(days=3))  # open, past its resolution time
    until = max(now, start + timedelta(hours=10))
    for user in (org.admin, org.east_manager, org.south_manager, org.rep, agent, org.marketing):
        team = loop.team_attainment(user=user, now=until)
        rows = list(Ticket.objects.visible_to(user))
        month = [row for row in rows if start <= row.raised_at <= until]
        resolved = [row for row in month if row.resolved_at is not None]
        expected = (
            len(resolved),
            sum(1 for row in resolved if row.resolved_at <= row.resolution_due_at),  # type: ignore[operator]
            sum(
                1
                for row in rows
                if row.is_open
                and row.paused_at is None
                and row.resolution_due_at is not None
                and row.resolution_due_at < until
            ),
        )
        assert (team.resolved, team.resolution_met, team.open_breached) == expected, user
