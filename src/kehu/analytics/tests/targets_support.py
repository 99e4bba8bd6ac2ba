"""Records the targets count: customers created on a day, deals won on a day, leads converted
on a day, each of a given owner and segment."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django.utils import timezone

from kehu.analytics.models import Target
from kehu.analytics.services import targets as services
from kehu.customers import services as customer_services
from kehu.customers.models import Customer
from kehu.leads.models import Lead
from kehu.opportunities import services as opportunity_services
from kehu.opportunities.models import Opportunity, Stage, StageKind

_numbers = itertools.count(1)
QUARTER = (date(2026, 10, 1), date(2026, 12, 31))  # the quarter the tests set targets for


def at(day: date, hour: int = 10) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def customer(
    owner: Any,
    created: date = date(2026, 11, 3),
    *,
    industry: str = "C",
    region: str = "310101",
    band: str = "lt50",
    kind: str = "company",
) -> Customer:
    n = next(_numbers)
    made = customer_services.customer_create(
        actor=owner,
        data={
            "name": f"苏州{n}号精密机械有限公司",
            "industry": industry or None,
            "region": region or None,
            "employees_band": band,
            "kind": kind,
        },
        force=True,
    )
    Customer.objects.filter(pk=made.pk).update(created_at=at(created))
    made.refresh_from_db()
    return made


def won_deal(
    owner: Any, buyer: Customer, closed: date = date(2026, 11, 20), amount: str = "100000"
) -> Opportunity:
    deal = opportunity_services.opportunity_create(
        actor=owner,
        customer=buyer,
        data={"name": f"设备采购{next(_numbers)}"},
    )
    won = Stage.objects.filter(kind=StageKind.WON).order_by("order").first()
    Opportunity.objects.filter(pk=deal.pk).update(
        stage=won, closed_at=at(closed), amount=Decimal(amount), expected_close=closed
    )
    deal.refresh_from_db()
    return deal


def converted_lead(assignee: Any, buyer: Customer, converted: date = date(2026, 11, 5)) -> Lead:
    return Lead.objects.create(
        contact_name="王先生",
        priority="A",
        source="website",
        status="converted",
        assignee=assignee,
        department_id=assignee.department_id,
        customer=buyer,
        converted_at=at(converted),
    )


def target(actor: Any, **data: Any) -> Target:
    values: dict[str, Any] = {
        "period_kind": "quarter",
        "start": QUARTER[0],
        "measure": "new_customers",
        "value": 10,
        **data,
    }
    return services.target_create(actor=actor, data=values)
