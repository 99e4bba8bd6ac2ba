"""Shared set-up of the ticket tests: two service teams, a customer handed to team A."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from kehu.accounts import services as accounts
from kehu.accounts.models import Department, Role, User
from kehu.core.testing.factories import Organisation, make_user
from kehu.customers import services as customer_services
from kehu.customers.models import Contact, Customer
from kehu.service.models import Handover, HandoverStatus, Ticket, TicketChannel
from kehu.service.services import tickets as services

_numbers = itertools.count(1)


@dataclass
class Desk:
    org: Organisation
    service_dept: Department
    team_a: Department
    team_b: Department
    agent: User
    agent2: User
    other_team_agent: User
    service_manager: User
    customer: Customer
    contact: Contact


def make_customer(owner: User, email: str = "wang@example.cn") -> tuple[Customer, Contact]:
    n = next(_numbers)
    customer = customer_services.customer_create(
        actor=owner,
        data={"name": f"苏州测试{n}号精密机械有限公司"},
        contacts=[{"name": "王经理", "email": email, "mobile": f"1380000{n:04d}"}],
        force=True,
    )
    return customer, customer.contacts.get()


def hand_over(customer: Customer, owner: User, specialist: User) -> Handover:
    return Handover.objects.create(
        customer=customer,
        owner=owner,
        department_id=owner.department_id,
        specialist=specialist,
        status=HandoverStatus.COMPLETED,
        submitted_at=timezone.now(),
        confirmed_at=timezone.now(),
    )


def make_desk(org: Organisation) -> Desk:
    service_dept = accounts.department_create(name="客服部")
    team_a = accounts.department_create(name="售后一组", parent=service_dept)
    team_b = accounts.department_create(name="售后二组", parent=service_dept)
    agent = make_user(Role.SERVICE, department=team_a, username="agent_a", email="a@kehu.cn")
    agent2 = make_user(Role.SERVICE, department=team_a, username="agent_a2")
    other = make_user(Role.SERVICE, department=team_b, username="agent_b")
    manager = make_user(Role.MANAGER, department=service_dept, username="service_manager")
    customer, contact = make_customer(org.rep)
    hand_over(customer, org.rep, agent)
    return Desk(org, service_dept, team_a, team_b, agent, agent2, other, manager, customer, contact)


def raise_ticket(desk: Desk, actor: User | None = None, **data: Any) -> Ticket:
    values: dict[str, Any] = {
        "subject": f"设备报警 E{next(_numbers)}",
        "content": "主轴温度过高，设备自动停机。",
        "ticket_type": "support",
        "priority": "high",
        **data,
    }
    return services.ticket_create(
        actor=actor or desk.agent,
        data=values,
        channel=TicketChannel.UI,
        customer=desk.customer,
        contact=desk.contact,
    )
