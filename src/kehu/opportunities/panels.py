"""The dashboard panel: the user's open pipeline at a glance."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.http import HttpRequest

from kehu.core.dashboard import Panel
from kehu.opportunities.models import Opportunity, StageKind
from kehu.opportunities.selectors import MONEY, WEIGHTED
from kehu.opportunities.services import stalled_threshold


def pipeline_panel(request: HttpRequest) -> Panel | None:
    user: Any = request.user
    if getattr(user, "role", "") not in {"sales", "manager", "admin"} and not user.is_superuser:
        return None
    totals = (
        Opportunity.objects.filter(owner=user, stage__kind=StageKind.OPEN)
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
    }
    return Panel(template="opportunities/dashboard_panel.html", context=context, order=40)
