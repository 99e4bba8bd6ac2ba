"""``kehu demo``'s campaigns step: two static segments, four campaigns of different types
(a finished trade show, a running webinar and e-mail campaign, a planned event) with members
from the segments, their responses, goals, costs, a web form attached to the webinar with the
leads it captured, and the touches all of this records, written through the services."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone

from kehu.accounts.models import Role, User
from kehu.campaigns.models import (
    Campaign,
    CampaignKind,
    CampaignMember,
    CampaignStatus,
    Response,
    Segment,
    SegmentEntry,
    SegmentKind,
    SegmentTarget,
)
from kehu.campaigns.services import campaigns as services
from kehu.campaigns.services import members
from kehu.core.demo import DemoRun, DemoStep
from kehu.customers.models import Customer, Source
from kehu.leads.models import WebForm
from kehu.leads.services import web_form_create, web_form_submit

SEGMENT_SIZE = 120
FORM_LEADS = 6
CITIES = ["苏州", "宁波", "合肥"]
PLANS: list[dict[str, Any]] = [
    {
        "name": "2026 华东工业自动化展",
        "kind": CampaignKind.TRADE_SHOW,
        "days": (-75, -72),
        "status": CampaignStatus.FINISHED,
        "budget": "180000",
        "costs": [("venue", "86000", "展位费"), ("materials", "23500", "展台搭建与资料")],
        "goals": [
            ("新增30家制造业中小企业", "customers", "30", "C"),
            ("收集线索120条", "leads", "120", None),
        ],
        "review": "展位位置好，到访量超出预期；技术讲解人手不足，下次多安排两名售前。",
    },
    {
        "name": "数字化转型线上研讨会",
        "kind": CampaignKind.WEBINAR,
        "days": (-10, 20),
        "status": CampaignStatus.RUNNING,
        "budget": "30000",
        "costs": [("advertising", "12000", "行业媒体推广")],
        "goals": [("报名人数200人", "responses", "200", None)],
        "form": True,
    },
    {
        "name": "年终客户关怀邮件",
        "kind": CampaignKind.EMAIL,
        "days": (-3, 30),
        "status": CampaignStatus.RUNNING,
        "budget": "5000",
        "costs": [("messaging", "800", "邮件与短信通道费")],
        "goals": [("商机10个", "opportunities", "10", None)],
    },
    {
        "name": "华南新品发布会",
        "kind": CampaignKind.EVENT,
        "days": (25, 25),
        "status": CampaignStatus.PLANNED,
        "budget": "60000",
        "costs": [],
        "goals": [("华南区新增客户20家", "customers", "20", None)],
    },
]


def _segment(name: str, owner: User, customer_ids: list[int]) -> Segment:
    segment = Segment.objects.create(
        name=name,
        target=SegmentTarget.CUSTOMERS,
        kind=SegmentKind.STATIC,
        owner=owner,
        last_count=len(customer_ids),
        counted_at=timezone.now(),
    )
    SegmentEntry.objects.bulk_create(
        [SegmentEntry(segment=segment, customer_id=pk) for pk in customer_ids]
    )
    return segment


def _responses(rng: random.Random, actor: User, campaign: Campaign, advanced: bool) -> None:
    ids = list(CampaignMember.objects.filter(campaign=campaign).values_list("pk", flat=True))
    rng.shuffle(ids)
    shares = (0.5, 0.3, 0.15) if advanced else (0.3, 0.1, 0.03)
    steps = [Response.REGISTERED, Response.ATTENDED, Response.INTERESTED]
    for share, response in zip(shares, steps, strict=True):
        chosen = ids[: int(len(ids) * share)]
        if chosen:
            members.members_set_response(
                actor=actor, campaign=campaign, member_ids=chosen, response=response
            )


def generate(run: DemoRun) -> str:
    rng = random.Random(run.seed + 29)
    users = run.users or list(User.objects.filter(is_active=True))
    marketer = next((user for user in users if user.role == Role.MARKETING), None)
    manager = next((user for user in users if user.role == Role.MANAGER), None)
    if marketer is None:
        return "0 campaigns"
    manufacturing = list(
        Customer.objects.filter(Q(industry_id="C") | Q(industry__parent_id="C"))
        .order_by("pk")
        .values_list("pk", flat=True)[:SEGMENT_SIZE]
    )
    everyone = list(Customer.objects.order_by("-pk").values_list("pk", flat=True)[:SEGMENT_SIZE])
    if not everyone:
        return "0 campaigns"
    segments = [
        _segment("制造业客户（展会邀约）", marketer, manufacturing or everyone),
        _segment("近期新增客户", marketer, everyone),
    ]
    today = timezone.localdate()
    made = 0
    for index, plan in enumerate(PLANS):
        start, end = (today + timedelta(days=day) for day in plan["days"])
        owner = manager if plan["kind"] == CampaignKind.EVENT and manager else marketer
        campaign = services.campaign_create(
            actor=marketer,
            data={
                "name": plan["name"],
                "kind": plan["kind"],
                "starts_on": start,
                "ends_on": end,
                "owner": owner,
                "budget": Decimal(plan["budget"]),
                "description": f"{plan['name']}：邀请目标客户参加，收集线索并跟进。",
            },
        )
        for label, metric, target, industry in plan["goals"]:
            services.goal_add(
                actor=marketer,
                campaign=campaign,
                data={"label": label, "metric": metric, "target": target, "industry": industry},
            )
        if plan["status"] != CampaignStatus.PLANNED:
            members.members_add_from_segment(
                actor=marketer,
                campaign=campaign,
                segment_id=segments[index % 2].pk,
                primary_only=True,
            )
            _responses(rng, marketer, campaign, plan["status"] == CampaignStatus.FINISHED)
            for category, amount, note in plan["costs"]:
                services.cost_add(
                    actor=marketer,
                    campaign=campaign,
                    data={
                        "category": category,
                        "amount": amount,
                        "note": note,
                        "spent_on": min(start, today),
                    },
                )
            services.campaign_set_status(actor=marketer, campaign=campaign, status="running")
            if plan["status"] == CampaignStatus.FINISHED:
                services.campaign_set_status(actor=marketer, campaign=campaign, status="finished")
                services.campaign_update(
                    actor=marketer, campaign=campaign, data={"review": plan["review"]}, version=None
                )
        if plan.get("form"):
            form = web_form_create(
                actor=marketer,
                data={"name": f"{plan['name']} 报名表", "source": Source.WEBSITE},
            )
            services.form_attach(actor=marketer, campaign=campaign, web_form_id=form.pk)
            _capture(rng, form)
        made += 1
    return f"{made} campaigns, {len(segments)} segments"


def _capture(rng: random.Random, form: WebForm) -> None:
    for number in range(FORM_LEADS):
        web_form_submit(
            form_key=form.key,
            secret=form.secret,
            data={
                "company_name": f"{rng.choice(CITIES)}智造科技{number + 1}号有限公司",
                "contact_name": rng.choice("王李张刘陈") + rng.choice(["伟", "芳", "强", "静"]),
                "mobile": f"+86139{rng.randint(10000000, 99999999)}",
                "need": "报名参加研讨会，关注产线数字化改造",
            },
            ip=f"203.0.113.{number + 1}",
        )


CAMPAIGNS = DemoStep(
    key="campaigns", order=45, run=generate, has_data=lambda: Campaign.objects.exists()
)
