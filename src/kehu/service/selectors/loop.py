"""Reads for the service loop on the customer page and the dashboard (fixed query counts).

Scoped through the one gate: every figure counts only the tickets the user may open.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, F, Q, QuerySet
from django.utils import timezone

from kehu.service.models import OPEN_TICKET_STATUSES, Ticket, TicketStatus
from kehu.service.services import sla

OPEN_SHOWN = 10  # open tickets listed on the customer page
# "At risk" on the dashboard: due within this many minutes (the ticket list's ``sla=at_risk``)
AT_RISK_MINUTES = 60


@dataclass(frozen=True)
class OpenTicket:
    ticket: Ticket
    sla: sla.SlaStatus


@dataclass(frozen=True)
class CustomerService:
    open_tickets: list[OpenTicket]
    open_count: int
    satisfaction: float | None  # average score 1-5 of the answered surveys
    scored: int  # how many tickets carry a score


def customer_service(*, user: Any, customer: Any, now: datetime | None = None) -> CustomerService:
    """The customer's open tickets with their SLA state and the satisfaction average (2 queries)."""
    now = now or timezone.now()
    visible = Ticket.objects.visible_to(user).filter(customer_id=customer.pk)
    figures = visible.aggregate(
        open=Count("pk", filter=Q(status__in=OPEN_TICKET_STATUSES)),
        average=Avg("satisfaction"),
        scored=Count("satisfaction"),
    )
    rows: list[Ticket] = []
    if figures["open"]:
        rows = list(
            visible.filter(status__in=OPEN_TICKET_STATUSES)
            .select_related("assignee", "sla_policy")
            .order_by(F("resolution_due_at").asc(nulls_last=True), "id")[:OPEN_SHOWN]
        )
    average = figures["average"]
    return CustomerService(
        open_tickets=[OpenTicket(row, sla.sla_state(row, now=now)) for row in rows],
        open_count=figures["open"],
        satisfaction=round(float(average), 1) if average is not None else None,
        scored=figures["scored"],
    )


def overdue(now: datetime) -> Q:
    """Running and past the due time that counts now: the response's until the first
    response, the resolution's always (as the ticket list's ``sla=overdue`` filter)."""
    return Q(paused_at__isnull=True) & (
        Q(first_response_at__isnull=True, response_due_at__lt=now) | Q(resolution_due_at__lt=now)
    )


def at_risk(now: datetime) -> Q:
    """Running and due within ``AT_RISK_MINUTES`` (as the ticket list's ``sla=at_risk``)."""
    soon = now + timedelta(minutes=AT_RISK_MINUTES)
    return Q(paused_at__isnull=True) & (
        Q(first_response_at__isnull=True, response_due_at__gte=now, response_due_at__lte=soon)
        | Q(
            first_response_at__isnull=False, resolution_due_at__gte=now, resolution_due_at__lte=soon
        )
    )


@dataclass(frozen=True)
class AgentFigures:
    open: int
    at_risk: int
    breached: int
    waiting: int


def agent_figures(*, user: Any, now: datetime | None = None) -> AgentFigures:
    """The open tickets assigned to ``user``: how many, at risk of breach, breached (1 query)."""
    now = now or timezone.now()
    mine: QuerySet[Ticket] = Ticket.objects.visible_to(user).filter(
        assignee_id=user.pk, status__in=OPEN_TICKET_STATUSES
    )
    figures = mine.aggregate(
        open=Count("pk"),
        breached=Count("pk", filter=overdue(now)),
        at_risk=Count("pk", filter=at_risk(now)),
        waiting=Count("pk", filter=Q(status=TicketStatus.WAITING)),
    )
    return AgentFigures(**figures)


@dataclass(frozen=True)
class TeamAttainment:
    resolved: int
    resolution_met: int
    responded: int
    response_met: int
    open_breached: int

    @property
    def resolution_rate(self) -> float | None:
        return self.resolution_met / self.resolved if self.resolved else None

    @property
    def response_rate(self) -> float | None:
        return self.response_met / self.responded if self.responded else None


TEAM_FIELDS = ("resolved", "resolution_met", "responded", "response_met", "open_breached")


def month_start(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def team_attainment(*, user: Any, now: datetime | None = None) -> TeamAttainment:
    """SLA attainment of the tickets raised this month that ``user`` sees: of those
    resolved / answered, how many within their due times; and the open tickets (of any month)
    already past their resolution time.

    The month's tickets are found along ``ticket_raised`` and the open breached ones along
    ``ticket_due`` (status, resolution due), so the figure never reads the whole table; one
    query per part of the user's scope (``visible_parts``: at most three).
    """
    now = now or timezone.now()
    start = month_start(now)
    this_month = Q(raised_at__gte=start, raised_at__lte=now)
    resolved = this_month & Q(resolved_at__isnull=False)
    responded = this_month & Q(first_response_at__isnull=False)
    totals: Counter[str] = Counter()
    # the scope in its disjoint parts (departments, own, granted), each along its own index:
    # ORed together, the customers' departments of the managed-customers grant join every
    # customer to the month's tickets (a hash of the whole customer table)
    for part in Ticket.objects.visible_parts(user):
        figures = part.filter(
            this_month | Q(status__in=OPEN_TICKET_STATUSES, resolution_due_at__lt=now)
        ).aggregate(
            resolved=Count("pk", filter=resolved),
            resolution_met=Count(
                "pk",
                filter=resolved
                & (Q(resolution_due_at__isnull=True) | Q(resolved_at__lte=F("resolution_due_at"))),
            ),
            responded=Count("pk", filter=responded),
            response_met=Count(
                "pk",
                filter=responded
                & (
                    Q(response_due_at__isnull=True) | Q(first_response_at__lte=F("response_due_at"))
                ),
            ),
            open_breached=Count(
                "pk",
                filter=Q(
                    status__in=OPEN_TICKET_STATUSES,
                    paused_at__isnull=True,
                    resolution_due_at__lt=now,
                ),
            ),
        )
        totals.update({key: value or 0 for key, value in figures.items()})
    return TeamAttainment(**{field: totals[field] for field in TEAM_FIELDS})
