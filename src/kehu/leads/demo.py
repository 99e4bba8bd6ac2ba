"""Demo leads in every state (``kehu demo``), made through the lead services.

A marketing user captures them; an administrator assigns them to the reps; the reps confirm,
mark invalid or convert them; invalid ones are reviewed. Each state a team meets in a week is
there: in the pool, assigned and waiting for confirmation, confirmed, waiting for review,
closed as invalid, converted into a customer.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db import transaction

from kehu.accounts.models import Role, User
from kehu.core.demo import DemoRun, DemoStep
from kehu.customers.models import Source
from kehu.leads import services
from kehu.leads.models import InvalidReason, Lead
from kehu.leads.services import ReviewDecision

MOST = 300  # leads go through the services one by one: a demo of a million customers stays fast
COMPANIES = ["云帆精密机械", "东岳新材料", "海川供应链", "锦程电子科技", "启明数据服务", "远航物流"]
CITIES = ["上海", "杭州", "苏州", "广州", "深圳", "南京", "宁波"]
SURNAMES = list("王李张刘陈杨黄赵吴周")
GIVEN = list("伟芳娜敏静丽强磊军洋")
NEEDS = [
    "展会上留下名片，想了解报价",
    "官网留言咨询产品演示",
    "老客户推荐，需要一套客户管理方案",
    "计划下季度采购，预算约 30 万",
    "待核实",  # a need not yet known is marked, as the entry rules ask
]
MOBILE_PREFIXES = ["135", "136", "137", "138", "139", "150", "151", "158", "186", "188", "189"]
SOURCES = [
    Source.TRADE_SHOW,
    Source.WEBSITE,
    Source.REFERRAL,
    Source.INBOUND_CALL,
    Source.SOCIAL_MEDIA,
]
# The state each lead ends in, and how many of a hundred do
STATES = [
    ("pool", 20),
    ("assigned", 25),
    ("confirmed", 25),
    ("pending_review", 10),
    ("closed", 10),
    ("converted", 10),
]
REASONS = [InvalidReason.EMPTY_NUMBER, InvalidReason.NO_NEED, InvalidReason.WRONG_INDUSTRY]


def generate_leads(*, count: int, seed: int, users: list[User]) -> int:
    """``count`` leads spread over the states above; 0 when the demo has no marketing user,
    administrator or sales rep to act."""
    rng = random.Random(seed)
    by_role = {role: [user for user in users if user.role == role] for role in Role}
    reps = by_role[Role.SALES]
    if not (by_role[Role.MARKETING] and by_role[Role.ADMIN] and reps):
        return 0
    capturer, admin = by_role[Role.MARKETING][0], by_role[Role.ADMIN][0]
    states = rng.choices([state for state, _w in STATES], [w for _s, w in STATES], k=count)
    for state in states:
        _one_lead(rng, state, capturer=capturer, admin=admin, rep=rng.choice(reps))
    return count


@transaction.atomic
def _one_lead(rng: random.Random, state: str, *, capturer: User, admin: User, rep: User) -> None:
    lead = services.lead_capture(actor=capturer, data=_lead_data(rng))
    if state == "pool":
        return
    if lead.assignee_id != rep.pk:
        lead = services.lead_assign(actor=admin, lead=lead, assignee=rep)
    step: dict[str, Callable[[], Any]] = {
        "confirmed": lambda: services.lead_confirm(actor=rep, lead=lead),
        "pending_review": lambda: _invalidate(rng, rep, lead),
        "closed": lambda: services.lead_review(
            actor=admin, lead=_invalidate(rng, rep, lead), decision=ReviewDecision.CLOSE
        ),
        "converted": lambda: services.lead_convert(
            actor=rep, lead=services.lead_confirm(actor=rep, lead=lead), force=True
        ),
    }
    if state in step:
        step[state]()


def _invalidate(rng: random.Random, rep: User, lead: Lead) -> Lead:
    return services.lead_invalidate(actor=rep, lead=lead, reason=rng.choice(REASONS))


def _lead_data(rng: random.Random) -> dict[str, Any]:
    person = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(["", *GIVEN])
    company = rng.choice(CITIES) + rng.choice(COMPANIES) + "有限公司"
    return {
        "company_name": company if rng.random() < 0.85 else "",
        "contact_name": person,
        "mobile": f"+86{rng.choice(MOBILE_PREFIXES)}{rng.randint(10000000, 99999999)}",
        "source": rng.choice(SOURCES),
        "need": rng.choice(NEEDS),
        "urgency": rng.choice(["low", "medium", "medium", "high"]),
        "estimated_value": Decimal(rng.choice([0, 5, 10, 30, 80]) * 10000) or None,
    }


def _leads_step(run: DemoRun) -> str:
    count = min(max(run.customers // 10, 12), MOST)
    return f"{generate_leads(count=count, seed=run.seed, users=run.users)} leads"


LEADS = DemoStep(key="leads", order=40, run=_leads_step, has_data=lambda: Lead.objects.exists())
