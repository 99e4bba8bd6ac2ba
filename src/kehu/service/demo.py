"""``kehu demo``'s service step: won customers handed to each service user through real
handovers (drafted by the owner, submitted to the specialist, confirmed), so the demo's
service login has a book to work and handovers to show."""

from __future__ import annotations

from typing import Any

from kehu.accounts.models import Role
from kehu.core.demo import DemoRun, DemoStep
from kehu.customers.models import Customer, CustomerStatus
from kehu.opportunities.models import Opportunity, StageKind
from kehu.service.models import Handover
from kehu.service.services import handovers

HANDED_TO_SERVICE = 12

NEEDS = ("设备联网与数据采集", "CRM 系统上线与培训", "年度维保与备件", "产线改造后的运维支持")
CONTENT = "7×24 电话支持，季度巡检一次，年度培训两次"


def hand_to_service(*, users: list[Any], count: int = HANDED_TO_SERVICE) -> int:
    """Hand ``count`` won customers to each service user: a completed handover each, written by
    the customer's owner and confirmed by the specialist. Returns the handovers made."""
    specialists = [user for user in users if user.role == Role.SERVICE and user.is_active]
    won = (
        Customer.objects.filter(
            status=CustomerStatus.WON,
            owner__is_active=True,
            owner__role__in=[Role.SALES, Role.MANAGER],
        )
        .exclude(pk__in=Handover.objects.values("customer_id"))
        .select_related("owner")
        .order_by("-pk")
    )
    made = 0
    for number, specialist in enumerate(specialists):
        batch = list(won[number * count : (number + 1) * count])
        for index, customer in enumerate(batch):
            owner = customer.owner
            assert owner is not None
            deal = (
                Opportunity.objects.filter(customer=customer, stage__kind=StageKind.WON)
                .exclude(
                    pk__in=Handover.objects.filter(opportunity__isnull=False).values(
                        "opportunity_id"
                    )
                )
                .order_by("-pk")
                .first()
            )
            handover = handovers.handover_create(
                actor=owner,
                customer=customer,
                opportunity=deal,
                data={
                    "needs": NEEDS[index % len(NEEDS)],
                    "service_content": CONTENT,
                    "response_hours": 2,
                    "resolution_hours": 24,
                    "special_notes": "偏好邮件沟通" if index % 3 == 0 else "",
                },
            )
            handovers.handover_submit(actor=owner, handover=handover, specialist=specialist)
            handovers.handover_confirm(actor=specialist, handover=handover)
            made += 1
    return made


def _service_step(run: DemoRun) -> str:
    return f"{hand_to_service(users=run.users)} customers handed to service"


SERVICE_HANDOVER = DemoStep(key="service_handover", order=35, run=_service_step)
