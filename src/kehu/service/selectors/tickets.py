"""Reads of tickets: the lists (mine / team / triage / all I see, with filters), one ticket,
its thread (with the messages of the duplicates merged into it) and events, and the ticket an
e-mail reply belongs to."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import timezone
from pydantic import ValidationError

from kehu.accounts.models import User
from kehu.core import custom_fields
from kehu.core.errors import NotFound
from kehu.core.filters import CustomFieldFilters, error_text
from kehu.core.numbers import whole_number
from kehu.service.models import (
    OPEN_TICKET_STATUSES,
    Ticket,
    TicketEvent,
    TicketMessage,
    TicketPriority,
    TicketStatus,
    TicketType,
)

TABS = ("all", "mine", "team", "triage")
SLA_FILTERS = ("overdue", "at_risk")
AT_RISK_MINUTES = 60
NUMBER_RE = re.compile(r"\[(T\d{10,})\]")
MAX_Q = 100


class TicketCustomFilters(CustomFieldFilters):
    """The custom-field filters (``cf``) and columns (``columns``) of the ticket list."""

    custom_kind = "ticket"


def _custom_filters(params: Mapping[str, Any]) -> tuple[TicketCustomFilters, str]:
    """The custom filters of a query string, and the message of a bad one ("" if none; the
    list then shows every ticket, as for the other filters' unknown values)."""
    names = [key for key in params if key in ("cf", "columns") or str(key).startswith("cf_")]
    if isinstance(params, QueryDict):
        query: Mapping[str, Any] = {name: params.getlist(name) for name in names}
    else:
        query = {name: params[name] for name in names}
    try:
        return TicketCustomFilters.from_querydict(query), ""
    except ValidationError as error:
        return TicketCustomFilters(), "; ".join(error_text(item) for item in error.errors())


@dataclass(frozen=True)
class TicketFilters:
    tab: str = "all"
    status: str = ""
    priority: str = ""
    ticket_type: str = ""
    sla: str = ""
    q: str = ""
    customer_id: int | None = None
    assignee_id: int | None = None
    open_only: bool = False
    custom: TicketCustomFilters = field(default_factory=TicketCustomFilters)
    custom_error: str = ""

    @property
    def columns(self) -> list[str]:
        """The custom fields shown as list columns (as the other lists' ``columns``)."""
        return self.custom.columns

    @classmethod
    def parse(cls, params: Mapping[str, Any]) -> TicketFilters:
        """Filters from a query string; unknown values are ignored (the whole list)."""

        def pick(name: str, allowed: Any) -> str:
            value = str(params.get(name) or "").strip()
            return value if value in allowed else ""

        status = str(params.get("status") or "").strip()
        custom, custom_error = _custom_filters(params)
        return cls(
            custom=custom,
            custom_error=custom_error,
            tab=pick("tab", TABS) or "all",
            status=status if status in (*TicketStatus.values, "open") else "",
            priority=pick("priority", TicketPriority.values),
            ticket_type=pick("type", TicketType.values),
            sla=pick("sla", SLA_FILTERS),
            q=str(params.get("q") or "").strip()[:MAX_Q],
            customer_id=whole_number(params.get("customer") or ""),
            assignee_id=whole_number(params.get("assignee") or ""),
        )


def _tab_rows(user: User, tab: str) -> QuerySet[Ticket]:
    visible = Ticket.objects.visible_to(user)
    if tab == "mine":
        return Ticket.objects.own_of(user)
    if tab == "team":
        department = getattr(user, "department_id", None)
        return visible.filter(department_id=department) if department else Ticket.objects.none()
    if tab == "triage":
        return visible.filter(customer__isnull=True)
    return visible


def sla_overdue(now: datetime) -> Q:
    """Open, not paused, and past the due time that counts now (response, then resolution)."""
    return Q(status__in=OPEN_TICKET_STATUSES, paused_at__isnull=True) & (
        Q(first_response_at__isnull=True, response_due_at__lt=now) | Q(resolution_due_at__lt=now)
    )


def sla_at_risk(now: datetime) -> Q:
    soon = now + timedelta(minutes=AT_RISK_MINUTES)
    return Q(status__in=OPEN_TICKET_STATUSES, paused_at__isnull=True) & (
        Q(first_response_at__isnull=True, response_due_at__gte=now, response_due_at__lte=soon)
        | Q(
            first_response_at__isnull=False,
            resolution_due_at__gte=now,
            resolution_due_at__lte=soon,
        )
    )


def ticket_list(
    *, user: User, filters: TicketFilters | None = None, now: datetime | None = None
) -> QuerySet[Ticket]:
    """The tickets ``user`` sees, newest first, filtered; rows carry customer and assignee."""
    filters = filters or TicketFilters()
    now = now or timezone.now()
    rows = filters.custom.apply_custom(_tab_rows(user, filters.tab), user)
    if filters.status == "open" or filters.open_only:
        rows = rows.filter(status__in=OPEN_TICKET_STATUSES)
    elif filters.status:
        rows = rows.filter(status=filters.status)
    if filters.priority:
        rows = rows.filter(priority=filters.priority)
    if filters.ticket_type:
        rows = rows.filter(ticket_type=filters.ticket_type)
    if filters.sla == "overdue":
        rows = rows.filter(sla_overdue(now))
    elif filters.sla == "at_risk":
        rows = rows.filter(sla_at_risk(now))
    if filters.customer_id is not None:
        rows = rows.filter(customer_id=filters.customer_id)
    if filters.assignee_id is not None:
        rows = rows.filter(assignee_id=filters.assignee_id)
    if filters.q:
        term = filters.q
        match = Q(subject__icontains=term) | Q(requester_email__icontains=term)
        custom = custom_fields.search_q(TicketCustomFilters.custom_kind, user, term)
        if custom is not None:
            match |= custom
        if term.upper().startswith("T") and term[1:].isdigit():
            match |= Q(number=term.upper())
        rows = rows.filter(match)
    return rows.select_related("customer", "assignee", "sla_policy").order_by("-id")


def ticket_get(*, user: User, ticket_id: int) -> Ticket:
    """One ticket ``user`` sees (``NotFound`` otherwise, so its existence does not leak)."""
    found = (
        Ticket.objects.visible_to(user)
        .select_related(
            "customer", "contact", "assignee", "department", "sla_policy", "merged_into"
        )
        .filter(pk=ticket_id)
        .first()
    )
    if found is None:
        raise NotFound("ticket")
    return found


def ticket_messages(ticket: Ticket) -> QuerySet[TicketMessage]:
    """The thread: the ticket's messages and those of the duplicates merged into it.

    The duplicates' ids are read first and listed: ORed across the join to tickets, the
    filter made PostgreSQL scan every message (370 ms for a thread at size L, bench/RESULTS.md).
    """
    merged = list(Ticket.objects.filter(merged_into=ticket).values_list("pk", flat=True))
    return (
        TicketMessage.objects.filter(ticket_id__in=[ticket.pk, *merged])
        .select_related("author", "ticket")
        .order_by("created_at", "id")
    )


def ticket_events(ticket: Ticket) -> QuerySet[TicketEvent]:
    return TicketEvent.objects.filter(ticket=ticket).select_related("actor").order_by("at", "id")


def merged_tickets(ticket: Ticket) -> QuerySet[Ticket]:
    return Ticket.objects.filter(merged_into=ticket).order_by("id")


def _message_ids(values: list[str]) -> list[str]:
    found: list[str] = []
    for value in values:
        for token in re.findall(r"<[^<>\s]+>|[^<>\s]+", value or ""):
            bare = token.strip("<>")
            if bare:
                found.extend([f"<{bare}>", bare])
    return found


def _follow_merges(ticket: Ticket) -> Ticket:
    seen = {ticket.pk}
    while ticket.merged_into_id is not None and ticket.merged_into_id not in seen:
        seen.add(ticket.merged_into_id)
        target = Ticket.objects.filter(pk=ticket.merged_into_id).first()
        if target is None:
            break
        ticket = target
    return ticket


def ticket_for_email(*, in_reply_to: str, references: list[str], subject: str) -> Ticket | None:
    """The ticket an e-mail answers: a Message-ID of its thread (In-Reply-To, then the
    References from the newest), else the "[T…]" number in the subject; a merged duplicate
    leads to the ticket it was merged into."""
    ids = _message_ids([in_reply_to, *reversed(references)])
    if ids:
        rows = dict(
            TicketMessage.objects.filter(email_message_id__in=ids).values_list(
                "email_message_id", "ticket_id"
            )
        )
        for message_id in ids:
            if message_id in rows:
                ticket = Ticket.objects.filter(pk=rows[message_id]).first()
                if ticket is not None:
                    return _follow_merges(ticket)
    match = NUMBER_RE.search(subject or "")
    if match:
        ticket = Ticket.objects.filter(number=match.group(1)).first()
        if ticket is not None:
            return _follow_merges(ticket)
    return None
