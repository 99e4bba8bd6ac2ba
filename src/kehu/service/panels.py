"""The service loop on the dashboard and on the customer page.

- a service user's panel: their open tickets, those at risk of breaching the SLA, breached;
- a manager's (and an administrator's) panel: the team's SLA attainment this month;
- the customer page's "Service" section: open tickets with their SLA state and the
  satisfaction average (``kehu.customers.sections``, loaded when it comes into view).
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kehu.core.access import is_admin
from kehu.core.dashboard import Panel
from kehu.customers.sections import Section
from kehu.service.selectors import loop
from kehu.service.services.tickets import may_create as ticket_may_create
from kehu.service.timeline import object_url

TEAM_TTL = 300  # seconds: the attainment panel's figures move slowly and say how old they are
SECTION_ROLES = frozenset({"admin", "manager", "sales", "service"})


TICKET_LIST = "service:tickets"  # the ticket list page (its filters: the API's)


def _agent_links() -> dict[str, str]:
    """The ticket list behind each figure of the agent's panel."""
    mine = f"{reverse(TICKET_LIST)}?tab=mine"
    return {
        "list_url": f"{mine}&status=open",
        "at_risk_url": f"{mine}&sla=at_risk",
        "breached_url": f"{mine}&sla=overdue",
        "waiting_url": f"{mine}&status=waiting",
    }


def agent_panel(request: HttpRequest) -> Panel | None:
    user: Any = request.user
    if not user.is_authenticated or getattr(user, "role", "") != "service":
        return None
    return Panel(
        template="service/loop/_agent_panel.html",
        context={"figures": loop.agent_figures(user=user), **_agent_links()},
        order=15,
    )


def team_panel(request: HttpRequest) -> Panel | None:
    user: Any = request.user
    if not user.is_authenticated:
        return None
    if getattr(user, "role", "") != "manager" and not is_admin(user):
        return None
    key = f"service:team_panel:{user.pk}"
    figures = cache.get(key)
    if figures is None:
        figures = loop.team_attainment(user=user)
        cache.set(key, figures, TEAM_TTL)
    return Panel(
        template="service/loop/_team_panel.html",
        context={
            "figures": figures,
            "resolution_percent": _percent(figures.resolution_rate),
            "response_percent": _percent(figures.response_rate),
            "cache_minutes": TEAM_TTL // 60,
            "reports_url": reverse("service:reports"),
        },
        order=25,
    )


def _percent(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 1)


def customer_section(customer: Any, user: Any) -> dict[str, Any] | None:
    summary = loop.customer_service(user=user, customer=customer)
    may_create = ticket_may_create(user)
    if not summary.open_count and not summary.scored and not may_create:
        return None
    rows = [
        {
            "ticket": row.ticket,
            "sla": row.sla,
            "url": object_url("service:ticket_detail", row.ticket.pk),
        }
        for row in summary.open_tickets
    ]
    list_url = f"{reverse(TICKET_LIST)}?customer={customer.pk}"
    new_url = f"{reverse('service:ticket_new')}?customer={customer.pk}" if may_create else ""
    return {"service": summary, "rows": rows, "list_url": list_url, "new_url": new_url}


SERVICE_SECTION = Section(
    key="service",
    title=_("After-sales service"),
    template="service/loop/_customer_section.html",
    context=customer_section,
    shown=lambda user: getattr(user, "role", "") in SECTION_ROLES or is_admin(user),
    order=10,
)


def register() -> None:
    from kehu.core import dashboard
    from kehu.customers import sections

    dashboard.register(agent_panel)
    dashboard.register(team_panel)
    sections.register(SERVICE_SECTION)
