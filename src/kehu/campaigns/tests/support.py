"""Helpers of the campaigns-core tests: a campaign of the rep's team, customers with contacts,
static segments."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from django.utils import timezone

from kehu.accounts.models import User
from kehu.campaigns.models import (
    Campaign,
    CampaignMember,
    Segment,
    SegmentEntry,
    SegmentKind,
    SegmentTarget,
)
from kehu.campaigns.services import campaigns as services
from kehu.campaigns.services import members
from kehu.core.testing.factories import Organisation
from kehu.customers import services as customer_services
from kehu.customers.models import Customer

_numbers = itertools.count(1)
MOBILE = "13812345678"


def make_customer(owner: User, *, contacts: int = 1, mobile: str = "") -> Customer:
    n = next(_numbers)
    return customer_services.customer_create(
        actor=owner,
        data={"name": f"宁波测试{n}号精密机械有限公司"},
        contacts=[
            {
                "name": f"王{n}{index}",
                "title": "采购经理",
                "mobile": mobile if (mobile and index == 0) else f"139{n:04d}{index:04d}",
                "email": f"wang{n}.{index}@example.cn",
                "is_primary": index == 0,
            }
            for index in range(contacts)
        ],
        force=True,
    )


def make_campaign(actor: User, *, owner: User | None = None, **data: Any) -> Campaign:
    today = timezone.localdate()
    values: dict[str, Any] = {
        "name": "华东工业自动化展",
        "kind": "trade_show",
        "starts_on": today - timedelta(days=5),
        "ends_on": today + timedelta(days=5),
        "budget": "50000",
    }
    if owner is not None:
        values["owner"] = owner
    values.update(data)
    return services.campaign_create(actor=actor, data=values)


def static_segment(owner: User, customers: list[Customer], **extra: Any) -> Segment:
    segment = Segment.objects.create(
        name=extra.pop("name", "展会邀约名单"),
        target=SegmentTarget.CUSTOMERS,
        kind=SegmentKind.STATIC,
        owner=owner,
        department_id=owner.department_id,
        **extra,
    )
    SegmentEntry.objects.bulk_create(
        [SegmentEntry(segment=segment, customer=customer) for customer in customers]
    )
    return segment


def team_campaign(org: Organisation) -> Campaign:
    """A campaign the rep owns in 上海组 (planned by their manager): the rep sees it but may
    not change it; east_manager, marketing and admins manage it; 华南区 sees nothing."""
    return make_campaign(org.east_manager, owner=org.rep, department=org.shanghai)


def with_member(org: Organisation) -> tuple[Campaign, CampaignMember]:
    campaign = team_campaign(org)
    customer = make_customer(org.rep, mobile=MOBILE)
    contact = customer.contacts.get()
    member = members.member_add(actor=org.east_manager, campaign=campaign, contact_id=contact.pk)
    return campaign, member
