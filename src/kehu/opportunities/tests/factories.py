"""Typed helpers for pipeline tests."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from kehu.accounts.models import User
from kehu.customers import services as customer_services
from kehu.customers.models import Customer
from kehu.opportunities import services
from kehu.opportunities.models import Attachment, Opportunity

_numbers = itertools.count(1)


def make_customer(owner: User, **data: Any) -> Customer:
    n = next(_numbers)
    return customer_services.customer_create(
        actor=owner, data={"name": f"上海测试{n}号机械有限公司", **data}, force=True
    )


def make_opportunity(owner: User, customer: Customer | None = None, **data: Any) -> Opportunity:
    customer = customer or make_customer(owner)
    values: dict[str, Any] = {
        "name": f"设备采购项目{next(_numbers)}",
        "expected_close": timezone.localdate() + timedelta(days=30),
        **data,
    }
    return services.opportunity_create(actor=owner, customer=customer, data=values)


def proposal_file(name: str = "方案.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"%PDF-1.4 proposal", content_type="application/pdf")


def ready_for_proposal(owner: User, **data: Any) -> Opportunity:
    """An opportunity in 需求分析 with an amount and a proposal attached."""
    opportunity = make_opportunity(
        owner, stage="needs_analysis", needs="CRM 系统", amount=Decimal("200000"), **data
    )
    services.attachment_add(
        actor=owner, opportunity=opportunity, kind="proposal", file=proposal_file()
    )
    opportunity.refresh_from_db()
    return opportunity


def attachments_of(opportunity: Opportunity) -> list[Attachment]:
    return list(opportunity.attachments.all())
