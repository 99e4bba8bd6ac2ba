"""Builders of the personal-data request tests: a person with a row of every kind Kehu keeps
about them (follow-up, ticket with a message, campaign membership, message, consent and its
changes, touch, external id, history)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from kehu.accounts.models import User
from kehu.campaigns.models import Channel, Message, MessageTemplate, Send
from kehu.campaigns.services import campaigns as campaign_services
from kehu.campaigns.services import consent, members
from kehu.core.testing.factories import Organisation
from kehu.customers import services as customer_services
from kehu.customers.models import Contact, Customer
from kehu.followups import services as followup_services
from kehu.integrations.models import ExternalId, ExternalKind
from kehu.leads import services as lead_services
from kehu.leads.models import Lead
from kehu.service.models import TicketChannel
from kehu.service.services import tickets

_numbers = itertools.count(1)


@dataclass
class Person:
    customer: Customer
    contact: Contact
    name: str
    mobile: str
    email: str


def make_person(org: Organisation, *, rows: int = 1) -> Person:
    """A customer of the rep with one contact and ``rows`` rows of each kind about the contact
    (the campaigns are the admin's)."""
    owner = org.rep
    n = next(_numbers)
    name, mobile, email = f"欧阳{n}娜", f"1391234{n:04d}", f"ouyang{n}@example.cn"
    customer = customer_services.customer_create(
        actor=owner,
        data={"name": f"苏州测试{n}号电子有限公司"},
        contacts=[{"name": name, "mobile": mobile, "email": email, "title": "采购经理"}],
    )
    contact = customer.contacts.get()
    for index in range(rows):
        followup_services.followup_create(
            actor=owner,
            customer=customer,
            data={"method": "phone", "content": f"第{index}次电话沟通报价", "contact": contact},
        )
        tickets.ticket_create(
            actor=owner,
            data={"subject": f"设备故障{index}", "content": "无法开机"},
            channel=TicketChannel.UI,
            customer=customer,
            contact=contact,
        )
        campaign = campaign_services.campaign_create(
            actor=org.admin,
            data={
                "name": f"展会{n}-{index}",
                "kind": "trade_show",
                "starts_on": timezone.localdate() - timedelta(days=5),
                "ends_on": timezone.localdate() + timedelta(days=5),
                "budget": "1000",
            },
        )
        member = members.member_add(actor=org.admin, campaign=campaign, contact_id=contact.pk)
        template = MessageTemplate.objects.create(
            name=f"邀约{n}-{index}", channel=Channel.EMAIL, body="您好", owner=org.admin
        )
        send = Send.objects.create(campaign=campaign, template=template, channel=Channel.EMAIL)
        Message.objects.create(send=send, member=member, address=email, status="sent")
    consent.consent_record(
        None, contact=contact, channel=Channel.EMAIL, status="granted", source="web_form"
    )
    consent.consent_record(
        None, contact=contact, channel=Channel.EMAIL, status="withdrawn", source="unsubscribe_link"
    )
    ExternalId.objects.create(
        kind=ExternalKind.CONTACT, object_id=contact.pk, system="kingdee", external_id=f"C-{n}"
    )
    return Person(customer, contact, name, contact.mobile, email)


def make_lead(actor: User | None = None) -> Lead:
    n = next(_numbers)
    return lead_services.lead_capture(
        actor=actor,
        data={
            "company_name": f"杭州线索{n}号有限公司",
            "contact_name": f"司马{n}强",
            "mobile": f"1371234{n:04d}",
            "email": f"sima{n}@example.cn",
            "source": "trade_show",
        },
    )
