"""The dashboard panel: the user's open pipeline at a glance."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.http import HttpRequest

from kehu.core.dashboard import Panel
from kehu.opportunities.models import Opportunity, StageKind
from kehu.opportunities.selectors import MONEY, WEIGHTED, full_access_q
from kehu.opportunities.services import stalled_threshold


def pipeline_panel(request: HttpRequest) -> Panel | None:
    user: Any = request.user
    if getattr(user, "role", "") not in {"sales", "manager", "admin"} and not user.is_superuser:
        return None
    team = getattr(user, "role", "") in {"manager", "admin"} or user.is_superuser
    deals = Opportunity.objects.filter(owner=user)
    if team:
        scope = full_access_q(user)
        deals = Opportunity.objects.visible_to(user)
        deals = deals.filter(scope) if scope is not None else deals
    totals = (
        deals.filter(stage__kind=StageKind.OPEN)
        .order_by()
        .aggregate(
            open_count=Count("pk"),
            total_amount=Sum("amount", output_field=MONEY),
            total_weighted=Sum(WEIGHTED, output_field=MONEY),
            stalled=Count("pk", filter=Q(stage_entered_at__lt=stalled_threshold())),
        )
    )
    context = {
        "open_count": totals["open_count"],
        "amount": totals["total_amount"] or Decimal(0),
        "weighted": totals["total_weighted"] or Decimal(0),
        "stalled": totals["stalled"],
        "team": team,
    }
    return Panel(template="opportunities/dashboard_panel.html", context=context, order=40)
