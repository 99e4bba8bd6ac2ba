"""Records of every retention state, made through the apps' services at a past moment."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import time_machine
from django.utils import timezone

from kehu.core.testing.factories import Organisation
from kehu.customers import services as customers
from kehu.customers.models import Customer
from kehu.leads import services as leads
from kehu.leads.models import Lead, LeadStatus

_numbers = itertools.count(1)


def customer_at(
    org: Organisation, *, days_ago: int, status: str = "churned", **data: Any
) -> Customer:
    """A customer created and moved to ``status`` ``days_ago`` days ago, never contacted."""
    number = next(_numbers)
    with time_machine.travel(timezone.now() - timedelta(days=days_ago), tick=False):
        customer = customers.customer_create(
            actor=org.admin,
            data={"name": f"保存期限测试有限公司{number}", "owner": org.rep, **data},
            force=True,
        )
        if status != customer.status:
            customer = customers.customer_change_status(
                actor=org.admin, customer=customer, status=status, reason="test"
            )
    return customer


def lead_at(org: Organisation, *, days_ago: int, status: str = LeadStatus.CLOSED) -> Lead:
    """A lead captured and closed (as invalid, or converted) ``days_ago`` days ago."""
    number = next(_numbers)
    lead = leads.lead_capture(
        actor=org.marketing,
        data={
            "company_name": f"线索保存测试公司{number}",
            "contact_name": f"赵{number}",
            "mobile": f"1390021{number:04d}",
            "source": "trade_show",
        },
    )
    when = timezone.now() - timedelta(days=days_ago)
    basis = "invalidated_at" if status == LeadStatus.CLOSED else "converted_at"
    Lead.objects.filter(pk=lead.pk).update(status=status, **{basis: when})
    lead.refresh_from_db()
    return lead
