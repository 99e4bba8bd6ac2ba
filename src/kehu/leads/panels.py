"""The leads dashboard panel: overdue leads (异常预警) and what awaits the user."""

from __future__ import annotations

from django.http import HttpRequest

from kehu.core.dashboard import Panel
from kehu.leads import selectors
from kehu.leads.models import LeadStatus


def leads_panel(request: HttpRequest) -> Panel | None:
    user = request.user
    if not user.is_authenticated or getattr(user, "role", "") == "service":
        return None
    overdue = selectors.overdue_leads(user=user, limit=8)
    mine = selectors.lead_list(user=user, filters=selectors.LeadFilters(view="mine"))
    context = {
        "overdue": overdue,
        "awaiting": mine.filter(status=LeadStatus.ASSIGNED).count(),
        "open_mine": mine.count(),
    }
    return Panel(template="leads/panel.html", context=context, order=30)
