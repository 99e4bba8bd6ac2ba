"""The service loop on the customer timeline (``kehu.customers.timeline``): tickets, the
replies exchanged with the customer and the satisfaction scores. (The handovers' entries are
the handovers area's: ``selectors.handovers.customer_handover_items``.)

Each provider is one query, scoped through the one gate (``visible_to``): a viewer sees the
handovers and tickets they may open, and the messages and surveys of those tickets only.
Internal notes never appear on the customer's timeline.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.urls import reverse
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from kehu.customers.timeline import TimelineItem
from kehu.service.models import (
    MessageKind,
    Survey,
    Ticket,
    TicketMessage,
)

TIMELINE_LIMIT = 50
BODY_CHARS = 300


def object_url(name: str, pk: int) -> str:
    """The page of a handover or ticket."""
    return reverse(name, args=[pk])


def _visible_tickets(customer: Any, user: Any) -> Any:
    return Ticket.objects.visible_to(user).filter(customer_id=customer.pk)


def ticket_items(customer: Any, user: Any) -> Iterable[TimelineItem]:
    """A ticket raised, and resolved or closed."""
    tickets = (
        _visible_tickets(customer, user)
        .select_related("assignee")
        .order_by("-raised_at", "-id")[:TIMELINE_LIMIT]
    )
    for ticket in tickets:
        url = object_url("service:ticket_detail", ticket.pk)
        yield TimelineItem(
            when=ticket.raised_at,
            title=_("Ticket %(number)s raised: %(subject)s")
            % {"number": ticket.number, "subject": ticket.subject},
            body=" · ".join(
                str(part)
                for part in (
                    ticket.get_ticket_type_display(),
                    ticket.get_priority_display(),
                    ticket.assignee or "",
                )
                if part
            ),
            icon="life-preserver",
            url=url,
            kind="ticket",
        )
        if ticket.resolved_at is not None:
            yield TimelineItem(
                when=ticket.resolved_at,
                title=_("Ticket %(number)s resolved") % {"number": ticket.number},
                body=str(ticket.assignee or ""),
                icon="check-circle",
                url=url,
                kind="ticket",
            )
        if ticket.closed_at is not None:
            yield TimelineItem(
                when=ticket.closed_at,
                title=_("Ticket %(number)s closed") % {"number": ticket.number},
                icon="archive",
                url=url,
                kind="ticket",
            )


def message_items(customer: Any, user: Any) -> Iterable[TimelineItem]:
    """Replies sent to the customer and the customer's own messages (never internal notes)."""
    messages = (
        TicketMessage.objects.filter(
            ticket__in=_visible_tickets(customer, user).values("pk"),
            kind__in=(MessageKind.REPLY, MessageKind.INBOUND),
        )
        .select_related("ticket", "author")
        .order_by("-created_at", "-id")[:TIMELINE_LIMIT]
    )
    for message in messages:
        number = message.ticket.number
        if message.kind == MessageKind.REPLY:
            title = _("Reply on ticket %(number)s by %(author)s") % {
                "number": number,
                "author": message.author or _("system"),
            }
            icon = "reply"
        else:
            title = _("Message from %(sender)s on ticket %(number)s") % {
                "number": number,
                "sender": message.sender or _("the customer"),
            }
            icon = "envelope-open"
        yield TimelineItem(
            when=message.created_at,
            title=title,
            body=Truncator(message.body).chars(BODY_CHARS),
            icon=icon,
            url=object_url("service:ticket_detail", message.ticket_id),
            kind="ticket_message",
        )


def survey_items(customer: Any, user: Any) -> Iterable[TimelineItem]:
    """Satisfaction surveys the customer answered."""
    surveys = (
        Survey.objects.filter(
            ticket__in=_visible_tickets(customer, user).values("pk"), answered_at__isnull=False
        )
        .select_related("ticket")
        .order_by("-answered_at", "-id")[:TIMELINE_LIMIT]
    )
    for survey in surveys:
        assert survey.answered_at is not None
        yield TimelineItem(
            when=survey.answered_at,
            title=_("Satisfaction %(score)s/5 on ticket %(number)s")
            % {"score": survey.score, "number": survey.ticket.number},
            body=Truncator(survey.comment).chars(BODY_CHARS),
            icon="star",
            url=object_url("service:ticket_detail", survey.ticket_id),
            kind="survey",
        )


PROVIDERS = (ticket_items, message_items, survey_items)


def register() -> None:
    from kehu.customers import timeline

    for provider in PROVIDERS:
        timeline.register(provider)
