"""Campaigns with members, messages, costs, goals, leads and won deals for the results tests.

The rows are made with the models on main (the campaign, touch and send services are built
in other areas), and the deals and leads through their own apps' services: deals are won
with ``kehu.core.testing.deals.win`` and leads captured and converted as users do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from kehu.accounts.models import User
from kehu.campaigns.models import (
    Campaign,
    CampaignCost,
    CampaignForm,
    CampaignGoal,
    CampaignMember,
    Channel,
    Message,
    MessageStatus,
    MessageTemplate,
    Response,
    Send,
    SendStatus,
    Touch,
    TouchKind,
)
from kehu.core.testing.deals import win
from kehu.core.testing.factories import Organisation
from kehu.customers.models import Contact, Customer
from kehu.leads import services as lead_services
from kehu.leads.models import Lead, WebForm
from kehu.opportunities.models import Opportunity
from kehu.opportunities.tests.factories import make_customer, make_opportunity

WON = Decimal("100000")  # kehu.core.testing.deals.DEFAULT_AMOUNT


def make_campaign(owner: User, **data: Any) -> Campaign:
    today = timezone.localdate()
    values: dict[str, Any] = {
        "name": "2026 上海工业博览会",
        "kind": "trade_show",
        "starts_on": today - timedelta(days=30),
        "ends_on": today - timedelta(days=25),
        "owner": owner,
        "department": owner.department,
        "budget": Decimal("20000"),
        **data,
    }
    return Campaign.objects.create(**values)


def touch(campaign: Campaign, kind: str, *, days_ago: float, **who: Any) -> Touch:
    return Touch.objects.create(
        campaign=campaign, kind=kind, at=timezone.now() - timedelta(days=days_ago), **who
    )


def contact_of(customer: Customer, name: str = "王强") -> Contact:
    return Contact.objects.create(customer=customer, name=name, gender="M", email="w@example.cn")


def sent_message(campaign: Campaign, member: CampaignMember, owner: User) -> Message:
    template = MessageTemplate.objects.create(
        name="邀请函", channel=Channel.EMAIL, subject="邀请", body="您好", owner=owner
    )
    send = Send.objects.create(
        campaign=campaign, template=template, channel=Channel.EMAIL, status=SendStatus.DONE
    )
    return Message.objects.create(
        send=send, member=member, address="w@example.cn", status=MessageStatus.SENT
    )


def capture_lead(org: Organisation, form: WebForm | None = None, **data: Any) -> Lead:
    values = {"contact_name": "李娜", "mobile": "13800138000", "source": "website", **data}
    return lead_services.lead_capture(actor=org.admin, data=values, form=form)


def convert(org: Organisation, lead: Lead) -> Lead:
    lead = lead_services.lead_assign(actor=org.admin, lead=lead, assignee=org.rep)
    lead = lead_services.lead_confirm(actor=org.rep, lead=lead)
    return lead_services.lead_convert(actor=org.rep, lead=lead, force=True)


@dataclass
class Scenario:
    expo: Campaign  # 上海组's trade show: members, costs, a form, goals
    webinar: Campaign  # 华南区's webinar, no cost
    won_deal: Opportunity  # first touch: webinar; last touch: expo
    open_deal: Opportunity  # only the expo touched it
    old_deal: Opportunity  # the expo's touch is older than the look-back window


def scenario(org: Organisation) -> Scenario:
    expo = make_campaign(org.marketing, department=org.shanghai)
    webinar = make_campaign(
        org.marketing,
        name="制造业数字化线上研讨会",
        kind="webinar",
        department=org.south,
        budget=None,
        starts_on=timezone.localdate() - timedelta(days=120),
        ends_on=timezone.localdate() - timedelta(days=119),
    )
    # members: invited (nothing sent), invited (mailed), registered, attended, interested
    customers = [make_customer(org.rep, industry="34", region="330100") for _ in range(5)]
    responses = [Response.INVITED, Response.INVITED, *Response.values[1:]]
    members = [
        CampaignMember.objects.create(
            campaign=expo, contact=contact_of(customer), customer=customer, response=response
        )
        for customer, response in zip(customers, responses, strict=True)
    ]
    sent_message(expo, members[1], org.marketing)
    CampaignCost.objects.create(
        campaign=expo, spent_on=timezone.localdate(), amount=Decimal("10000"), category="venue"
    )
    CampaignCost.objects.create(
        campaign=expo, spent_on=timezone.localdate(), amount=Decimal("5000"), category="materials"
    )
    # leads: two captured through the expo's form (one converted), one member lead
    form = WebForm.objects.create(name="展会报名", secret="s" * 32, source="trade_show")
    CampaignForm.objects.create(campaign=expo, web_form=form)
    captured = [capture_lead(org, form, industry="34", region="330100"), capture_lead(org, form)]
    for lead in captured:
        touch(expo, TouchKind.LEAD, days_ago=0, lead=lead)
    convert(org, captured[0])
    member_lead = capture_lead(org, contact_name="赵敏", mobile="13900139000")
    CampaignMember.objects.create(campaign=expo, lead=member_lead)
    # deals: the webinar touched the customer first, the expo last; then the deal was won
    buyer = customers[4]
    touch(webinar, TouchKind.MESSAGE, days_ago=100, customer=buyer)
    touch(expo, TouchKind.RESPONSE, days_ago=10, customer=buyer)
    touch(expo, TouchKind.ADDED, days_ago=1, customer=buyer)  # a list entry credits nothing
    won_deal = win(make_opportunity(org.rep, customer=buyer), org.rep)
    touch(expo, TouchKind.RESPONSE, days_ago=5, customer=customers[3])
    open_deal = make_opportunity(org.rep, customer=customers[3])
    old_customer = make_customer(org.rep)
    touch(expo, TouchKind.MESSAGE, days_ago=200, customer=old_customer)
    old_deal = make_opportunity(org.rep, customer=old_customer)
    # goals: 3 leads; 1 new manufacturing (C) customer in Zhejiang; 2 deals; ¥200,000 won
    CampaignGoal.objects.create(campaign=expo, label="新增线索3条", metric="leads", target=3)
    CampaignGoal.objects.create(
        campaign=expo,
        label="新增制造业客户1家（浙江）",
        metric="customers",
        target=1,
        industry_id="C",
        region_id="330000",
    )
    CampaignGoal.objects.create(
        campaign=expo, label="华南区商机", metric="opportunities", target=2, region_id="440000"
    )
    CampaignGoal.objects.create(
        campaign=expo, label="成交20万", metric="won_amount", target=Decimal("200000")
    )
    return Scenario(expo, webinar, won_deal, open_deal, old_deal)
