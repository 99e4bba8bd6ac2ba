"""The dashboard panel: the user's open pipeline at a glance."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.http import HttpRequest
from django.utils.translation import gettext as _

from kehu.core.dashboard import Panel
from kehu.core.formatting import money_unit_of
from kehu.opportunities.models import Opportunity, StageKind
from kehu.opportunities.selectors import stage_list, won_per_month
from kehu.opportunities.services import stalled_threshold


def pipeline_panel(request: HttpRequest) -> Panel | None:
    """The open deals whose amounts the user sees: a rep's own, a manager's teams' and own.

    Summed per part (``full_access_parts``) and per stage, so that each part is one range of
    the owner or department index, which carries the columns read here; the weighted amount
    is each stage's sum times its probability. A rep's 75,000 deals at size L took 78 ms
    through the stages' join (bench/RESULTS.md, 2026-12-06 b).
    """
    user: Any = request.user
    if getattr(user, "role", "") not in {"sales", "manager", "admin"} and not user.is_superuser:
        return None
    team = getattr(user, "role", "") in {"manager", "admin"} or user.is_superuser
    every_stage = stage_list(include_inactive=True)  # a deal may stay in a retired stage
    open_stages = {stage.pk: stage for stage in every_stage if stage.kind == StageKind.OPEN}
    stalled_before = stalled_threshold()
    context: dict[str, Any] = {"open_count": 0, "amount": Decimal(0), "weighted": Decimal(0)}
    context.update(stalled=0, team=team)
    counts = dict.fromkeys(open_stages, 0)
    amounts = dict.fromkeys(open_stages, Decimal(0))
    for part in Opportunity.objects.full_access_parts(user):
        per_stage = (
            part.filter(stage_id__in=open_stages)
            .order_by()
            .values("stage_id")
            .annotate(
                n=Count("pk"),
                total=Sum("amount"),
                stalled=Count("pk", filter=Q(stage_entered_at__lt=stalled_before)),
            )
        )
        for stage_id, count, total, stalled in per_stage.values_list(
            "stage_id", "n", "total", "stalled"
        ):
            amount = total or Decimal(0)
            context["open_count"] += count
            context["amount"] += amount
            context["weighted"] += open_stages[stage_id].weighted(amount)
            context["stalled"] += stalled
            counts[stage_id] += count
            amounts[stage_id] += amount
    # The chart shows the active stages, and a retired one only while deals remain in it.
    shown = [stage for stage in open_stages.values() if stage.is_active or counts[stage.pk]]
    context["chart"] = {
        "categories": [stage.label for stage in shown],
        "unit": money_unit_of(user),
        "series": [
            {
                "name": _("Amount"),
                "type": "bar",
                "money": True,
                "data": [float(amounts[stage.pk]) for stage in shown],
            },
            {
                "name": _("Deals"),
                "type": "line",
                "axis": 1,
                "data": [counts[stage.pk] for stage in shown],
            },
        ],
    }
    return Panel(template="opportunities/dashboard_panel.html", context=context, order=40)


def won_panel(request: HttpRequest) -> Panel | None:
    """Won deals per month, the last twelve months: amount and count (one query per part)."""
    user: Any = request.user
    if getattr(user, "role", "") not in {"sales", "manager", "admin"} and not user.is_superuser:
        return None
    months = won_per_month(user=user, months=12)
    chart = {
        "categories": [month.month for month in months],
        "categoryKind": "month",
        "unit": money_unit_of(user),
        "series": [
            {
                "name": _("Won amount"),
                "type": "bar",
                "money": True,
                "data": [float(month.amount) for month in months],
            },
            {
                "name": _("Deals won"),
                "type": "line",
                "axis": 1,
                "data": [month.count for month in months],
            },
        ],
    }
    context = {"chart": chart, "total": sum((month.amount for month in months), Decimal(0))}
    context["count"] = sum(month.count for month in months)
    return Panel(template="opportunities/won_panel.html", context=context, order=45)
