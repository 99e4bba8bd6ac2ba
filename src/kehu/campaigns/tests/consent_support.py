"""Builders of the consent tests: a campaign with contact and lead members."""

from __future__ import annotations

import datetime
import itertools
from typing import Any

from kehu.campaigns.models import Campaign, CampaignKind, CampaignMember
from kehu.core.testing.factories import Organisation
from kehu.customers import services as customers
from kehu.customers.models import Contact, Customer
from kehu.leads import services as leads
from kehu.leads.models import Lead

_numbers = itertools.count(1)


def make_campaign(org: Organisation, **extra: Any) -> Campaign:
    values: dict[str, Any] = {
        "name": f"春季展会{next(_numbers)}",
        "kind": CampaignKind.EMAIL,
        "starts_on": datetime.date(2026, 12, 1),
        "ends_on": datetime.date(2026, 12, 31),
        "owner": org.marketing,
    }
    values.update(extra)
    return Campaign.objects.create(**values)


def make_contact(org: Organisation, owner: Any = None, **data: Any) -> Contact:
    number = next(_numbers)
    values: dict[str, Any] = {
        "name": f"王{number}",
        "email": f"wang{number}@example.cn",
        "mobile": f"1391234{number:04d}",
        "wechat": f"wx_wang{number}",
    }
    values.update(data)
    customer = customers.customer_create(
        actor=org.admin,
        data={"name": f"上海测试有限公司{number}", "owner": owner or org.rep},
        force=True,
    )
    return customers.contact_create(actor=org.admin, customer=customer, data=values, force=True)


def make_lead(org: Organisation, actor: Any = None, **data: Any) -> Lead:
    number = next(_numbers)
    values: dict[str, Any] = {
        "company_name": f"线索科技有限公司{number}",
        "contact_name": f"李{number}",
        "mobile": f"1370013{number:04d}",
        "email": f"li{number}@example.cn",
        "source": "trade_show",
    }
    values.update(data)
    return leads.lead_capture(actor=actor or org.marketing, data=values)


def add_member(campaign: Campaign, person: Contact | Lead) -> CampaignMember:
    if isinstance(person, Contact):
        return CampaignMember.objects.create(
            campaign=campaign, contact=person, customer_id=person.customer_id
        )
    return CampaignMember.objects.create(campaign=campaign, lead=person)


def customer_of(contact: Contact) -> Customer:
    return contact.customer
