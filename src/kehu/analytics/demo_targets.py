"""Demo targets (``kehu demo``'s step after the deals and leads): this quarter's and last
quarter's, for each sales manager's department and each rep in it, set by the manager through
the services (so every check applies), e.g. "本季度新增30家制造业中小企业，其中华东区20家".
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from kehu.accounts.models import Role, User
from kehu.analytics.models import Measure, Target
from kehu.analytics.reporting import quarter_of
from kehu.analytics.services.targets import target_create
from kehu.core.access import managed_department_ids
from kehu.core.demo import DemoRun, DemoStep

SME_BANDS = ["lt50", "50-300"]  # 中小企业
# The area each demo manager's department sells in (accounts.demo's 华东区 and 华南区).
AREAS = {"华东区": ("east", "华东区"), "华南区": ("south", "华南区")}


def _department_targets(manager: Any, quarter: date, department: Any) -> int:
    area, area_name = AREAS.get(department.name, ("", department.name))
    base = {"period_kind": "quarter", "start": quarter, "department": department.pk}
    sme = target_create(
        actor=manager,
        data={
            **base,
            "name": "本季度新增30家制造业中小企业",
            "measure": Measure.NEW_CUSTOMERS,
            "value": 30,
            "industry": "C",
            "size_bands": SME_BANDS,
        },
    )
    made = 1
    if area:
        target_create(
            actor=manager,
            data={
                **base,
                "name": f"其中{area_name}20家",
                "measure": Measure.NEW_CUSTOMERS,
                "value": 20,
                "industry": "C",
                "size_bands": SME_BANDS,
                "region": area,
                "parent": sme.pk,
            },
        )
        made += 1
    for name, measure, value in [
        ("本季度赢单金额", Measure.WON_AMOUNT, Decimal(3_000_000)),
        ("本季度赢单数", Measure.WON_DEALS, 12),
        ("本季度线索转化", Measure.LEADS_CONVERTED, 20),
    ]:
        target_create(
            actor=manager, data={**base, "name": name, "measure": measure, "value": value}
        )
        made += 1
    return made


def _rep_targets(manager: Any, quarter: date, rep: Any) -> int:
    base = {"period_kind": "quarter", "start": quarter, "owner": rep.pk}
    for name, measure, value in [
        ("个人新增客户", Measure.NEW_CUSTOMERS, 10),
        ("个人赢单金额", Measure.WON_AMOUNT, Decimal(800_000)),
        ("个人赢单数", Measure.WON_DEALS, 4),
        ("老客户复购赢单", Measure.WON_DEALS, 2),
    ]:
        data = {**base, "name": name, "measure": measure, "value": value}
        if name == "老客户复购赢单":
            data["newness"] = "existing"
        target_create(actor=manager, data=data)
    return 4


@transaction.atomic
def generate_targets(today: date | None = None) -> int:
    today = today or timezone.localdate()
    this_quarter = quarter_of(today)[0]
    last_quarter = quarter_of(this_quarter - timedelta(days=1))[0]
    made = 0
    managers = User.objects.filter(role=Role.MANAGER, is_active=True).select_related("department")
    for manager in managers:
        if manager.department is None:
            continue
        reps = User.objects.filter(
            role=Role.SALES, is_active=True, department_id__in=managed_department_ids(manager)
        ).order_by("username")
        for quarter in (last_quarter, this_quarter):
            made += _department_targets(manager, quarter, manager.department)
            for rep in reps:
                made += _rep_targets(manager, quarter, rep)
    return made


def _targets_step(run: DemoRun) -> str:
    return f"{generate_targets()} targets"


TARGETS = DemoStep(
    key="targets", order=45, run=_targets_step, has_data=lambda: Target.objects.exists()
)
