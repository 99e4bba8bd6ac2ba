"""Stage changes of a customer's opportunities on the customer timeline (one query)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from kehu.customers.timeline import TimelineItem
from kehu.opportunities.models import Opportunity, StageChange, StageKind

TIMELINE_LIMIT = 50
ICONS: dict[str, str] = {
    StageKind.OPEN: "kanban",
    StageKind.WON: "trophy",
    StageKind.LOST: "x-octagon",
}


def customer_opportunity_items(customer: Any, user: Any) -> Iterable[TimelineItem]:
    visible = Opportunity.objects.visible_to(user).filter(customer_id=customer.pk).values("pk")
    changes = (
        StageChange.objects.filter(opportunity_id__in=visible)
        .select_related("stage", "opportunity", "entered_by")
        .order_by("-entered_at", "-id")[:TIMELINE_LIMIT]
    )
    for change in changes:
        yield TimelineItem(
            when=change.entered_at,
            title=_("Opportunity %(name)s: %(stage)s")
            % {"name": change.opportunity.name, "stage": change.stage.label},
            body=str(change.entered_by or ""),
            icon=ICONS.get(change.stage.kind, "kanban"),
            url=reverse("opportunities:detail", args=[change.opportunity_id]),
            kind="opportunity",
        )
