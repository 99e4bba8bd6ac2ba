"""Hand-made records for the score tests: a customer and what the scores read about it."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from kehu.accounts.models import User
from kehu.customers import services as customer_services
from kehu.customers.models import Customer
from kehu.followups.models import FollowUp
from kehu.opportunities.models import Opportunity, Stage
from kehu.service.models import Survey, Ticket, TicketStatus, TicketType

_numbers = itertools.count(1)


def make_customer(owner: User, name: str = "") -> Customer:
    n = next(_numbers)
    return customer_services.customer_create(
        actor=owner,
        data={"name": name or f"无锡评分{n}号精密机械有限公司"},
        contacts=[{"name": "李经理", "mobile": f"1390000{n:04d}"}],
        force=True,
    )


def ago(days: float) -> datetime:
    return timezone.now() - timedelta(days=days)


def followup(customer: Customer, days: float, sentiment: str = "neutral", **extra: Any) -> FollowUp:
    return FollowUp.objects.create(
        customer=customer,
        author=customer.owner,
        occurred_at=ago(days),
        method="phone",
        content="电话回访",
        sentiment=sentiment,
        **extra,
    )


def touch(customer: Customer, days: float) -> None:
    """The customer's last contact ``days`` ago (and created long before)."""
    Customer.objects.filter(pk=customer.pk).update(
        last_contact_at=ago(days), created_at=ago(max(days, 400))
    )


def won_deal(customer: Customer, amount: str, days: float = 30) -> Opportunity:
    return Opportunity.objects.create(
        customer=customer,
        name=f"订单{next(_numbers)}",
        owner=customer.owner,
        department_id=customer.department_id,
        amount=Decimal(amount),
        stage=Stage.objects.get(code="won"),
        closed_at=ago(days),
    )


def complaint(customer: Customer, status: str = TicketStatus.NEW) -> Ticket:
    raised = ago(2)
    return Ticket.objects.create(
        number=f"T8{next(_numbers):09d}",
        customer=customer,
        subject="投诉售后响应慢",
        content="三天无人上门",
        ticket_type=TicketType.COMPLAINT,
        status=status,
        raised_at=raised,
        response_due_at=raised + timedelta(hours=2),
        resolution_due_at=raised + timedelta(hours=24),
    )


def survey(customer: Customer, score: int) -> Survey:
    ticket = complaint(customer, status=TicketStatus.CLOSED)
    return Survey.objects.create(
        ticket=ticket,
        customer=customer,
        nonce="n" * 32,
        sent_at=ago(3),
        expires_at=ago(-10),
        answered_at=ago(2),
        score=score,
    )
